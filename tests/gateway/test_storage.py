"""The storage interface on a local folder and on a real S3 server (SeaweedFS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gep.gateway.storage import Storage, StorageConfig, StorageError, check_key


def test_round_trip_range_and_delete(storage_config: StorageConfig, tmp_path: Path) -> None:
    storage = Storage(storage_config)
    storage.ensure()
    src = tmp_path / "in.bin"
    payload = bytes(range(256)) * 4096  # 1 MiB
    src.write_bytes(payload)
    href = storage.put_file(src, "jobs/j1/outputs/a.bin")
    assert src.exists()  # copied, not moved
    assert storage.key_of(href) == "jobs/j1/outputs/a.bin"
    info = storage.info("jobs/j1/outputs/a.bin")
    assert info.size == len(payload)
    assert info.etag.startswith('"') and info.etag.endswith('"')
    assert storage.read_range("jobs/j1/outputs/a.bin", 1000, 1016) == payload[1000:1016]
    storage.put_bytes(b"hello", "jobs/j1/outputs/sub/b.txt")
    assert sorted(storage.walk("jobs/j1")) == ["jobs/j1/outputs/a.bin", "jobs/j1/outputs/sub/b.txt"]
    assert storage.size_of("jobs/j1") == len(payload) + 5
    copy = storage.get_file("jobs/j1/outputs/sub/b.txt", tmp_path / "out" / "b.txt")
    assert copy.read_bytes() == b"hello"
    # nothing is left under a temporary name
    assert not [k for k in storage.walk("tmp")]
    assert storage.delete_prefix("jobs/j1") == 2
    assert not storage.exists("jobs/j1/outputs/a.bin")
    with pytest.raises(FileNotFoundError):
        storage.info("jobs/j1/outputs/a.bin")


def test_overwrite_is_atomic_and_replaces(storage_config: StorageConfig, tmp_path: Path) -> None:
    storage = Storage(storage_config)
    storage.ensure()
    storage.put_bytes(b"first", "k/x")
    storage.put_bytes(b"second!", "k/x")
    assert storage.read_range("k/x", 0, 100) == b"second!"
    assert list(storage.walk("k")) == ["k/x"]


def test_a_failed_write_leaves_no_final_name(storage_config: StorageConfig, tmp_path: Path) -> None:
    storage = Storage(storage_config)
    storage.ensure()
    with pytest.raises(OSError):
        storage.put_file(tmp_path / "missing.tif", "jobs/j2/outputs/missing.tif")
    assert not storage.exists("jobs/j2/outputs/missing.tif")
    assert not list(storage.walk("jobs/j2"))


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "a\\b", ".."])
def test_keys_are_plain_relative_paths(key: str) -> None:
    with pytest.raises(StorageError):
        check_key(key)


def test_hrefs_outside_the_storage_are_not_keys(tmp_path: Path) -> None:
    local = Storage.from_url((tmp_path / "st").as_uri())
    (tmp_path / "st").mkdir()
    assert local.key_of((tmp_path / "st" / "a" / "b.tif").as_uri()) == "a/b.tif"
    assert local.key_of(str(tmp_path / "st" / "a.tif")) == "a.tif"
    assert local.key_of((tmp_path / "other.tif").as_uri()) is None
    assert local.key_of((tmp_path / "st" / ".." / "x").as_uri()) is None
    assert local.key_of("https://example.org/a.tif") is None
    s3 = Storage.from_url("s3://bucket/prefix")
    assert s3.href("a/b.tif") == "s3://bucket/prefix/a/b.tif"
    assert s3.key_of("s3://bucket/prefix/a/b.tif") == "a/b.tif"
    assert s3.key_of("s3://bucket/prefixed/a.tif") is None
    assert s3.key_of("s3://other/prefix/a.tif") is None
    assert s3.key_of("s3://bucket/prefix/../x") is None
    with pytest.raises(StorageError):
        Storage.from_url("ftp://host/x")


def test_stream_range_is_one_read_in_pieces(storage_config: StorageConfig, tmp_path: Path) -> None:
    storage = Storage(storage_config)
    storage.ensure()
    payload = bytes(range(256)) * 8192  # 2 MiB
    storage.put_bytes(payload, "s/x.bin")
    pieces = list(storage.stream_range("s/x.bin", 100, 1_500_100, 512 * 1024))
    assert b"".join(pieces) == payload[100:1_500_100]
    assert all(len(p) <= 512 * 1024 for p in pieces)
    assert list(storage.stream_range("s/x.bin", 10, 10, 1024)) == []
    # a rewritten object is seen at once (the size/ETag cache forgets what this storage wrote)
    before = storage.info("s/x.bin")
    storage.put_bytes(b"short", "s/x.bin")
    after = storage.info("s/x.bin")
    assert (before.size, after.size) == (len(payload), 5)
    storage.delete("s/x.bin")
    with pytest.raises(FileNotFoundError):
        storage.info("s/x.bin")

"""The gateway's rules, one by one, on real files and a real HTTP server on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gep.core.access import SYSTEM, Viewer
from gep.gateway.config import GatewayConfig, HrefRefused
from gep.gateway.http_fetch import download
from gep.gateway.resolver import Gateway
from gep.io.hrefs import HrefKind, blocked_address, host_allowed, parse_href
from tests.support.http_files import FileServer

ALICE = Viewer(user_id="alice", name="alice")
BOB = Viewer(user_id="bob", name="bob")


@pytest.fixture
def world(tmp_path: Path) -> tuple[Gateway, Path, Path, Path]:
    home = tmp_path / "home"
    storage, data = home / "storage", tmp_path / "data"
    (storage / "jobs" / "job-a" / "outputs").mkdir(parents=True)
    (storage / "quicklooks").mkdir()
    (storage / "demo").mkdir()
    data.mkdir()
    (storage / "jobs" / "job-a" / "outputs" / "r.tif").write_bytes(b"alice's result")
    (storage / "demo" / "d.tif").write_bytes(b"demo")
    (storage / "quicklooks" / "q.png").write_bytes(b"cache")
    (data / "scene.tif").write_bytes(b"mirror")
    (home / "gep.db").write_bytes(b"users and password hashes")
    (data / "escape").symlink_to("/etc")
    (data / "db-link").symlink_to(home / "gep.db")
    (storage / "demo" / "to-job").symlink_to(storage / "jobs" / "job-a" / "outputs" / "r.tif")
    config = GatewayConfig(storage_root=storage, data_roots=(data,), denied=(home / "gep.db",))
    gateway = Gateway(config, job_visible=lambda job, viewer: viewer.user_id == "alice")
    return gateway, storage, data, home


def test_hrefs_are_parsed_once_for_every_reader() -> None:
    assert parse_href("file:///x/y%20z.tif").path == "/x/y z.tif"
    assert parse_href("FILE:///x").kind is HrefKind.LOCAL
    assert parse_href("file://localhost/x").path == "/x"
    assert parse_href("file://elsewhere/x").kind is HrefKind.OTHER
    assert parse_href("/vsicurl/http://127.0.0.1/x").kind is HrefKind.OTHER
    assert parse_href("https://example.org/a.tif").kind is HrefKind.HTTP
    assert parse_href("s3://bucket/key").kind is HrefKind.OTHER
    assert parse_href("relative/a.tif").kind is HrefKind.OTHER


def test_local_files_are_read_only_inside_the_roots(
    world: tuple[Gateway, Path, Path, Path],
) -> None:
    gateway, storage, data, home = world
    assert gateway.local_file((data / "scene.tif").as_uri(), BOB) == data / "scene.tif"
    assert gateway.local_file(str(storage / "demo" / "d.tif"), BOB).read_bytes() == b"demo"
    refused = [
        "file:///etc/passwd",
        str(home / "gep.db"),  # the database, outside storage
        str(data / "db-link"),  # a symlink to it from a data root
        str(data / "escape" / "passwd"),  # a symlink out of a data root
        f"{storage}/demo/../../gep.db",  # '..'
        f"{data}/../data/scene.tif",  # '..' even when it would land inside
        str(storage),  # the storage root itself
        str(storage / "jobs"),
        str(storage / "quicklooks" / "q.png"),  # the server's cache
        str(data / "missing.tif"),  # does not exist: the same refusal
        "/vsicurl/http://127.0.0.1:1/x",
    ]
    messages = set()
    for href in refused:
        with pytest.raises(HrefRefused) as exc:
            gateway.local_file(href, SYSTEM, field="f")
        messages.add(exc.value.message.replace(href[:200], "HREF"))
    # the answer is one text whatever the reason: nothing tells whether a path exists
    assert len(messages) == 1, messages


def test_a_job_folder_is_read_as_the_job_is_visible(
    world: tuple[Gateway, Path, Path, Path],
) -> None:
    gateway, storage, _, _ = world
    result = str(storage / "jobs" / "job-a" / "outputs" / "r.tif")
    assert gateway.local_file(result, ALICE).read_bytes() == b"alice's result"
    with pytest.raises(HrefRefused):
        gateway.local_file(result, BOB)
    with pytest.raises(HrefRefused):  # a symlink elsewhere in storage does not help
        gateway.local_file(str(storage / "demo" / "to-job"), BOB)
    assert gateway.local_file(str(storage / "demo" / "to-job"), ALICE).exists()


def test_item_writes_may_name_only_own_jobs_files(world: tuple[Gateway, Path, Path, Path]) -> None:
    gateway, storage, data, _ = world
    own = {"job-a"}.__contains__
    mine = {"assets": {"a": {"href": str(storage / "jobs" / "job-a" / "outputs" / "r.tif")}}}
    gateway.check_item_hrefs(mine, ALICE, own)
    gateway.check_item_hrefs({"assets": {"a": {"href": "https://example.org/a.tif"}}}, BOB, own)
    for href in (
        (data / "scene.tif").as_uri(),
        "file:///etc/passwd",
        "/vsicurl/http://127.0.0.1/x",
        "FILE:///etc/passwd",
        "file://otherhost/etc/passwd",
    ):
        with pytest.raises(HrefRefused) as exc:
            gateway.check_item_hrefs({"assets": {"a": {"href": href}}}, BOB, lambda _: False)
        assert exc.value.field == "item.assets.a.href"
    alternate = {"assets": {"a": {"href": "https://x.org/a", "alternate": {"l": {"href": "/etc"}}}}}
    with pytest.raises(HrefRefused) as exc:
        gateway.check_item_hrefs(alternate, BOB, lambda _: False)
    assert exc.value.field == "item.assets.a.alternate.l.href"
    gateway.check_item_hrefs({"assets": {"a": {"href": "/etc/passwd"}}}, SYSTEM, lambda _: False)


def test_addresses_and_allow_patterns() -> None:
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "0.0.0.0",
                    "::ffff:127.0.0.1", "fe80::1"):  # fmt: skip
        assert blocked_address(address) is not None, address
    assert blocked_address("8.8.8.8") is None
    assert host_allowed("127.0.0.1", 8080, ("127.0.0.1:8080",))
    assert not host_allowed("127.0.0.1", 8081, ("127.0.0.1:8080",))
    assert host_allowed("replay.local", 80, ("*.local",))
    assert host_allowed("::1", 9000, ("[::1]:9000",))
    assert not host_allowed("example.org", 80, ())


def test_downloads_are_checked_at_every_hop_and_bounded(tmp_path: Path) -> None:
    tif = tmp_path / "a.tif"
    tif.write_bytes(os.urandom(5000))
    with FileServer() as allowed, FileServer() as other:
        url = allowed.add("a.tif", tif)
        other.add("a.tif", tif)
        config = GatewayConfig(
            storage_root=tmp_path / "s",
            fetch_allow=(f"127.0.0.1:{allowed.port}",),
            max_bytes=10_000,
        )
        assert download(url, tmp_path, config).read_bytes() == tif.read_bytes()
        with pytest.raises(HrefRefused, match="loopback"):  # not allowed: never contacted
            download(f"{other.url}/a.tif", tmp_path, config)
        assert other.hits == []
        with pytest.raises(HrefRefused, match="loopback"):  # allowed host → loopback
            download(f"{allowed.url}/redirect?to={other.url}/a.tif", tmp_path, config)
        assert other.hits == []
        with pytest.raises(HrefRefused, match="GEP_FETCH_MAX_BYTES"):
            download(f"{allowed.url}/huge.tif", tmp_path, config)
        with pytest.raises(HrefRefused, match="GEP_FETCH_MAX_BYTES"):  # no length, cut off
            download(f"{allowed.url}/endless.tif", tmp_path, config)
        with pytest.raises(HrefRefused, match="HTTP 404"):
            download(f"{allowed.url}/nothing.tif", tmp_path, config)
        assert not list((tmp_path / "downloads").glob("*endless*"))  # nothing half-written kept

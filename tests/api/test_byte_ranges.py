"""The byte-range and conditional-request rules of the asset route, on header text alone."""

from __future__ import annotations

import pytest

from gep.api.byte_ranges import (
    ByteRange,
    RangeNotSatisfiable,
    etag_matches,
    file_etag,
    http_date,
    not_modified_since,
    range_applies,
    select_range,
)

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 100)),
        ("bytes=100-", (100, 1000)),
        ("bytes=-10", (990, 1000)),
        ("bytes=-5000", (0, 1000)),  # a suffix longer than the file: all of it
        ("bytes=900-5000", (900, 1000)),  # a last byte past the end: up to the end
        ("bytes=999-999", (999, 1000)),
        ("Bytes = 5 - 9", (5, 10)),
    ],
)
def test_one_range_is_a_slice(header: str, expected: tuple[int, int]) -> None:
    wanted = select_range(header, SIZE)
    assert wanted == ByteRange(*expected, SIZE)
    assert wanted.content_range == f"bytes {expected[0]}-{expected[1] - 1}/{SIZE}"
    assert wanted.length == expected[1] - expected[0]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes=",
        "bytes=-",
        "bytes=9-3",  # last before first: invalid, ignored
        "items=0-9",  # another unit
        "bytes=a-b",
        "bytes=0-9,20-29",  # several ranges: the whole file, no multipart answer
        "bytes=0-9, 5000-",
        "bytes=1-2-3",
    ],
)
def test_no_usable_range_means_the_whole_file(header: str | None) -> None:
    assert select_range(header, SIZE) is None


@pytest.mark.parametrize(("header", "size"), [("bytes=1000-", 1000), ("bytes=5000-6000", 1000),
                                             ("bytes=-0", 1000), ("bytes=-5", 0),
                                             ("bytes=0-", 0)])  # fmt: skip
def test_a_range_past_the_end_is_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        select_range(header, size)
    assert caught.value.content_range == f"bytes */{size}"


def test_etags_follow_size_and_time() -> None:
    tag = file_etag(10, 1_700_000_000_000_000_000)
    assert tag.startswith('"') and tag.endswith('"')
    assert tag == file_etag(10, 1_700_000_000_000_000_000)
    assert tag != file_etag(11, 1_700_000_000_000_000_000)
    assert tag != file_etag(10, 1_700_000_000_000_000_001)
    assert etag_matches(tag, tag)
    assert etag_matches(f'"other", W/{tag}', tag)  # weak comparison for If-None-Match
    assert etag_matches("*", tag)
    assert not etag_matches('"other"', tag)
    assert not etag_matches(None, tag)


def test_dates() -> None:
    mtime = 1_700_000_000.7
    stamp = http_date(mtime)
    assert stamp == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert not_modified_since(stamp, mtime)  # an HTTP date has whole seconds
    assert not not_modified_since(http_date(mtime - 1), mtime)
    assert not not_modified_since("yesterday", mtime)
    assert not not_modified_since(None, mtime)


def test_if_range() -> None:
    mtime, tag = 1_700_000_000.0, file_etag(10, 1)
    assert range_applies(None, tag, mtime)
    assert range_applies(tag, tag, mtime)
    assert not range_applies('"other"', tag, mtime)
    assert not range_applies(f"W/{tag}", tag, mtime)  # strong comparison here
    assert range_applies(http_date(mtime), tag, mtime)
    assert not range_applies(http_date(mtime - 60), tag, mtime)
    assert not range_applies("garbage", tag, mtime)

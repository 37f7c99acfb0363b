"""Multi-source retrieval against real servers on loopback (two HTTP mirrors, a SeaweedFS S3
bucket, a local data root): the order sources are tried in, retries with backoff, failover on
HTTP errors, timeouts, wrong checksums and HTML pages, credentials that reach only their
mirror and never a log, host checks on every source, and garbage that never lands in the
cache."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gep.catalog.store import CatalogStore
from gep.core.access import SYSTEM
from gep.core.errors import InvalidInput
from gep.gateway.cache import Cache
from gep.gateway.checksums import UnverifiableChecksum, expected_of, parse_multihash
from gep.gateway.config import GatewayConfig
from gep.gateway.mirrors import Mirror, MirrorKind, MirrorStore, check_mirror, mirror_from_body
from gep.gateway.resolver import Gateway
from gep.gateway.retrieve import AssetRequest, RetrievalFailed, Retriever, SourceRole
from tests.support.replay_server import ReplayServer
from tests.support.s3 import CREDENTIALS, S3Server

PRODUCT = os.urandom(50_000)
SHA256 = "1220" + hashlib.sha256(PRODUCT).hexdigest()
MD5 = "d50110" + hashlib.md5(PRODUCT).hexdigest()
SECRET = "tok-" + os.urandom(8).hex()
ARCHIVE = "https://archive.invalid/products"


@dataclass
class World:
    store: CatalogStore
    tmp: Path
    good: ReplayServer
    bad: ReplayServer
    sleeps: list[float] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)
    environ: dict[str, str] = field(default_factory=lambda: {"GEP_MIRROR_TOKEN": SECRET})

    def config(self, **kw: Any) -> GatewayConfig:
        base: dict[str, Any] = {
            "storage_root": self.tmp / "storage",
            "data_roots": (self.tmp / "data",),
            "fetch_allow": ("127.0.0.1",),
            "timeout_s": 0.5,
            "fetch_attempts": 2,
            "fetch_backoff_s": 0.01,
        }
        return GatewayConfig(**{**base, **kw})

    def retriever(self, **kw: Any) -> Retriever:
        config = self.config(**kw)
        return Retriever(
            Gateway(config),
            Cache(self.store.engine, config),
            MirrorStore(self.store.engine),
            environ=self.environ,
            sleep=self.sleeps.append,
        )

    def mirror(self, name: str, url: str, priority: int, **body: Any) -> Mirror:
        doc = {"kind": "http", "url": url, "collections": ["c"], "priority": priority, **body}
        mirror = check_mirror(mirror_from_body(name, doc), self.config())
        MirrorStore(self.store.engine).put(mirror)
        return mirror

    def log(self, level: str, message: str) -> None:
        self.lines.append((level, message))

    @property
    def text(self) -> str:
        return "\n".join(m for _, m in self.lines)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ReplayServer, ReplayServer]]:
    """Two HTTP servers on loopback (stopping one takes half a second: once per module)."""
    with ReplayServer() as good, ReplayServer() as bad:
        yield good, bad


@pytest.fixture
def world(store: CatalogStore, tmp_path: Path, servers: tuple[ReplayServer, ReplayServer]) -> World:
    (tmp_path / "data").mkdir()
    for server in servers:  # what the previous test taught them
        server.routes.clear()
        server.faults.clear()
        server.requests.clear()
    return World(store, tmp_path, *servers)


def _asset(name: str, **extra: Any) -> AssetRequest:
    asset = {"href": f"{ARCHIVE}/{name}", "type": "image/tiff", "roles": ["data"], **extra}
    return AssetRequest("c", name.split(".")[0], "data", asset)


def _serve_good(w: World, name: str) -> None:
    w.good.add(
        "GET",
        f"/m/{name}",
        PRODUCT,
        "image/tiff",
        match=lambda r: r.headers.get("authorization") == f"Bearer {SECRET}",
    )
    w.good.add("GET", f"/m/{name}", b"who are you?", "text/plain", status=401)


def _cache_files(w: World) -> list[Path]:
    folder = w.tmp / "storage" / "cache"
    return [p for p in folder.rglob("*") if p.is_file() and ".locks" not in p.parts]


def _two_mirrors(w: World) -> None:
    w.mirror("bad", f"{w.bad.url}/m", 1)
    w.mirror("good", f"{w.good.url}/m", 2, credentials={"token_env": "GEP_MIRROR_TOKEN"})


@pytest.mark.parametrize("fault", ["http-500", "timeout", "wrong-checksum"])
def test_failover_to_the_next_mirror(world: World, fault: str) -> None:
    w = world
    _two_mirrors(w)
    _serve_good(w, "p.tif")
    if fault == "http-500":
        w.bad.fail("/m/p.tif", times=10, status=500)
    elif fault == "timeout":
        w.bad.fail("/m/p.tif", times=10, status=0, delay_s=1.5)
        w.bad.add("GET", "/m/p.tif", PRODUCT, "image/tiff")
    else:
        w.bad.add("GET", "/m/p.tif", PRODUCT[::-1], "image/tiff")
    got = w.retriever().retrieve(_asset("p.tif", **{"file:checksum": SHA256}), SYSTEM, w.log)
    assert got.path.read_bytes() == PRODUCT
    assert got.source.startswith("mirror good (") and not got.cache_hit
    why = {"http-500": "HTTP 500", "timeout": "ReadTimeout", "wrong-checksum": "wrong checksum"}
    assert len(got.failures) == 1 and got.failures[0].startswith("mirror bad (")
    assert why[fault] in got.failures[0]
    bad_tries = len([r for r in w.bad.requests if r.path == "/m/p.tif"])
    if fault == "wrong-checksum":  # not worth a second try: the next source at once
        assert bad_tries == 1 and w.sleeps == []
        assert f"where file:checksum says {SHA256}" in got.failures[0]
    else:  # tried again after a backoff, then given up
        assert bad_tries == 2 and w.sleeps == [0.01]
        assert "(after 2 tries)" in got.failures[0]
    # the bytes are in the cache, verified; nothing else is
    assert _cache_files(w) == [got.path]
    assert SECRET not in w.text and SECRET not in " ".join(got.failures)
    # the mirror's token went to the good mirror only
    assert all("authorization" not in r.headers for r in w.bad.requests)
    again = w.retriever().retrieve(_asset("p.tif", **{"file:checksum": SHA256}), SYSTEM, w.log)
    assert again.cache_hit and again.path == got.path
    assert len([r for r in w.good.requests if r.path == "/m/p.tif"]) == 1
    stats = Cache(w.store.engine, w.config()).stats()["sources"]
    assert stats["mirror:good"]["misses"] == 1 and stats["mirror:good"]["hits"] == 1
    assert stats["mirror:bad"]["failures"] == 1


def test_backoff_doubles_and_is_bounded(world: World) -> None:
    w = world
    w.mirror("flaky", f"{w.bad.url}/m", 1)
    w.bad.fail("/m/q.tif", times=3, status=503)
    w.bad.add("GET", "/m/q.tif", PRODUCT, "image/tiff")
    got = w.retriever(fetch_attempts=4, fetch_backoff_s=0.02).retrieve(
        _asset("q.tif"), SYSTEM, w.log
    )
    assert got.path.read_bytes() == PRODUCT and got.failures == []
    assert w.sleeps == [0.02, 0.04, 0.08]
    assert "trying again in 0.02 s (try 2 of 4)" in w.text


def test_a_source_answering_garbage_never_lands_in_the_cache(world: World) -> None:
    w = world
    w.mirror("junk", f"{w.bad.url}/m", 1)
    w.bad.add("GET", "/m/g.tif", b"<html>please log in</html>", "text/html")
    w.bad.add("GET", "/m/h.tif", PRODUCT[:1000], "image/tiff")
    # an HTML page where a GeoTIFF was expected (no checksum to tell): refused
    with pytest.raises(RetrievalFailed) as exc:
        w.retriever().retrieve(_asset("g.tif"), SYSTEM, w.log)
    assert "HTML page" in exc.value.message and "mirror junk" in exc.value.message
    # the href itself is not reachable here either: its reason is listed too
    assert "href (https://archive.invalid/products/g.tif)" in exc.value.message
    # a short file where file:size says otherwise; an MD5 that does not match
    for extra in ({"file:size": len(PRODUCT)}, {"file:checksum": MD5}):
        with pytest.raises(RetrievalFailed) as exc:
            w.retriever().retrieve(_asset("h.tif", **extra), SYSTEM, w.log)
        assert "wrong size" in exc.value.message or "wrong checksum: md5" in exc.value.message
    assert _cache_files(w) == []
    assert Cache(w.store.engine, w.config()).stats()["cache"]["entries"] == 0


def test_sources_are_tried_mirrors_by_priority_then_href_then_alternates(world: World) -> None:
    w = world
    w.mirror("second", f"{w.good.url}/m", 20)
    w.mirror("first", f"{w.bad.url}/m", 10)
    MirrorStore(w.store.engine).put(
        check_mirror(
            mirror_from_body(
                "elsewhere", {"kind": "http", "url": "https://x.invalid", "collections": ["other"]}
            ),
            w.config(),
        )
    )
    w.mirror("prefixed", f"{w.good.url}/deep", 5, match_prefix=f"{ARCHIVE}/2024/")
    alternates = {"s3": {"href": "s3://bucket/p.tif"}, "http": {"href": f"{w.good.url}/alt.tif"}}
    cands, skipped = w.retriever().candidates(_asset("p.tif", alternate=alternates))
    assert [c.name for c in cands] == ["mirror first", "mirror second", "href", "alternate http"]
    assert [c.role for c in cands] == [
        SourceRole.MIRROR,
        SourceRole.MIRROR,
        SourceRole.HREF,
        SourceRole.ALTERNATE,
    ]
    assert cands[0].location == f"{w.bad.url}/m/p.tif"
    assert len(skipped) == 1 and skipped[0].startswith("alternate s3 (s3://bucket/p.tif)")
    # with a match prefix, the path after it; hrefs outside it are not in that mirror
    deep = AssetRequest("c", "x", "data", {"href": f"{ARCHIVE}/2024/01/x.tif"})
    cands, _ = w.retriever().candidates(deep)
    assert cands[0].name == "mirror prefixed"
    assert cands[0].location == f"{w.good.url}/deep/01/x.tif"
    # an href cannot walk a mirror out of its root
    sneaky = AssetRequest("c", "x", "data", {"href": f"{ARCHIVE}/2024/../../etc/passwd"})
    assert [c.name for c in w.retriever().candidates(sneaky)[0]][:2] == [
        "mirror first",
        "mirror second",
    ]
    # the alternate serves when everything before it fails
    w.good.add("GET", "/alt.tif", PRODUCT, "image/tiff")
    got = w.retriever().retrieve(_asset("p.tif", alternate=alternates), SYSTEM, w.log)
    assert got.source.startswith("alternate http") and got.path.read_bytes() == PRODUCT
    assert [f.split(" (")[0] for f in got.failures] == [
        "alternate s3",
        "mirror first",
        "mirror second",
        "href",
    ]


def test_every_remote_source_passes_the_host_checks(world: World) -> None:
    w = world
    _two_mirrors(w)
    _serve_good(w, "p.tif")
    w.bad.add("GET", "/m/p.tif", PRODUCT, "image/tiff")
    # loopback is allowed only on the good mirror's port: the other is never contacted
    port = w.good.url.rsplit(":", 1)[1]
    got = w.retriever(fetch_allow=(f"127.0.0.1:{port}",)).retrieve(_asset("p.tif"), SYSTEM, w.log)
    assert got.source.startswith("mirror good")
    assert "loopback" in got.failures[0] and "GEP_FETCH_ALLOW" in got.failures[0]
    assert w.bad.requests == []


def test_credentials_go_only_to_their_mirror_and_never_into_a_log(world: World) -> None:
    w = world
    # the good mirror redirects elsewhere: the token is not sent on
    w.mirror("good", f"{w.good.url}/m", 1, credentials={"token_env": "GEP_MIRROR_TOKEN"})
    w.good.add(
        "GET",
        "/m/r.tif",
        b"",
        "text/plain",
        status=302,
        headers={"Location": f"{w.bad.url}/files/r.tif"},
    )
    w.bad.add("GET", "/files/r.tif", PRODUCT, "image/tiff")
    got = w.retriever().retrieve(_asset("r.tif"), SYSTEM, w.log)
    assert got.path.read_bytes() == PRODUCT
    assert w.good.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert "authorization" not in w.bad.requests[0].headers
    # basic credentials, and a variable that is not set on this host
    w.mirror(
        "basic",
        f"{w.bad.url}/b",
        0,
        credentials={"user_env": "GEP_MIRROR_USER", "password_env": "GEP_MIRROR_PASSWORD"},
    )
    w.environ.update({"GEP_MIRROR_USER": "ann", "GEP_MIRROR_PASSWORD": SECRET + "-pw"})
    w.bad.add(
        "GET",
        "/b/s.tif",
        PRODUCT,
        "image/tiff",
        match=lambda r: r.headers.get("authorization", "").startswith("Basic "),
    )
    assert w.retriever().retrieve(_asset("s.tif"), SYSTEM, w.log).source.startswith("mirror basic")
    del w.environ["GEP_MIRROR_PASSWORD"]
    w.good.fail("/m/t.tif", times=5, status=500)
    with pytest.raises(RetrievalFailed) as exc:
        w.retriever().retrieve(_asset("t.tif"), SYSTEM, w.log)
    assert "GEP_MIRROR_PASSWORD is empty" in exc.value.message
    assert SECRET not in w.text and SECRET not in exc.value.message
    stored = MirrorStore(w.store.engine).get("basic").as_dict()
    assert stored["credentials"] == {
        "password_env": "GEP_MIRROR_PASSWORD",
        "user_env": "GEP_MIRROR_USER",
    }


def test_mirror_definitions_hold_references_not_secrets(world: World) -> None:
    w = world
    refused: dict[str, dict[str, Any]] = {
        "credentials.password": {"credentials": {"password": "hunter2"}},
        "credentials.token_env": {"credentials": {"token_env": "AWS_SECRET_ACCESS_KEY"}},
        "credentials.user_env": {"credentials": {"user_env": "GEP_MIRROR_U"}},
        "url": {"url": "https://ann:pw@archive.test/x"},
        "endpoint_url": {"endpoint_url": "https://s3.test"},
        "kind": {"kind": "ftp"},
        "collections": {"collections": []},
        "priority": {"priority": "high"},
    }
    for member, change in refused.items():
        body: dict[str, Any] = {"kind": "http", "url": "https://archive.test/x"}
        body.update({"collections": ["c"], **change})
        with pytest.raises(InvalidInput) as exc:
            check_mirror(mirror_from_body("m", body), w.config())
        assert exc.value.field == member, (member, exc.value.message)
    # a local mirror lies in a data root, nowhere else
    with pytest.raises(InvalidInput) as exc:
        check_mirror(
            mirror_from_body("m", {"kind": "local", "url": "/etc", "collections": ["c"]}),
            w.config(),
        )
    assert "GEP_DATA_ROOTS" in exc.value.message


def test_a_local_mirror_is_read_in_place(world: World) -> None:
    w = world
    folder = w.tmp / "data" / "safe"
    folder.mkdir()
    (folder / "l.tif").write_bytes(PRODUCT)
    mirror = check_mirror(
        mirror_from_body("archive", {"kind": "local", "url": str(folder), "collections": ["*"]}),
        w.config(),
    )
    assert mirror.kind is MirrorKind.LOCAL
    MirrorStore(w.store.engine).put(mirror)
    got = w.retriever().retrieve(_asset("l.tif", **{"file:size": len(PRODUCT)}), SYSTEM, w.log)
    assert got.in_place and got.path == folder / "l.tif" and _cache_files(w) == []


def test_an_s3_mirror_with_credentials_by_reference(world: World, s3_server: S3Server) -> None:
    import s3fs

    w = world
    bucket = s3_server.new_place()
    fs = s3fs.S3FileSystem(
        key=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        client_kwargs={"endpoint_url": s3_server.endpoint_url},
        skip_instance_cache=True,
    )
    fs.mkdir(bucket)
    fs.pipe_file(f"{bucket}/s1/o.tif", PRODUCT)
    w.environ.update(
        {
            "GEP_MIRROR_S3_KEY": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "GEP_MIRROR_S3_SECRET": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }
    )
    w.mirror(
        "bucket",
        f"s3://{bucket}/s1",
        1,
        kind="s3",
        endpoint_url=s3_server.endpoint_url,
        credentials={"key_env": "GEP_MIRROR_S3_KEY", "secret_env": "GEP_MIRROR_S3_SECRET"},
    )
    got = w.retriever().retrieve(_asset("o.tif", **{"file:checksum": SHA256}), SYSTEM, w.log)
    assert got.source == f"mirror bucket ({bucket}/s1/o.tif)"
    assert got.path.read_bytes() == PRODUCT and got.cached is not None
    # a product the bucket lacks fails over (here: to nothing) saying so
    with pytest.raises(RetrievalFailed) as exc:
        w.retriever().retrieve(_asset("none.tif"), SYSTEM, w.log)
    assert "mirror bucket" in exc.value.message and "not in this mirror" in exc.value.message
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in w.text


def test_checksums_are_read_as_multihashes() -> None:
    assert parse_multihash(SHA256).name == "sha2-256"
    assert parse_multihash(MD5.upper()).name == "md5"
    for text in ("zz", "12", "1220abcd", "990110" + "00" * 16):
        with pytest.raises(UnverifiableChecksum):
            parse_multihash(text)
    odd = expected_of({"file:checksum": "9901" + "00", "file:size": 3})
    assert odd.checksum is None and odd.size == 3 and "not verified" in odd.unverifiable

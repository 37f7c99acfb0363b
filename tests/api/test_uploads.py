"""``/uploads`` on both kinds of storage (a local folder, a real S3 server): a file in, a
private STAC item out; shared and deleted through the STAC routes; resumable chunks; the quota;
and bad uploads that leave nothing in storage nor in the catalogue."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from gep.client import GepClient
from gep.gateway.storage import Storage, StorageConfig
from tests.support.app import ADMIN_HEADERS, BASE_URL, api_client

DATA = Path(__file__).resolve().parents[1] / "data"
SAFE_ZIP = DATA / "s1" / "S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681.zip"
KML = DATA / "uploads" / "Fairbanks_SLC.kml"
CSV = DATA / "uploads" / "stack_baselines.csv"
GEOJSON = DATA / "uploads" / "PB2002_orogens.json"
#: the ordinary body cap of these servers: smaller than the SAFE zip uploaded (211 kB)
BODY_CAP = 64 << 10


@dataclass
class Server:
    client: TestClient
    storage: Storage
    home: Path
    users: dict[str, dict[str, str]]
    ids: dict[str, str]

    def post(self, who: str, path: Path, name: str | None = None, **fields: str) -> Any:
        with open(path, "rb") as f:
            return self.client.post(
                "/uploads",
                files={"file": (name or path.name, f, "application/octet-stream")},
                data=fields or None,
                headers=self.users[who],
            )

    def local(self, url: str) -> str:
        return url.removeprefix(BASE_URL)

    def stored(self) -> list[str]:
        return sorted(self.storage.walk("uploads"))

    def temporary(self) -> list[str]:
        scratch = self.home / "tmp" / "uploads"
        work = [str(p) for p in scratch.rglob("*")] if scratch.exists() else []
        return sorted(self.storage.walk("tmp")) + work


@contextmanager
def server(tmp_path: Path, storage_config: StorageConfig, **settings: Any) -> Iterator[Server]:
    storage = Storage(storage_config)
    storage.ensure()
    with api_client(
        tmp_path / "home",
        admin=False,
        base_url=BASE_URL,
        storage_url=storage_config.url,
        s3_endpoint_url=storage_config.s3_endpoint_url,
        max_body_bytes=BODY_CAP,
        **settings,
    ) as c:
        users: dict[str, dict[str, str]] = {"anonymous": {}}
        ids: dict[str, str] = {}
        for name in ("alice", "bob"):
            r = c.post("/accounts/users", json={"name": name, "token": True}, headers=ADMIN_HEADERS)
            assert r.status_code == 201, r.text
            users[name] = {"Authorization": f"Bearer {r.json()['token']}"}
            ids[name] = r.json()["id"]
        yield Server(c, storage, tmp_path / "home", users, ids)


def test_an_upload_is_a_private_item_shared_and_deleted_like_any(
    tmp_path: Path, storage_config: StorageConfig
) -> None:
    with server(tmp_path, storage_config) as s:
        assert s.post("anonymous", KML).status_code == 401
        r = s.post("alice", SAFE_ZIP)  # larger than the ordinary body cap: uploads have their own
        assert r.status_code == 201, r.text
        item = r.json()
        collection, item_id = item["collection"], item["id"]
        assert collection == f"uploads-{s.ids['alice']}"
        assert r.headers["location"] == (
            f"{BASE_URL}/stac/collections/{collection}/items/{item_id}"
        )
        assert item_id.startswith("S1A_IW_SLC__1SDV_20221016T015043")
        assert item["properties"]["sar:instrument_mode"] == "IW"
        assert {"rel": "self", "type": "application/geo+json", "href": r.headers["location"]} in (
            item["links"]
        )
        # its file is in storage under uploads/<owner>/<item>/, served by the asset route
        assert s.stored() == [f"uploads/{s.ids['alice']}/{item_id}/{SAFE_ZIP.name}"]
        # the bytes stored are alice's writes to her collection, from an upload
        data = s.client.get("/accounts/usage", headers=s.users["alice"]).json()["data"]
        assert [(d["direction"], d["source"], d["collection"], d["bytes"]) for d in data] == [
            ("write", "upload", collection, SAFE_ZIP.stat().st_size)
        ]
        asset = s.local(item["assets"]["product"]["href"])
        got = s.client.get(asset, headers=s.users["alice"])
        assert got.status_code == 200 and got.content == SAFE_ZIP.read_bytes()
        # private: another user and anonymous callers see nothing, neither item nor file
        url = s.local(r.headers["location"])
        for who in ("bob", "anonymous"):
            assert s.client.get(url, headers=s.users[who]).status_code == 404
            assert s.client.get(asset, headers=s.users[who]).status_code == 404
        search = s.client.get("/stac/search", params={"collections": collection},
                              headers=s.users["bob"])  # fmt: skip
        assert search.json()["features"] == []
        # shared through the STAC route, like any item its owner owns
        shared = s.client.patch(url, json={"visibility": "public"}, headers=s.users["alice"])
        assert shared.status_code == 200, shared.text
        assert s.client.get(url).status_code == 200
        assert s.client.get(asset).content == SAFE_ZIP.read_bytes()
        assert s.client.delete(url, headers=s.users["bob"]).status_code == 403
        # deleting the item removes its files
        assert s.client.delete(url, headers=s.users["alice"]).status_code == 204
        assert s.client.get(url, headers=s.users["alice"]).status_code == 404
        assert s.stored() == []
        # and a collection of alice's own, deleted with its uploads, takes their files along
        coll = {"id": "field-work", "description": "surveys"}
        assert s.client.post("/stac/collections", json=coll, headers=s.users["alice"]).is_success
        r = s.post("alice", CSV, collection="field-work")
        assert r.status_code == 201, r.text
        assert r.json()["collection"] == "field-work"
        assert (
            s.client.get(s.local(r.headers["location"]), headers=s.users["bob"]).status_code == 404
        )
        assert s.post("bob", KML, collection="field-work").status_code == 404  # not visible
        assert len(s.stored()) == 1
        assert (
            s.client.delete("/stac/collections/field-work", headers=s.users["alice"]).status_code
            == 204
        )
        assert s.stored() == [] and s.temporary() == []


def _put(s: Server, who: str, url: str, data: bytes, start: int, total: int) -> Any:
    end = start + len(data) - 1
    return s.client.put(
        url, content=data, headers={**s.users[who], "Content-Range": f"bytes {start}-{end}/{total}"}
    )


def test_chunked_upload_resumes_in_order(tmp_path: Path, storage_config: StorageConfig) -> None:
    data = GEOJSON.read_bytes()
    total = len(data)
    with server(tmp_path, storage_config) as s:
        r = s.client.post(
            "/uploads/sessions",
            json={"filename": GEOJSON.name, "size": total},
            headers=s.users["alice"],
        )
        assert r.status_code == 201, r.text
        url = s.local(r.headers["location"])
        assert r.json()["received"] == 0
        assert _put(s, "alice", url, data[:10_000], 0, total).json()["received"] == 10_000
        # out of order: a gap, an overlap — refused, naming the offset expected
        for start in (15_000, 5_000):
            bad = _put(s, "alice", url, data[start : start + 1000], start, total)
            assert bad.status_code == 409
            assert bad.json()["expected_offset"] == 10_000 and "byte 10000" in bad.json()["detail"]
        wrong_total = _put(s, "alice", url, data[10_000:11_000], 10_000, total + 1)
        assert wrong_total.status_code == 400 and wrong_total.json()["field"] == "Content-Range"
        # where to resume, for the owner only
        head = s.client.head(url, headers=s.users["alice"])
        assert head.status_code == 200 and head.headers["upload-offset"] == "10000"
        assert s.client.get(url, headers=s.users["alice"]).json()["received"] == 10_000
        for who in ("bob", "anonymous"):
            assert s.client.get(url, headers=s.users[who]).status_code in (401, 404)
            assert _put(s, who, url, data[10_000:], 10_000, total).status_code in (401, 404)
        assert _put(s, "alice", url, data[10_000:20_000], 10_000, total).status_code == 200
        done = _put(s, "alice", url, data[20_000:], 20_000, total)
        assert done.status_code == 201, done.text
        item = done.json()
        assert item["properties"]["gep:feature_count"] == 13
        assert done.headers["location"].endswith(f"/items/{item['id']}")
        assert sorted(k.rsplit("/", 1)[-1] for k in s.stored()) == [
            "PB2002_orogens.geojson",
            "PB2002_orogens.json",
        ]
        source = s.client.get(s.local(item["assets"]["source"]["href"]), headers=s.users["alice"])
        assert source.content == data
        # the session is gone with its chunks
        assert s.client.get(url, headers=s.users["alice"]).status_code == 404
        assert s.temporary() == []
        # an abandoned session leaves nothing either
        r = s.client.post("/uploads/sessions", json={"filename": "x.csv", "size": 100},
                          headers=s.users["alice"])  # fmt: skip
        dropped = s.local(r.headers["location"])
        assert _put(s, "alice", dropped, b"a" * 50, 0, 100).status_code == 200
        assert s.client.delete(dropped, headers=s.users["alice"]).status_code == 204
        assert s.temporary() == []


def test_bad_uploads_leave_nothing(tmp_path: Path, storage_config: StorageConfig) -> None:
    text_tif = tmp_path / "scene.tif"
    text_tif.write_text("not a raster at all\n")
    cut_zip = tmp_path / "product.zip"
    cut_zip.write_bytes(SAFE_ZIP.read_bytes()[:150_000])
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    nowhere = tmp_path / "series.csv"
    nowhere.write_text("date,value\n2021-01-01,1.5\n2021-02-01,2.5\n")
    cases = {
        text_tif: "not what its name claims",
        cut_zip: "truncated or damaged zip",
        empty: "no footprint",
        nowhere: "no footprint",
    }
    with server(tmp_path, storage_config) as s:
        for path, reason in cases.items():
            r = s.post("alice", path)
            assert r.status_code == 400, r.text
            problem = r.json()
            assert problem["filename"] == path.name and problem["field"] == "file"
            assert problem["detail"].startswith(f"{path.name}: ") and reason in problem["detail"]
        # the last chunk of a session completes a bad file: refused the same way
        data = cut_zip.read_bytes()
        r = s.client.post("/uploads/sessions", json={"filename": cut_zip.name, "size": len(data)},
                          headers=s.users["alice"])  # fmt: skip
        r = _put(s, "alice", s.local(r.headers["location"]), data, 0, len(data))
        assert r.status_code == 400 and "truncated" in r.json()["detail"]
        malformed = s.client.post("/uploads", content=b"--x\r\nnonsense", headers={
            **s.users["alice"], "Content-Type": "multipart/form-data; boundary=x"})  # fmt: skip
        assert malformed.status_code == 400
        assert (
            s.client.post("/uploads", json={"file": "x"}, headers=s.users["alice"]).status_code
            == 415
        )
        assert s.stored() == [] and s.temporary() == []
        collection = f"uploads-{s.ids['alice']}"
        items = s.client.get(f"/stac/collections/{collection}/items", headers=s.users["alice"])
        assert items.status_code in (200, 404)
        assert items.status_code == 404 or items.json()["features"] == []


def test_quota_is_a_413_with_the_numbers(tmp_path: Path, storage_config: StorageConfig) -> None:
    kml_size, csv_size = KML.stat().st_size, CSV.stat().st_size
    # the KML is stored with its GeoJSON: find what it takes, then leave room for little else
    with server(tmp_path / "probe", storage_config) as s:
        assert s.post("alice", KML).status_code == 201
        kml_stored = s.client.get("/uploads/usage", headers=s.users["alice"]).json()["used"]
        assert kml_stored > kml_size
    quota = kml_stored + csv_size - 1
    config = (
        StorageConfig((tmp_path / "storage2").as_uri())
        if storage_config.url.startswith("file:")
        else StorageConfig(storage_config.url + "-2", storage_config.s3_endpoint_url)
    )
    with server(tmp_path / "small", config, upload_quota_bytes=quota) as s:
        assert s.post("alice", KML).status_code == 201
        before = s.stored()
        r = s.post("alice", CSV)
        assert r.status_code == 413, r.text
        problem = r.json()
        assert (problem["used"], problem["quota"], problem["size"]) == (kml_stored, quota, csv_size)
        assert problem["filename"] == CSV.name and str(quota) in problem["detail"]
        assert s.stored() == before and s.temporary() == []
        r = s.client.post("/uploads/sessions", json={"filename": "big.csv", "size": csv_size},
                          headers=s.users["alice"])  # fmt: skip
        assert r.status_code == 413 and r.json()["used"] == kml_stored
        # bob's quota is his own
        assert s.post("bob", CSV).status_code == 201
        usage = s.client.get("/uploads/usage", headers=s.users["bob"]).json()
        assert usage == {"used": csv_size, "quota": quota, "available": quota - csv_size}
        # a body larger than the whole quota is cut off before it is read
        huge = tmp_path / "huge.csv"
        huge.write_bytes(b"x" * (quota + (2 << 20)))
        r = s.post("alice", huge)
        assert r.status_code == 413 and "GEP_UPLOAD_QUOTA_BYTES" in r.json()["detail"]
        assert [k for k in s.stored() if s.ids["alice"] in k] == before
        assert s.temporary() == []
    shutil.rmtree(tmp_path / "probe", ignore_errors=True)


class _LosesOneAnswer:
    """An HTTP client as the SDK's, whose second chunk is stored by the server but whose answer
    never reaches the caller (a dropped connection): the SDK must ask where to resume, not
    send the chunk again blindly."""

    def __init__(self, client: TestClient, auth: dict[str, str]) -> None:
        self.client = client
        self.auth = auth
        self.puts = 0

    def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        kwargs["headers"] = {**self.auth, **(kwargs.get("headers") or {})}
        return self.client.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self._send("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Any:
        return self._send("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self._send("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        response = self._send("PUT", url, **kwargs)
        self.puts += 1
        if self.puts == 2:
            raise httpx.ReadError("connection lost")
        return response


def test_sdk_uploads_in_chunks_and_resumes_after_a_lost_answer(tmp_path: Path) -> None:
    with server(tmp_path, StorageConfig((tmp_path / "storage").as_uri())) as s:
        flaky = _LosesOneAnswer(s.client, s.users["alice"])
        http: Any = flaky
        seen: list[tuple[int, int]] = []
        item = GepClient(http=http).upload(
            SAFE_ZIP, progress=lambda sent, total: seen.append((sent, total)), chunk_size=64 << 10
        )
        size = SAFE_ZIP.stat().st_size
        assert item["id"].startswith("S1A_IW_SLC__1SDV_20221016T015043")
        assert flaky.puts == 4  # ceil(211 kB / 64 kB) chunks, none sent twice
        assert [sent for sent, _ in seen] == [64 << 10, 128 << 10, 192 << 10, size]
        assert {total for _, total in seen} == {size}
        stored = s.client.get(s.local(item["assets"]["product"]["href"]), headers=s.users["alice"])
        assert stored.content == SAFE_ZIP.read_bytes()
        # small files go in one request, with progress too
        seen.clear()
        kml = GepClient(http=http).upload(KML, progress=lambda a, b: seen.append((a, b)))
        assert (
            kml["properties"]["gep:upload_kind"] == "kml" and seen[-1] == (KML.stat().st_size,) * 2
        )
        assert GepClient(http=http).upload_usage()["used"] > size

"""The SDK against a real server (tests/client/conftest.py): search with the gazetteer's
places, pair/stack/network search, jobs as objects, batches, errors as one exception tree, and
arguments refused before any request."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gep.client import (
    ArgumentError,
    BadRequest,
    Batch,
    ConnectionFailed,
    GepClient,
    GepClientError,
    GepTimeout,
    Job,
    JobStatus,
    NotFound,
)
from gep.client.transport import DEFAULT_URL
from tests.client.conftest import Served
from tests.support.app import ADMIN_TOKEN
from tests.support.serving import free_port

QUICK = {"seconds": 0.1, "steps": 1}


# ---------------------------------------------------------------------- search
def test_search_follows_next_links_up_to_max_items(gep: GepClient, served: Served) -> None:
    everything = gep.search(collections="sentinel-1-slc", limit=50)
    assert everything.matched == len(served.items) == len(everything) == 176
    assert sorted(everything.ids) == sorted(served.items)
    pages_before = len(served.requests_to("/stac/search"))
    some = gep.search(collections=["sentinel-1-slc"], limit=50, max_items=120)
    assert len(some) == 120 and some.matched == 176
    assert len(served.requests_to("/stac/search")) - pages_before == 3  # 50 + 50 + 20
    assert some.ids == everything.ids[:120]  # the same order, page after page
    doc = some[:2].to_geojson()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 2


def test_search_by_place_datetime_filter_and_sort(gep: GepClient) -> None:
    place = gep.gazetteer("Prince George", limit=1)[0]
    by_place = gep.search(place="Prince George")
    assert by_place.ids and by_place.ids == gep.search(bbox=place["bbox"]).ids
    wider = gep.search(place="Prince George", place_buffer=300)
    assert set(by_place.ids) <= set(wider.ids)
    # an interval as text, as a pair of dates with an open end, as datetimes: the same items
    as_text = gep.search(datetime="2016-01-01T00:00:00Z/2016-06-30T23:59:59Z")
    from datetime import UTC, date, datetime

    pair = gep.search(datetime=(datetime(2016, 1, 1, tzinfo=UTC), "2016-06-30T23:59:59Z"))
    assert as_text.ids and sorted(as_text.ids) == sorted(pair.ids)
    # bare dates are whole days (the STAC API itself takes date-times only)
    days = gep.search(datetime="2016-01-01/2016-06-30")
    assert sorted(days.ids) == sorted(as_text.ids)
    assert sorted(gep.search(datetime=("2016-01-01", date(2016, 6, 30))).ids) == sorted(days.ids)
    since = gep.search(datetime=(date(2016, 1, 1), None))
    assert set(as_text.ids) < set(since.ids)
    newest_first = gep.search(sortby="-datetime", max_items=20)
    when = [i["properties"]["datetime"] for i in newest_first]
    assert when == sorted(when, reverse=True)
    # CQL2 as text and as JSON
    one = as_text[0]["id"]
    assert gep.search(filter=f"id = '{one}'").ids == [one]
    assert gep.search(filter={"op": "=", "args": [{"property": "id"}, one]}).ids == [one]
    lean = gep.search(ids=one, fields=["id", "-assets"])
    assert lean.ids == [one] and "assets" not in lean[0]


def test_pairs_stack_and_network(gep: GepClient, served: Served) -> None:
    ref = served.items[served.reference]
    pairs = gep.pairs(ref, max_bperp=60, max_btemp=120)["pairs"]
    assert pairs and all(abs(p["bperp"]) <= 60 and abs(p["btemp"]) <= 120 for p in pairs)
    assert (
        gep.pairs(f"{ref['collection']}/{ref['id']}", max_bperp=60, max_btemp=120)["pairs"] == pairs
    )
    w, s, e, n = ref["bbox"]
    cx, cy = (w + e) / 2, (s + n) / 2
    aoi = [cx - 0.1, cy - 0.1, cx + 0.1, cy + 0.1]
    when = "2016-01-01T00:00:00Z/2017-12-31T23:59:59Z"
    stack = gep.stack(aoi, datetime=when)
    assert stack["track"]["relative_orbit"] == 13 and len(stack["acquisitions"]) > 10
    from_stack = gep.network(stack, max_btemp=48, max_bperp=100)
    from_params = gep.network(aoi=aoi, datetime=when, max_btemp=48, max_bperp=100)
    assert from_stack["pairs"] and from_stack["pairs"] == from_params["pairs"]
    # a place instead of an area: the gazetteer's box around it
    assert gep.stack(place="Prince George")["acquisitions"]


# ---------------------------------------------------------------------- jobs
def test_job_lifecycle(gep: GepClient, served: Served) -> None:
    job = gep.submit("wait", {"seconds": 0.1}, steps=1)
    assert isinstance(job, Job) and job.process == "wait" and job.created
    assert job.wait(timeout=60, progress=False) is job
    assert job.succeeded and job.done and not job.running and not job.failed
    assert job.status is JobStatus.SUCCESSFUL and job.progress == 100
    assert job.results()["waited"] >= 0.1
    assert job.inputs() == {"seconds": 0.1, "steps": 1}
    assert any("waited" in line["message"] for line in job.logs())
    assert gep.job(job.id)["status"] == "successful"  # the dict form, for older callers
    assert gep.get_job(job.id) == job
    again = job.resubmit(seconds=0.2)
    assert again.id != job.id and again.inputs() == {"seconds": 0.2, "steps": 1}
    assert gep.resubmit(job.id).inputs() == job.inputs()
    # sharing: anonymous callers see it once it is public
    anonymous = served.client(token="")
    with pytest.raises(NotFound):
        anonymous.get_job(job.id)
    assert job.share("public")["visibility"] == "public" == job.visibility
    assert anonymous.get_job(job.id).succeeded
    assert gep.share(job.id, "private")["visibility"] == "private"
    # a watch past its deadline: the SDK's own timeout; the job goes on until dismissed
    slow = gep.submit("wait", seconds=30, steps=30)
    with pytest.raises(GepTimeout) as err:
        slow.wait(timeout=0.3, progress=False, interval=0.1)
    assert isinstance(err.value, TimeoutError) and slow.id in err.value.detail
    assert slow.dismiss().dismissed and slow.refresh().dismissed
    assert gep.quote("wait", seconds=1)["credits"] >= 0


def test_batch_watch_and_retry_failed(gep: GepClient, capsys: pytest.CaptureFixture[str]) -> None:
    batch = gep.submit_batch("wait", [{"fail": True}, {}, {}], **QUICK)
    assert isinstance(batch, Batch) and len(batch) == 3
    assert batch.watch(timeout=90, interval=0.2) is batch
    assert "batch of 3" in capsys.readouterr().err  # the tqdm bar, on standard error
    assert len(batch.succeeded) == 2 and len(batch.failed) == 1 and batch.done
    failed = batch.failed[0]
    assert "fail=true" in failed.message
    assert set(batch.results()) == {j.id for j in batch.succeeded}
    # the same inputs again: it fails again; the batch now holds the resubmission
    retried = batch.retry_failed()
    assert len(retried) == 1 and retried[0].id != failed.id and retried[0] in batch
    assert retried[0].inputs() == failed.inputs()
    batch.watch(timeout=90, progress=False, interval=0.2)
    assert len(batch.failed) == 1
    fixed = batch.retry_failed(fail=False)
    batch.watch(timeout=90, progress=False, interval=0.2)
    assert fixed[0].succeeded and len(batch.succeeded) == 3 and not batch.failed
    assert not batch.retry_failed()  # nothing left to retry


# ---------------------------------------------------------------------- errors
def test_problems_become_one_exception_tree(gep: GepClient) -> None:
    with pytest.raises(NotFound) as missing:
        gep.get_job("no-such-job")
    assert missing.value.status == 404 and isinstance(missing.value, GepClientError)
    with pytest.raises(NotFound) as process:
        gep.submit("no-such-process")
    assert process.value.field == "processId"
    with pytest.raises(BadRequest) as bad:
        gep.submit("wait", seconds=-1)
    assert bad.value.status == 400 and bad.value.field == "inputs.seconds"
    assert bad.value.problem["status"] == 400 and "seconds" in bad.value.detail
    with pytest.raises(BadRequest) as place:
        gep.search(place="Zzyzzqxx Nowhere")
    assert place.value.field == "place"


class _Counting:
    """An httpx transport that answers nothing and counts what reached it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(500)


BAD_CALLS: list[tuple[str, Callable[[GepClient], Any]]] = [
    ("bbox", lambda g: g.search(bbox=[10, 50, 11])),
    ("bbox", lambda g: g.search(bbox=[10, 95, 11, 96])),
    ("bbox", lambda g: g.search(bbox=[10, 51, 11, 50])),
    ("collections", lambda g: g.search(collections=[1, 2])),
    ("datetime", lambda g: g.search(datetime="last tuesday")),
    ("datetime", lambda g: g.search(datetime="2024-05-01/2024-01-01")),
    ("datetime", lambda g: g.search(datetime="../..")),
    ("intersects", lambda g: g.search(intersects={"type": "Circle", "coordinates": [0, 0]})),
    ("place", lambda g: g.search(place="Etna", bbox=[0, 0, 1, 1])),
    ("place_buffer", lambda g: g.search(place_buffer=10)),
    ("place_buffer", lambda g: g.search(place="Etna", place_buffer=900)),
    ("filter", lambda g: g.search(filter=42)),
    ("limit", lambda g: g.search(limit=0)),
    ("max_items", lambda g: g.search(max_items=-1)),
    ("sortby", lambda g: g.search(sortby=[{"field": "id", "direction": "up"}])),
    ("reference", lambda g: g.pairs("no-slash")),
    ("min_overlap", lambda g: g.pairs("c/i", min_overlap=2)),
    ("sortby", lambda g: g.pairs("c/i", sortby="colour")),
    ("aoi", lambda g: g.stack()),
    ("aoi", lambda g: g.stack([0, 0, 1])),
    ("stack", lambda g: g.network(max_btemp=1, max_bperp=1)),
    ("max_btemp", lambda g: g.network({"acquisitions": []}, max_btemp=-1, max_bperp=1)),
    ("process", lambda g: g.submit("")),
    ("inputs", lambda g: g.submit("wait", ["seconds", 1])),
    ("inputs", lambda g: g.submit_batch("wait", [{"seconds": 1}, "fail"])),
    ("job", lambda g: g.get_job("")),
    ("visibility", lambda g: g.share("some-job", "everyone")),
    ("kind", lambda g: g.share("x", "public", kind="galaxy")),
    ("target", lambda g: g.share("no-slash", "public", kind="item")),
    ("target", lambda g: g.download(42, "out")),
    ("kind", lambda g: g.gazetteer("Etna", kind="river")),
    ("status", lambda g: g.jobs(status="done")),
    ("limit", lambda g: g.jobs(limit=0)),
    ("subscription_id", lambda g: g.subscription("")),
    ("path", lambda g: g.upload("/no/such/file.tif")),
    ("assets", lambda g: g.download("job-id", "out", assets=[3])),
]


@pytest.mark.parametrize(("field", "call"), BAD_CALLS, ids=[f for f, _ in BAD_CALLS])
def test_bad_arguments_raise_before_any_request(
    field: str, call: Callable[[GepClient], Any]
) -> None:
    counting = _Counting()
    gep = GepClient(http=httpx.Client(base_url="http://gep.test", transport=httpx.MockTransport(
        counting)))  # fmt: skip
    with pytest.raises(ArgumentError) as err:
        call(gep)
    assert err.value.field == field, err.value.detail
    assert isinstance(err.value, ValueError) and err.value.status == 0
    assert counting.requests == []


# ---------------------------------------------------------------------- the transport
def test_connection_failures_and_timeouts_are_the_sdks_own() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(ConnectionFailed) as err:
        GepClient(f"http://127.0.0.1:{port}", token="").processes()
    assert str(err.value) == (
        f"cannot reach http://127.0.0.1:{port} — is `gep serve` running? set GEP_URL"
    )
    assert isinstance(err.value, ConnectionError) and isinstance(err.value, GepClientError)
    with SilentServer() as url, pytest.raises(GepTimeout) as late:
        GepClient(url, token="", timeout=0.3).processes()
    assert isinstance(late.value, TimeoutError) and url in late.value.detail


@pytest.fixture
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEP_URL", "GEP_BASE_URL", "GEP_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("_no_env")
def test_url_and_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, served: Served
) -> None:
    plain = GepClient()
    assert plain.base_url == DEFAULT_URL and not plain.authenticated
    monkeypatch.setenv("GEP_BASE_URL", "http://elsewhere.test")
    assert GepClient().base_url == "http://elsewhere.test"
    monkeypatch.setenv("GEP_URL", served.base + "/")
    monkeypatch.setenv("GEP_TOKEN", ADMIN_TOKEN)
    env = GepClient()
    assert env.base_url == served.base and env.authenticated
    assert env.get_job(env.submit("echo", message="hi").id).process == "echo"  # the admin
    assert not GepClient(token="").authenticated  # "" is anonymous, whatever GEP_TOKEN says


class SilentServer:
    """A TCP server that accepts connections and never answers."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.held: list[socket.socket] = []
        self.stop = threading.Event()

        def accept() -> None:
            self.sock.settimeout(0.1)
            while not self.stop.is_set():
                try:
                    self.held.append(self.sock.accept()[0])
                except OSError:
                    continue

        self.thread = threading.Thread(target=accept, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_job_status_is_the_servers() -> None:
    from gep.core.enums import JobStatus as ServerStatus

    assert {s.name: s.value for s in JobStatus} == {s.name: s.value for s in ServerStatus}


def test_the_token_never_goes_to_another_host(served: Served, tmp_path: Path) -> None:
    """An asset may point anywhere (a remote archive's product): the SDK fetches it without
    the caller's token, which is for the GEP server only."""
    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"bytes")

        def log_message(self, *args: object) -> None:
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{other.server_address[1]}/product.zip"
        item = {"type": "Feature", "id": "remote", "assets": {"data": {"href": url}}}
        (path,) = served.client().download(item, tmp_path, progress=False)
    finally:
        other.shutdown()
        thread.join(5)
    assert path == tmp_path / "remote" / "data.zip" and path.read_bytes() == b"bytes"
    assert seen == [None]

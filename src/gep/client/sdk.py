"""The GEP API from Python, synchronous: search, processes and jobs (as :class:`Job` and
:class:`Batch` objects too), downloads, sharing, subscriptions, uploads and map layers. The
thematic apps, the service developer's and the operator's methods come from their mixins
(:mod:`gep.client.apps`, :mod:`gep.client.services`, :mod:`gep.client.admin`).

Methods that take a job accept a :class:`Job` or its id; those that answered dicts before the
objects existed (``job``, ``execute``, ``watch``, ``results``…) still do, so scripts written
against them keep working. See docs/sdk.md."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote, urlencode

import httpx

from gep.client import checks
from gep.client.admin import AdminMixin
from gep.client.apps import AppsMixin
from gep.client.errors import ArgumentError, ConnectionFailed, GepClientError, GepTimeout
from gep.client.jobs import FINAL_STATUSES, Batch, Job, JobStatus
from gep.client.search import ItemCollection, SearchMixin
from gep.client.services import ServicesMixin
from gep.client.transport import Transport

#: files larger than this go in resumable chunks of this size (``/uploads/sessions``)
UPLOAD_CHUNK_BYTES = 8 << 20
#: times one chunk is tried before the upload gives up (a lost connection, a 5xx)
CHUNK_ATTEMPTS = 4

#: (bytes sent so far, total bytes) after each piece leaves
Progress = Callable[[int, int], None]


class _Counted(io.FileIO):
    """A file that reports how much of it has been read (httpx reads it as it sends)."""

    def __init__(self, path: Path, progress: Progress | None) -> None:
        super().__init__(path, "rb")
        self.total = os.fstat(self.fileno()).st_size
        self.progress = progress

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if self.progress is not None and data:
            self.progress(self.tell(), self.total)
        return data


class GepClient(SearchMixin, AppsMixin, ServicesMixin, AdminMixin, Transport):
    """The GEP API from Python: every capability of the server, one method each.

    ``GepClient()`` talks to ``GEP_URL`` (else ``GEP_BASE_URL``, else
    ``http://127.0.0.1:8000``) as ``GEP_TOKEN``; ``GepClient(url, token=…)`` says so itself.
    Every failure is a :class:`~gep.client.errors.GepClientError`."""

    # ------------------------------------------------------------------ processes
    def processes(self) -> list[dict[str, Any]]:
        return list(self._json(self.http.get("/processes"))["processes"])

    def process(self, process_id: str) -> dict[str, Any]:
        return dict(self._json(self.http.get(f"/processes/{process_id}")))

    def deploy(
        self,
        package: bytes,
        media_type: str = "application/cwl+yaml",
        *,
        replace: str | None = None,
    ) -> dict[str, Any]:
        """Deploy an application package, or replace the deployed process ``replace``."""
        headers = {"content-type": media_type}
        if replace is not None:
            r = self.http.put(f"/processes/{replace}", content=package, headers=headers)
            if r.status_code == 204:
                return {"id": replace}
            return dict(self._json(r))
        return dict(self._json(self.http.post("/processes", content=package, headers=headers)))

    def undeploy(self, process_id: str) -> None:
        r = self.http.delete(f"/processes/{process_id}")
        if r.status_code != 204:
            self._json(r)

    def execute(
        self, process_id: str, inputs: dict[str, Any], *, wait: bool = True
    ) -> dict[str, Any]:
        """Synchronous (the outputs) when ``wait``; otherwise the new job's status.

        A synchronous execution that outlasts the server's sync timeout is answered 201 with
        the job (it goes on, and is charged once): the client follows it to its results
        rather than submitting again."""
        headers = {} if wait else {"Prefer": "respond-async"}
        r = self.http.post(
            f"/processes/{process_id}/execution", json={"inputs": inputs}, headers=headers
        )
        info = dict(self._json(r))
        if wait and r.status_code == 201:
            self.watch(str(info["jobID"]))
            return self.results(str(info["jobID"]))  # a failed job raises its problem
        return info

    # ------------------------------------------------------------------ jobs
    def job(self, job_id: str | Job) -> dict[str, Any]:
        """The job's status document (``get_job`` answers it as a :class:`Job`)."""
        return dict(self._json(self.http.get(_job_path(job_id))))

    def jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        process_id: str | None = None,
        limit: int = 10,
    ) -> list[dict[str, Any]]:
        """Jobs the caller may see, newest first (status documents; ``Job(gep, info)`` makes
        one an object); ``status`` one or several, comma-separated."""
        params: dict[str, Any] = {"limit": checks.integer("limit", limit, low=1, high=10_000)}
        if status:
            known = {str(s) for s in JobStatus}
            if any(s.strip() not in known for s in str(status).split(",")):
                raise ArgumentError("status", f"status is one or more of {', '.join(known)}")
            params["status"] = str(status)
        if process_id:
            params["processID"] = process_id
        return list(self._json(self.http.get("/jobs", params=params))["jobs"])

    def results(self, job_id: str | Job) -> dict[str, Any]:
        """The outputs (files as links ``{"href", "type"}``); a failed job raises its problem
        (:class:`~gep.client.errors.ServerError`), one not finished
        :class:`~gep.client.errors.NotFound`."""
        return dict(self._json(self.http.get(_job_path(job_id, "/results"))))

    def inputs(self, job_id: str | Job) -> dict[str, Any]:
        """The inputs the job was submitted with (what re-submitting it sends again)."""
        return dict(self._json(self.http.get(_job_path(job_id, "/inputs")))["inputs"])

    def logs(self, job_id: str | Job, *, level: str | None = None) -> list[dict[str, Any]]:
        """The job's log lines (``level``: only those of DEBUG, INFO, WARNING, ERROR…)."""
        params = {"level": checks.text("level", level)} if level is not None else {}
        return list(self._json(self.http.get(_job_path(job_id, "/logs"), params=params))["logs"])

    # ------------------------------------------------------------------ jobs as objects
    def get_job(self, job: str | Job) -> Job:
        """The job as a :class:`Job` (its status asked now)."""
        return Job(self, self.job(_job_id(job)))

    def submit(
        self, process: str, inputs: Mapping[str, Any] | None = None, **inputs_kw: Any
    ) -> Job:
        """Start ``process`` asynchronously (``Prefer: respond-async``) with ``inputs`` (a dict,
        and/or keywords: ``submit("wait", seconds=3)``); the new :class:`Job` at once. Its price
        is held from the caller's credits (:class:`~gep.client.errors.PaymentRequired` when
        short); invalid inputs are :class:`~gep.client.errors.BadRequest` naming the field."""
        body = _inputs(process, inputs, inputs_kw)
        r = self.http.post(
            f"/processes/{quote(process, safe='')}/execution",
            json={"inputs": body},
            headers={"Prefer": "respond-async"},
        )
        return Job(self, self._json(r))

    def submit_batch(
        self, process: str, inputs: Iterable[Mapping[str, Any]], **common: Any
    ) -> Batch:
        """One job per inputs dict (each merged over ``common``): a :class:`Batch` to
        :meth:`Batch.watch`. All inputs are checked to be dicts before the first is sent."""
        checks.text("process", process)
        every = [dict(i) if isinstance(i, Mapping) else i for i in inputs]
        if not every or not all(isinstance(i, dict) for i in every):
            raise ArgumentError("inputs", "inputs is a non-empty list of inputs dicts")
        return Batch([self.submit(process, {**common, **i}) for i in every], self)

    batch = submit_batch

    def resubmit(self, job: str | Job, **changes: Any) -> Job:
        """Submit ``job``'s process again with its inputs, ``changes`` replacing some of them
        (``resubmit(job, looks_azimuth=8)``); the new :class:`Job`."""
        job_id = _job_id(job)
        sent = self._json(self.http.get(f"/jobs/{quote(job_id, safe='')}/inputs"))
        return self.submit(str(sent["processID"]), {**(sent.get("inputs") or {}), **changes})

    def job_items(self, job: str | Job) -> ItemCollection:
        """The STAC items ``job`` published (its results in the catalogue, with GEP URLs)."""
        return self.search(filter={"op": "=", "args": [{"property": "gep:job"}, _job_id(job)]})

    def quote(
        self, process: str, inputs: Mapping[str, Any] | None = None, **inputs_kw: Any
    ) -> dict[str, Any]:
        """What running ``process`` on these inputs would cost, in credits (``POST
        /processes/{id}/quote``): nothing runs and nothing is held."""
        body = _inputs(process, inputs, inputs_kw)
        r = self.http.post(f"/processes/{quote(process, safe='')}/quote", json={"inputs": body})
        return dict(self._json(r))

    def share(self, target: Any, visibility: str, *, kind: str | None = None) -> dict[str, Any]:
        """Share (``"public"``, ``"group:<name>"``) or unshare (``"private"``) something the
        caller owns; answers the server's acknowledgement.

        ``target``: a :class:`Job` (the job and all its results), a STAC item or collection
        dict; or an id with ``kind``: ``job`` (the default for a bare id), ``process`` (a
        deployed service), ``collection``, ``item`` (``"collection/item"``), ``subscription``
        (and its layer), ``area`` (a named area), ``app`` (a thematic app) or ``harvest`` (a
        harvest source)."""
        checks.visibility("visibility", visibility)
        path, body_key = _share_path(target, kind)
        r = self.http.patch(path, json={body_key: visibility})
        answer = self._json(r)
        return dict(answer) if isinstance(answer, dict) else {"visibility": visibility}

    def to_xarray(self, results: Any, **odc_kwargs: Any) -> Any:
        """Results as an ``xarray.Dataset``, through ``odc.stac.load`` (install odc-stac:
        ``pip install 'gep-client[xarray]'``; without it
        :class:`~gep.client.errors.MissingDependency`). ``results``: a :class:`Job` (its
        published items), a :class:`Batch`, search results, an item or a list of items.
        ``odc_kwargs`` go to ``odc.stac.load`` (``bands=["displacement"]``, ``chunks={}``…);
        the grid and time axis come from the items. With a token, GDAL reads each asset through
        a signed URL, so private results load too."""
        from gep.client.datacube import to_xarray

        return to_xarray(self, results, **odc_kwargs)

    # ------------------------------------------------------------------ assets
    def asset_url(self, collection: str, item: str, key: str) -> str:
        """The GEP URL of an item's asset (what items and results name)."""
        c, i, k = (quote(v, safe="") for v in (collection, item, key))
        return f"{self.http.base_url}".rstrip("/") + f"/stac/collections/{c}/items/{i}/assets/{k}"

    def signed_url(self, collection: str, item: str, key: str, expires_in: int = 3600) -> str:
        """A URL of the asset readable without credentials, with this caller's permissions,
        for ``expires_in`` seconds (for tools that cannot send a token)."""
        url = self.asset_url(collection, item, key) + "/signed-url"
        answer = self._json(self.http.get(url, params={"expires_in": expires_in}))
        return str(answer["href"])

    @overload
    def download(
        self,
        target: str,
        dest: str | os.PathLike[str],
        *,
        assets: Sequence[str] | None = None,
        progress: bool = ...,
        resume: bool = ...,
    ) -> Path: ...
    @overload
    def download(
        self,
        target: Job | Batch | Mapping[str, Any] | ItemCollection,
        dest: str | os.PathLike[str] = ".",
        *,
        assets: Sequence[str] | None = None,
        progress: bool = ...,
        resume: bool = ...,
    ) -> list[Path]: ...
    def download(
        self,
        target: str | Job | Batch | Mapping[str, Any] | ItemCollection,
        dest: str | os.PathLike[str] = ".",
        *,
        assets: Sequence[str] | None = None,
        progress: bool = True,
        resume: bool = True,
    ) -> Path | list[Path]:
        """Files to the local disk, streamed with a progress bar and resumed where they
        stopped (a partial file continues with an HTTP Range request; a complete one is
        skipped; sizes are checked).

        ``target``: an href (a GEP URL, or a path on the server: ``dest`` is then the file, and
        the file is answered); a :class:`Job` or a job id (its result items' assets), a
        :class:`Batch`, a STAC item dict, or search results (``dest`` is then a folder that
        gets one sub-folder per item, ``<item id>/<asset key>.<ext>``, and the list of files is
        answered). ``assets``: only these asset keys. ``resume=False`` fetches everything
        again."""
        from gep.client.download import fetch, item_files

        folder = Path(dest)
        if isinstance(target, str) and target.startswith(("http://", "https://", "/")):
            if folder.is_dir():  # a folder: the file keeps the URL's last segment as its name
                folder = folder / (target.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "file")
            return fetch(
                self.http,
                target,
                folder,
                progress=progress,
                resume=resume,
                isolate=self.owns_http,
            )
        if assets is not None:
            assets = checks.strings("assets", assets)
        items: list[Mapping[str, Any]]
        if isinstance(target, Batch):
            items = [i for job in target.succeeded for i in self.job_items(job)]
        elif isinstance(target, Job | str):
            items = list(self.job_items(target))
        elif isinstance(target, Mapping):
            if target.get("type") != "Feature":
                raise ArgumentError("target", "a dict to download is a STAC item")
            items = [target]
        elif isinstance(target, ItemCollection | list | tuple):
            items = list(target)
        else:
            raise ArgumentError(
                "target", "download takes an href, a Job (or id), a Batch, an item or items"
            )
        files: list[Path] = []
        for item in items:
            wanted = assets
            if wanted is not None:  # each item may hold some of the keys asked for
                wanted = [k for k in wanted if k in (item.get("assets") or {})]
            for href, path in item_files(item, folder, wanted):
                files.append(
                    fetch(
                        self.http,
                        href,
                        path,
                        progress=progress,
                        resume=resume,
                        isolate=self.owns_http,
                    )
                )
        if assets is not None and not files:
            raise ArgumentError("assets", f"no item has the assets {', '.join(assets)}")
        return files

    # ------------------------------------------------------------------ map layers
    def _item_path(self, collection: str, item: str | None = None) -> str:
        path = f"/stac/collections/{quote(collection, safe='')}"
        return path + (f"/items/{quote(item, safe='')}" if item is not None else "")

    def layer_urls(
        self,
        collection: str,
        item: str | None,
        asset: str,
        *,
        tms: str = "WebMercatorQuad",
        **render: Any,
    ) -> dict[str, str]:
        """The XYZ template, TileJSON and WMTS capabilities URLs of an item's asset (or, with
        ``item=None``, of the collection's mosaic), for a web map, QGIS or GDAL. ``render``
        adds TiTiler parameters (``rescale="-0.05,0.05"``, ``colormap_name="rdbu"``); without
        them the item's declared rendering applies."""
        base = f"{self.http.base_url}".rstrip("/") + self._item_path(collection, item)
        query = urlencode({"assets": asset, **{k: v for k, v in render.items() if v is not None}})
        t = quote(tms, safe="")
        return {
            "xyz": f"{base}/tiles/{t}/{{z}}/{{x}}/{{y}}.png?{query}",
            "tilejson": f"{base}/{t}/tilejson.json?{query}",
            "wmts": f"{base}/{t}/WMTSCapabilities.xml?{query}",
        }

    def permalink(
        self,
        collection: str,
        item: str,
        *,
        render: str | None = None,
        view: tuple[float, float, float] | None = None,
    ) -> str:
        """The Geobrowser's address that opens the map on an item (``render``: which of its
        renders; ``view``: zoom, lat, lon); whoever opens it sees the layer if they may see the
        item."""
        frag: dict[str, str] = {"item": f"{collection}/{item}"}
        if render:
            frag["render"] = render
        if view is not None:
            zoom, lat, lon = view
            frag["map"] = f"{zoom:.2f}/{lat:.5f}/{lon:.5f}"
        return f"{self.http.base_url}".rstrip("/") + "/ui/#" + urlencode(frag)

    def point(self, collection: str, item: str, asset: str, lon: float, lat: float) -> Any:
        """The asset's value(s) at a point, as the tile service reads them."""
        url = self._item_path(collection, item) + f"/point/{lon},{lat}"
        return self._json(self.http.get(url, params={"assets": asset}))

    def legend(
        self, collection: str, item: str, asset: str, *, png: bool = False, **render: Any
    ) -> Any:
        """The legend of an item's asset as drawn on the map: JSON (colour stops, title,
        unit), or the PNG's bytes with ``png=True``."""
        params = {"assets": asset, "f": "png" if png else "json", **render}
        r = self.http.get(self._item_path(collection, item) + "/legend", params=params)
        if png and r.status_code < 400:
            return r.content
        return self._json(r)

    def timeseries(
        self,
        collection: str,
        lon: float,
        lat: float,
        asset: str,
        *,
        item: str | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """Values over time at a point: an item's dated layers, or (``item=None``) the
        collection's dated items that contain the point (``filters`` narrow them: ``datetime``,
        ``filter``...)."""
        params = {"lon": lon, "lat": lat, "assets": asset, "f": "json", **filters}
        url = self._item_path(collection, item) + "/timeseries"
        return dict(self._json(self.http.get(url, params=params)))

    def dismiss(self, job_id: str | Job) -> dict[str, Any]:
        """Cancel a job (its hold refunded if it had not started), or remove a finished one's
        results; its status document."""
        return dict(self._json(self.http.delete(_job_path(job_id))))

    def pin(self, job_id: str | Job, pinned: bool = True) -> dict[str, Any]:
        """Keep a job's results whatever the retention policy (``pinned=False`` lets them
        expire again)."""
        call = self.http.post if pinned else self.http.delete
        return dict(self._json(call(_job_path(job_id, "/pin"))))

    def watch(
        self,
        job_id: str | Job,
        *,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        interval: float = 0.5,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Poll until the job ends; ``on_progress`` sees each new status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: tuple[str, int, str] | None = None
        while True:
            info = self.job(job_id)
            key = (info["status"], info.get("progress", 0), info.get("message", ""))
            if on_progress is not None and key != last:
                on_progress(info)
            last = key
            if info["status"] in FINAL_STATUSES:
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise GepTimeout(
                    0,
                    {
                        "title": "Timed out",
                        "detail": f"job {job_id} still {info['status']} after {timeout} s",
                    },
                )
            time.sleep(interval)

    # ------------------------------------------------------------------ subscriptions
    @staticmethod
    def _sub_path(subscription_id: str, tail: str = "") -> str:
        ident = checks.text("subscription_id", subscription_id)
        return f"/subscriptions/{quote(ident, safe='')}{tail}"

    def subscriptions(self) -> list[dict[str, Any]]:
        """The subscriptions the caller may see (their own and those shared with them)."""
        return list(self._json(self.http.get("/subscriptions"))["subscriptions"])

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        """A subscription with its ``status``: counts (matched, submitted, running, succeeded,
        failed), the last trigger, the next run and the latest failures with their reasons."""
        return dict(self._json(self.http.get(self._sub_path(subscription_id))))

    def create_subscription(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Create a subscription from ``spec`` ({title, process, inputs, trigger, budget,
        max_jobs_per_trigger, webhook, backfill}); the server checks all of it first. The
        answer holds the webhook's ``webhook_secret`` (shown this once only) and, with
        ``backfill``, its report."""
        return dict(self._json(self.http.post("/subscriptions", json=spec)))

    def edit_subscription(self, subscription_id: str, **changes: Any) -> dict[str, Any]:
        """Change members (a merge patch) from the next trigger on; ``visibility=`` shares the
        subscription and its layer. A new webhook's secret is in the answer, once."""
        return dict(self._json(self.http.patch(self._sub_path(subscription_id), json=changes)))

    def pause_subscription(self, subscription_id: str) -> dict[str, Any]:
        """Stop triggering (what matches meanwhile can be caught up on resume)."""
        return dict(self._json(self.http.post(self._sub_path(subscription_id, "/pause"))))

    def resume_subscription(self, subscription_id: str, catch_up: bool = True) -> dict[str, Any]:
        """Active again; ``catch_up`` submits what matched while it was paused (its report is
        the answer's ``catch_up``). A time trigger's schedule resumes from now either way."""
        r = self.http.post(
            self._sub_path(subscription_id, "/resume"),
            params={"catch_up": str(catch_up).lower()},
        )
        return dict(self._json(r))

    def delete_subscription(self, subscription_id: str, keep_layer: bool = True) -> None:
        """Remove a subscription; its layer stays an ordinary collection unless ``keep_layer``
        is false (then its items and files go too). Its jobs stay in the job list."""
        r = self.http.delete(
            self._sub_path(subscription_id), params={"keep_layer": str(keep_layer).lower()}
        )
        if r.status_code != 204:
            self._json(r)

    def backfill(
        self, subscription_id: str, dry_run: bool = False, limit: int | None = None
    ) -> dict[str, Any]:
        """Run the rule over the archive already catalogued (``dry_run``: list what it would
        submit and submit nothing; ``limit``: archive items read at most)."""
        params: dict[str, Any] = {"dry_run": str(dry_run).lower()}
        if limit is not None:
            params["limit"] = limit
        r = self.http.post(self._sub_path(subscription_id, "/backfill"), params=params)
        return dict(self._json(r))

    def subscription_jobs(self, subscription_id: str) -> list[dict[str, Any]]:
        """The jobs the subscription submitted, newest first, with the trigger of each."""
        return list(self._json(self.http.get(self._sub_path(subscription_id, "/jobs")))["jobs"])

    def subscription_layer(self, subscription_id: str) -> dict[str, Any]:
        """The subscription's information layer: its collection, extent and dated items."""
        return dict(self._json(self.http.get(self._sub_path(subscription_id, "/layer"))))

    def subscription_feed(self, subscription_id: str) -> str:
        """The Atom 1.0 feed (XML text) of the layer's newest items, for feed readers."""
        r = self.http.get(self._sub_path(subscription_id, "/feed"))
        if r.status_code >= 400:
            self._json(r)
        return r.text

    # ------------------------------------------------------------------ uploads
    def upload(
        self,
        path: str | os.PathLike[str],
        collection: str | None = None,
        *,
        progress: Progress | None = None,
        chunk_size: int = UPLOAD_CHUNK_BYTES,
    ) -> dict[str, Any]:
        """Upload a file to personal storage; returns the new STAC item (private until
        shared). Files up to ``chunk_size`` go in one request; larger ones in resumable chunks,
        each retried from the offset the server holds after a lost connection or a 5xx.
        ``progress(sent, total)`` is called as bytes leave."""
        file = Path(path)
        if not file.is_file():
            raise ArgumentError("path", f"{file} is not a file")
        checks.integer("chunk_size", chunk_size, low=1)
        size = file.stat().st_size
        if size <= chunk_size:
            return self._upload_once(file, collection, progress)
        return self._upload_chunked(file, size, collection, progress, chunk_size)

    def upload_usage(self) -> dict[str, int]:
        """Bytes used by your uploads, your quota and what is left."""
        return dict(self._json(self.http.get("/uploads/usage")))

    def _upload_once(
        self, file: Path, collection: str | None, progress: Progress | None
    ) -> dict[str, Any]:
        data = {"collection": collection} if collection else None
        with _Counted(file, progress) as body:
            r = self.http.post(
                "/uploads",
                files={"file": (file.name, body, "application/octet-stream")},
                data=data,
            )
        return dict(self._json(r))

    def _upload_chunked(
        self,
        file: Path,
        size: int,
        collection: str | None,
        progress: Progress | None,
        chunk_size: int,
    ) -> dict[str, Any]:
        declared: dict[str, Any] = {"filename": file.name, "size": size}
        if collection:
            declared["collection"] = collection
        session = self._json(self.http.post("/uploads/sessions", json=declared))
        url = f"/uploads/sessions/{session['id']}"
        offset = int(session.get("received", 0))
        failures = 0
        with open(file, "rb") as f:
            while True:
                f.seek(offset)
                chunk = f.read(min(chunk_size, size - offset))
                end = offset + len(chunk) - 1
                try:
                    r = self.http.put(
                        url,
                        content=chunk,
                        headers={
                            "Content-Range": f"bytes {offset}-{end}/{size}",
                            "Content-Type": "application/octet-stream",
                        },
                    )
                except (httpx.TransportError, ConnectionFailed, GepTimeout):
                    r = None
                if r is not None and r.status_code == 409:  # out of step: where it must go on
                    failures += 1
                    if failures >= CHUNK_ATTEMPTS:
                        self._json(r)
                    offset = int(self._problem(r).get("expected_offset", offset))
                    continue
                if r is not None and r.status_code < 500:
                    info = self._json(r)  # a refusal (400, 413…) raises its problem
                    if r.status_code == 201:
                        if progress is not None:
                            progress(size, size)
                        return dict(info)
                    offset = int(info["received"])
                    failures = 0
                    if progress is not None:
                        progress(offset, size)
                    continue
                failures += 1
                if failures >= CHUNK_ATTEMPTS:
                    if r is not None:
                        self._json(r)
                    raise GepClientError(
                        0,
                        {
                            "detail": f"{file.name}: the upload failed {failures} times at "
                            f"byte {offset}; the session {session['id']} can be resumed"
                        },
                    )
                time.sleep(min(2.0**failures * 0.25, 5.0))
                # where to resume: what the server holds (a 409 says so too)
                head = self.http.head(url)
                if head.status_code != 200:
                    self._json(self.http.get(url))  # gone (expired): its problem
                offset = int(head.headers.get("Upload-Offset", offset))
                if progress is not None:
                    progress(offset, size)


def _job_id(job: str | Job) -> str:
    if isinstance(job, Job):
        return job.id
    return checks.text("job", job)


def _job_path(job: str | Job, tail: str = "") -> str:
    return f"/jobs/{quote(_job_id(job), safe='')}{tail}"


def _inputs(
    process: str, inputs: Mapping[str, Any] | None, inputs_kw: Mapping[str, Any]
) -> dict[str, Any]:
    """The inputs of an execution: ``inputs`` and keywords merged (checked first)."""
    checks.text("process", process)
    if inputs is not None and not isinstance(inputs, Mapping):
        raise ArgumentError("inputs", f"inputs is a dict of input values, not {inputs!r}")
    return {**dict(inputs or {}), **inputs_kw}


#: where each kind of thing is shared: its PATCH path (from its id) and the body's member
_SHARE_PATHS: dict[str, str] = {
    "job": "/jobs/{}",
    "process": "/processes/{}",
    "collection": "/stac/collections/{}",
    "subscription": "/subscriptions/{}",
    "area": "/gazetteer/areas/{}",
    "app": "/apps/{}",
    "harvest": "/harvest/sources/{}",
}


def _share_path(target: Any, kind: str | None) -> tuple[str, str]:
    """(the PATCH path, "visibility") of what ``share`` was given."""
    if isinstance(target, Job):
        return f"/jobs/{quote(target.id, safe='')}", "visibility"
    if isinstance(target, Mapping):
        kind_of = target.get("type")
        if kind_of == "Feature" and isinstance(target.get("collection"), str):
            c, i = (quote(str(target[k]), safe="") for k in ("collection", "id"))
            return f"/stac/collections/{c}/items/{i}", "visibility"
        if kind_of == "Collection":
            return f"/stac/collections/{quote(str(target['id']), safe='')}", "visibility"
        if isinstance(target.get("jobID"), str):
            return f"/jobs/{quote(target['jobID'], safe='')}", "visibility"
        raise ArgumentError("target", "a dict to share is a STAC item, a collection or a job")
    ident = checks.text("target", target)
    kind = kind or "job"
    if kind == "item":
        if ident.count("/") != 1:
            raise ArgumentError("target", "an item to share is named 'collection/item'")
        c, i = (quote(p, safe="") for p in ident.split("/"))
        return f"/stac/collections/{c}/items/{i}", "visibility"
    if kind not in _SHARE_PATHS:
        raise ArgumentError("kind", f"kind is one of item, {', '.join(_SHARE_PATHS)}")
    return _SHARE_PATHS[kind].format(quote(ident, safe="")), "visibility"

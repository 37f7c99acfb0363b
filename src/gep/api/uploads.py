"""``/uploads``: personal storage over HTTP — a file in, a private STAC item out.

``POST /uploads`` takes one file as ``multipart/form-data`` (the field ``file``, and an optional
``collection``), streamed to disk as it arrives; large files go in resumable chunks through
``/uploads/sessions``. Either way the answer is 201 with the new item, rendered as the STAC API
renders items, and its ``Location``. What a file becomes, the quota and where items go are
decided by :mod:`gep.gateway.uploads`; this router only receives bytes and answers. Uploaded
items are shared, changed and deleted through the STAC routes like any item their owner owns
(deleting one removes its files: :mod:`gep.api.stac_transactions`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import require_user
from gep.api.deps import asset_urls, base_url, json_body
from gep.api.openapi import answer, json_request, no_content, param, problems
from gep.api.services import services
from gep.api.stac_render import GEOJSON, render_item
from gep.api.upload_stream import receive_body, receive_form
from gep.core.access import Viewer
from gep.core.errors import Conflict, InvalidInput
from gep.gateway.uploads import UploadService, UploadSession
from gep.gateway.uploads.service import quota_exceeded

router = APIRouter(tags=["Uploads"])

JSON = "application/json"
#: what an upload body may hold beyond the quota itself: the multipart framing
FRAMING_BYTES = 1 << 20
_RANGE = re.compile(r"^bytes (\d{1,19})-(\d{1,19})/(\d{1,19})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_ITEM = answer(GEOJSON, "The new STAC item (its Location header names it)", status=201)
_SESSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "filename", "size", "received"],
    "properties": {
        "id": {"type": "string"},
        "filename": {"type": "string"},
        "size": {"type": "integer"},
        "received": {"type": "integer", "description": "Bytes received from the start"},
        "collection": {"type": ["string", "null"]},
        "created": {"type": "string"},
        "expires": {"type": "string"},
    },
}
_OFFSET_HEADERS = {
    "Upload-Offset": {
        "description": "Bytes received from the start: the next chunk starts there",
        "schema": {"type": "integer"},
    },
    "Upload-Length": {"description": "The file's declared size", "schema": {"type": "integer"}},
}


def body_limits(quota_bytes: int) -> dict[str, int]:
    """The request-body caps of the routes that stream files (``gep.api.body_limit``): a body
    may be as large as the whole quota (the route holds it to what is left of the user's).
    Only ``POST /uploads`` and the chunks: the JSON of ``POST /uploads/sessions`` is read
    whole, so it keeps the ordinary cap."""
    cap = quota_bytes + FRAMING_BYTES
    return {"/uploads": cap, "/uploads/sessions/": cap}


def _service(request: Request) -> UploadService:
    svc = services(request)
    return UploadService(
        svc.store,
        svc.gateway.storage,
        quota_bytes=svc.settings.upload_quota_bytes,
        scratch=_scratch(request),
        data_usage=svc.data_usage,
    )


def _scratch(request: Request) -> Path:
    """The local folder bodies are streamed into (removed as soon as they are read)."""
    folder = (services(request).settings.home / "tmp" / "uploads").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _owner(viewer: Viewer) -> str:
    return str(viewer.user_id)


async def _created(request: Request, collection: str, item_id: str) -> Response:
    store = services(request).store
    content = await run_in_threadpool(store.get_item, collection, item_id)
    base = base_url(request)
    location = (
        f"{base}/stac/collections/{quote(collection, safe='')}/items/{quote(item_id, safe='')}"
    )
    return Response(
        render_item(content, base, collection, item_id, asset_urls(request)),
        status_code=201,
        media_type=GEOJSON,
        headers={"Location": location},
    )


@router.post(
    "/uploads",
    status_code=201,
    summary="Upload a file: it becomes a private STAC item in your collection",
    response_class=Response,
    responses={**_ITEM, **problems(400, 401, 403, 404, 409, 413, 415)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file (field 'file') and, optionally, the collection to put it "
            "in (field 'collection'; default: your own uploads collection)",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "collection": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def upload(request: Request) -> Response:
    """GeoTIFF (stored as a COG), GeoJSON, KML, KMZ, a zipped Shapefile, a GeoPackage (served
    back as GeoJSON), a CSV time series or a Sentinel-1 SAFE zip, told apart by their
    content. A file that is none of these, is cut short, has no footprint or a coordinate
    system that cannot be read is refused (400, naming the file and the reason) and leaves
    nothing behind; one that would pass the quota is refused with 413 and the numbers."""
    viewer = require_user(request)
    uploads = _service(request)
    usage = await run_in_threadpool(uploads.usage, _owner(viewer))
    work = Path(tempfile.mkdtemp(prefix="post-", dir=_scratch(request)))
    try:
        form = await receive_form(
            request, work / "upload", fields={"collection"}, limit=usage.available
        )
        if form.over:
            raise quota_exceeded(form.filename, form.size, usage)
        collection = form.fields.get("collection") or None
        cid, iid = await run_in_threadpool(
            uploads.ingest, viewer, form.path, form.filename, collection
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return await _created(request, cid, iid)


@router.get(
    "/uploads/usage",
    summary="Your storage: bytes used by your uploads, your quota, what is left",
    response_class=Response,
    responses={
        **answer(
            JSON,
            "used, quota and available, in bytes",
            schema={
                "type": "object",
                "required": ["used", "quota", "available"],
                "properties": {k: {"type": "integer"} for k in ("used", "quota", "available")},
            },
        ),
        **problems(401),
    },
)
async def usage(request: Request) -> Response:
    viewer = require_user(request)
    found = await run_in_threadpool(_service(request).usage, _owner(viewer))
    return Response(orjson.dumps(found.as_dict()), media_type=JSON)


# ---------------------------------------------------------------------- resumable uploads


def _session_answer(
    session: UploadSession, status: int = 200, extra: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(session.as_dict()),
        status_code=status,
        media_type=JSON,
        headers={**_offset_headers(session), **(extra or {})},
    )


def _offset_headers(session: UploadSession) -> dict[str, str]:
    return {
        "Upload-Offset": str(session.received),
        "Upload-Length": str(session.size),
        "Cache-Control": "no-store",
    }


def _declared(body: Any) -> tuple[str, int, str | None]:
    if not isinstance(body, dict):
        raise InvalidInput(
            'the body must be {"filename": "…", "size": <bytes>, "collection": "…"}',
            field="body",
        )
    filename, size, collection = body.get("filename"), body.get("size"), body.get("collection")
    if not isinstance(filename, str) or not filename.strip() or len(filename) > 256:
        raise InvalidInput(
            "filename must be the file's name (1 to 256 characters)", field="filename"
        )
    if _CONTROL.search(filename):
        raise InvalidInput("filename must not hold control characters", field="filename")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInput("size must be the file's size in bytes (an integer ≥ 1)", field="size")
    if collection is not None and not isinstance(collection, str):
        raise InvalidInput("collection must be a collection id (a string)", field="collection")
    name = filename.strip().replace("\\", "/").rsplit("/", 1)[-1] or "upload"
    return name, size, collection or None


@router.post(
    "/uploads/sessions",
    status_code=201,
    summary="Start a resumable upload (then PUT its chunks with Content-Range)",
    response_class=Response,
    responses={
        **answer(
            JSON,
            "The new session (its Location is where chunks go)",
            status=201,
            schema=_SESSION_SCHEMA,
        ),
        **problems(400, 401, 403, 404, 409, 413, 415),
    },
    openapi_extra=json_request(
        "The file's name and size, and optionally the collection to put it in",
        {
            "type": "object",
            "required": ["filename", "size"],
            "properties": {
                "filename": {"type": "string", "minLength": 1, "maxLength": 256},
                "size": {"type": "integer", "minimum": 1},
                "collection": {"type": ["string", "null"]},
            },
        },
    ),
)
async def open_session(request: Request) -> Response:
    """The quota and the collection are checked now, before any byte is sent; the session
    lasts a day."""
    viewer = require_user(request)
    name, size, collection = _declared(await json_body(request))
    session = await run_in_threadpool(
        _service(request).open_session, viewer, name, size, collection
    )
    location = f"{base_url(request)}/uploads/sessions/{session.id}"
    return _session_answer(session, 201, {"Location": location})


async def _session(request: Request, session_id: str) -> tuple[Viewer, UploadSession]:
    viewer = require_user(request)
    found = await run_in_threadpool(_service(request).sessions.get, _owner(viewer), session_id)
    return viewer, found


@router.get(
    "/uploads/sessions/{session_id}",
    summary="How much of a resumable upload has arrived",
    response_class=Response,
    responses={
        200: {
            "description": "The session; Upload-Offset is where the next chunk starts",
            "content": {JSON: {"schema": _SESSION_SCHEMA}},
            "headers": _OFFSET_HEADERS,
        },
        **problems(401, 404),
    },
)
async def get_session(session_id: str, request: Request) -> Response:
    _, session = await _session(request, session_id)
    return _session_answer(session)


@router.head(
    "/uploads/sessions/{session_id}",
    summary="How much of a resumable upload has arrived (headers only)",
    response_class=Response,
    responses={
        200: {"description": "Upload-Offset and Upload-Length", "headers": _OFFSET_HEADERS},
        **problems(401, 404),
    },
)
async def head_session(session_id: str, request: Request) -> Response:
    _, session = await _session(request, session_id)
    return Response(status_code=200, headers=_offset_headers(session))


@router.put(
    "/uploads/sessions/{session_id}",
    summary="Send the next chunk of a resumable upload (Content-Range: bytes a-b/size)",
    response_class=Response,
    responses={
        200: {
            "description": "Chunk stored; more are expected from Upload-Offset",
            "content": {JSON: {"schema": _SESSION_SCHEMA}},
            "headers": _OFFSET_HEADERS,
        },
        **_ITEM,
        **problems(
            400,
            401,
            404,
            409,
            413,
            s409="The chunk does not start where the received bytes end (the problem's "
            "expected_offset says where it must)",
        ),
    },
    openapi_extra={
        "parameters": [
            {
                "in": "header",
                "required": True,
                **param("Content-Range", "bytes first-last/size of this chunk"),
            }
        ],
        "requestBody": {
            "required": True,
            "description": "The chunk's bytes",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
    },
)
async def put_chunk(session_id: str, request: Request) -> Response:
    """Chunks arrive in order: one that starts elsewhere than where the received bytes end is
    refused (409, naming the offset expected), so a client that lost track asks (HEAD) and
    resumes. The chunk that completes the file answers 201 with the new item."""
    viewer, session = await _session(request, session_id)
    start, end = _content_range(request, session)
    uploads = _service(request)
    work = Path(tempfile.mkdtemp(prefix="chunk-", dir=_scratch(request)))
    try:
        chunk = work / "chunk"
        await receive_body(request, chunk, expected=end - start + 1)
        session = await run_in_threadpool(uploads.sessions.add, session, start, chunk)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not session.complete:
        return _session_answer(session)
    cid, iid = await run_in_threadpool(uploads.complete_session, viewer, session)
    return await _created(request, cid, iid)


def _content_range(request: Request, session: UploadSession) -> tuple[int, int]:
    header = request.headers.get("content-range", "")
    m = _RANGE.match(header.strip())
    if m is None:
        raise InvalidInput(
            f"Content-Range must read 'bytes first-last/{session.size}' (here: '{header[:80]}')",
            field="Content-Range",
        )
    start, end, total = (int(g) for g in m.groups())
    if total != session.size:
        raise InvalidInput(
            f"this upload was declared {session.size} bytes; the Content-Range says {total}",
            field="Content-Range",
        )
    if end < start or end >= total:
        raise InvalidInput(
            f"Content-Range bytes {start}-{end} is not a range within the {total} bytes",
            field="Content-Range",
        )
    if start != session.received:
        raise Conflict(
            f"this session has received {session.received} bytes: the next chunk must start "
            f"at byte {session.received}, not {start}",
            field="Content-Range",
            expected_offset=session.received,
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) != end - start + 1:
        raise InvalidInput(
            f"Content-Length {declared} differs from the {end - start + 1} bytes of the "
            "Content-Range",
            field="Content-Length",
        )
    return start, end


@router.delete(
    "/uploads/sessions/{session_id}",
    status_code=204,
    summary="Abandon a resumable upload (its chunks are removed)",
    responses={**no_content("Abandoned"), **problems(401, 404)},
)
async def drop_session(session_id: str, request: Request) -> Response:
    viewer, session = await _session(request, session_id)
    await run_in_threadpool(_service(request).sessions.drop, _owner(viewer), session.id)
    return Response(status_code=204)

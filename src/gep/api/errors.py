"""The one table that maps GEP errors to RFC 7807 problem+json responses.

Messages come from the raising code and already name the field at fault; this module only adds
the HTTP status, a type URI (OGC exception types where a standard names one) and the instance.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gep.core.errors import (
    Conflict,
    Forbidden,
    GepError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamUnavailable,
)
from gep.jobs.store import JobFailed
from gep.tiles.errors import TILER_ERRORS, as_gep_error

PROBLEM = "application/problem+json"
OGC_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"

#: error class -> (status, title)
STATUS: list[tuple[type[GepError], int, str]] = [
    (InvalidInput, 400, "Bad request"),
    (Unauthorized, 401, "Unauthorized"),
    (PaymentRequired, 402, "Not enough credits"),
    (Forbidden, 403, "Forbidden"),
    (TooManyRequests, 429, "Too many requests"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (PayloadTooLarge, 413, "Payload too large"),
    (UnsupportedMediaType, 415, "Unsupported media type"),
    (JobFailed, 500, "Job failed"),
    (UpstreamUnavailable, 502, "Upstream service unavailable"),
    (ServiceUnavailable, 503, "Service unavailable"),
]


def problem(
    status: int,
    title: str,
    detail: str,
    instance: str,
    kind: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    type_uri = (
        OGC_EXCEPTIONS + kind
        if kind.startswith("no-such-") or kind == "result-not-ready"
        else f"https://gep.dev/problems/{kind}"
    )
    body = {
        "type": type_uri,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def status_of(exc: GepError) -> tuple[int, str]:
    for cls, status, title in STATUS:
        if isinstance(exc, cls):
            return status, title
    return 500, "Internal error"


def install(app: FastAPI) -> None:
    @app.exception_handler(GepError)
    async def _gep(request: Request, exc: GepError) -> Response:
        status, title = status_of(exc)
        headers = None
        if status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="gep"'}
        elif status == 429 and exc.extra.get("retry_after"):
            headers = {"Retry-After": str(int(exc.extra["retry_after"]))}
        return problem(
            status,
            title,
            exc.message,
            request.url.path,
            exc.kind,
            headers,
            field=exc.field,
            **exc.extra,
        )

    async def _tiler(request: Request, exc: Exception) -> Response:
        # rio-tiler / rasterio / morecantile errors, named by parameter (gep.tiles.errors)
        return await _gep(request, as_gep_error(exc))

    for tiler_error in TILER_ERRORS:
        app.add_exception_handler(tiler_error, _tiler)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errs = exc.errors()
        first = errs[0] if errs else {}
        loc = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path"))
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errs
        )
        return problem(
            400,
            "Bad request",
            detail,
            request.url.path,
            "invalid-parameter-value",
            field=loc or None,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        kind = {
            404: "not-found",
            405: "method-not-allowed",
            401: "unauthorized",
            403: "forbidden",
        }.get(exc.status_code, "error")
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}; the landing page / lists what exists"
        return problem(
            exc.status_code,
            detail if exc.status_code != 404 else "Not found",
            detail,
            request.url.path,
            kind,
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        import logging

        logging.getLogger("gep.api").exception("unhandled error on %s", request.url.path)
        return problem(
            500,
            "Internal error",
            "the server failed to handle this request; the error was logged",
            request.url.path,
            "internal-error",
        )

"""What the OpenAPI document at ``/api`` promises, in one place: the problem+json answers, the
media types of answers that are not plain JSON, and request bodies the routers parse themselves.

Routers return ready-made ``Response`` objects (bytes spliced or serialised once) and parse their
own bodies (so that a syntax error says where it is), which FastAPI cannot see. Without these
declarations the document would promise only ``200`` and ``422`` where the server answers
``400``/``401``/``403``/``404``… problem+json, ``application/geo+json`` or a PNG. Clients
(and schemathesis, ``tests/test_schemathesis.py``) hold the server to what is written here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI

from gep.api.errors import PROBLEM

#: RFC 7807 with the members every GEP problem has; services add their own (``jobID``,
#: ``balance``, ``retry_after``…), so other members are allowed
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 7807 problem: what went wrong, and the field at fault when one is",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What to change, naming the field"},
        "instance": {"type": "string", "description": "The path the request was made to"},
        "field": {"type": "string", "description": "The parameter or body member at fault"},
    },
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API token (gep_<id>_<secret>: gep users token, POST /accounts/tokens) or "
    "a session token (POST /accounts/login)",
}

_WHY: dict[int, str] = {
    400: "Bad request: a parameter or the body is malformed or out of range",
    401: "Credentials are needed, or the ones sent are wrong, expired or revoked",
    402: "Not enough credits for the price of the job",
    403: "The caller may not do this (role or ownership)",
    404: "No such object, or one the caller may not see",
    409: "Conflict with the current state (exists already, or busy)",
    415: "The body's media type is not accepted here",
    416: "The byte range asked for lies past the end of the file (Content-Range: bytes */size)",
    429: "Too many attempts; wait for Retry-After seconds",
    500: "The job failed (its error is the detail)",
    413: "The body is larger than the server accepts (GEP_MAX_BODY_BYTES)",
    502: "A service this request depends on (the identity provider) did not answer; retry later",
    503: "The server cannot do this as it is configured",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme to use (Bearer)",
            "schema": {"type": "string"},
            "required": True,
        }
    },
    416: {
        "Content-Range": {
            "description": "bytes */size: the size of the file",
            "schema": {"type": "string"},
            "required": True,
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}

Responses = dict[int | str, dict[str, Any]]


def problems(*statuses: int, **why: str) -> Responses:
    """Problem+json responses for these statuses; ``why`` (e.g. ``s404="no such job"``) refines
    the description of one of them."""
    out: Responses = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": why.get(f"s{status}", _WHY[status]),
            "content": {PROBLEM: {"schema": PROBLEM_REF}},
        }
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        out[status] = entry
    return out


def answer(
    media: str | Sequence[str],
    description: str,
    *,
    status: int = 200,
    schema: dict[str, Any] | None = None,
) -> Responses:
    """A success response of the given media type(s), for routes that build their ``Response``
    themselves (use them with ``response_class=Response``)."""
    types = [media] if isinstance(media, str) else list(media)
    content = {t: ({"schema": schema} if schema is not None else {}) for t in types}
    return {status: {"description": description, "content": content}}


def no_content(description: str, status: int = 204) -> Responses:
    return {status: {"description": description}}


def json_request(
    description: str,
    schema: dict[str, Any] | None = None,
    *,
    media: Sequence[str] = ("application/json",),
    required: bool = True,
) -> dict[str, Any]:
    """``openapi_extra`` for a body a router parses itself (``gep.api.deps.json_body``)."""
    body_schema = schema if schema is not None else {"type": "object"}
    return {
        "requestBody": {
            "description": description,
            "required": required,
            "content": {m: {"schema": body_schema} for m in media},
        }
    }


def query(*params: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for query parameters a router reads from ``request.query_params``."""
    return {"parameters": [{"in": "query", **p} for p in params]}


def request_header(name: str, description: str) -> dict[str, Any]:
    """``openapi_extra`` for a request header a router reads itself (``Prefer``)."""
    return {
        "parameters": [
            {"in": "header", "name": name, "description": description, "schema": {"type": "string"}}
        ]
    }


def param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "description": description, "schema": schema or {"type": "string"}}


def _finish(doc: dict[str, Any]) -> dict[str, Any]:
    """Request validation answers 400 problem+json (``gep.api.errors``), never FastAPI's 422;
    every operation that takes a body may answer 413 (the body cap is middleware, which no
    route declares); and the Problem schema every error refers to."""
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            checked = "requestBody" in operation or any(
                p.get("in") != "path" for p in operation.get("parameters", [])
            )
            if responses.pop("422", None) is not None and checked and "400" not in responses:
                # (a text path parameter cannot fail FastAPI's checks: no 400 for it alone)
                responses["400"] = problems(400)[400]
            if "requestBody" in operation:
                responses.setdefault("413", problems(413)[413])
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {"bearer": BEARER}
    doc["security"] = [{}, {"bearer": []}]  # anonymous reads public things; a token the rest
    return doc


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the finished document (built once, then cached)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _finish(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

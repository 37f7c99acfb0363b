"""``/insar``: interferometric pair search over the catalogue."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import caller
from gep.api.deps import get_store, json_body
from gep.api.openapi import answer, json_request, problems
from gep.catalog.insar import find_pairs, small_baseline_network
from gep.catalog.insar import stack_search as find_stack
from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.errors import InvalidInput, NotFound
from gep.core.geometry import parse_area
from gep.processes.base import parse_item_ref

router = APIRouter(prefix="/insar", tags=["InSAR"])

_PLOTS = ("application/json", "image/png", "image/svg+xml")
_STACK_PARAMS: dict[str, Any] = {
    "aoi": {
        "type": ["array", "object"],
        "items": {"type": "number"},
        "description": "[w, s, e, n] or a GeoJSON geometry",
    },
    "datetime": {"type": "string", "description": "An RFC 3339 interval a/b"},
    "collections": {"type": "array", "items": {"type": "string"}},
    "relative_orbit": {"type": "integer"},
    "reference": {"type": "string", "description": "The reference item's id"},
    "min_coverage": {"type": "number", "minimum": 0, "maximum": 1},
    "format": {"type": "string", "enum": ["json", "png", "svg"]},
}
_STACK_BODY = {
    "type": "object",
    "required": ["aoi"],
    "additionalProperties": False,
    "properties": _STACK_PARAMS,
}


@router.get(
    "/pairs",
    summary="Secondaries that pair with a reference, with their baselines",
    responses=problems(400, 401),
)
async def pairs(
    request: Request,
    reference: str = Query(
        ..., description='The reference item: "C/I" or ".../collections/C/items/I"'
    ),
    max_bperp: float | None = Query(None, ge=0, description="Largest |perpendicular baseline| (m)"),
    max_btemp: float | None = Query(None, ge=0, description="Largest |temporal baseline| (days)"),
    min_overlap: float = Query(
        0.5, ge=0, le=1, description="Smallest footprint overlap (fraction)"
    ),
    sortby: str = Query("btemp", description="btemp, bperp, datetime or overlap; - for descending"),
    limit: int = Query(100, ge=1, le=10000),
    store: CatalogStore = Depends(get_store),
) -> Response:
    """Compatible secondaries (same track, pass, beam mode, swath or burst, a common
    polarisation, enough overlap) with ``bperp``, ``bpar``, ``btemp`` and ``overlap``, and each
    pair ready as ``dinsar`` inputs. Baselines follow ISCE2's definitions and signs."""
    collection, item_id = parse_item_ref(reference)
    viewer = caller(request)

    def run() -> dict[str, Any]:
        try:
            ref = orjson.loads(store.get_item(collection, item_id, viewer))
        except NotFound as exc:
            raise InvalidInput(f"reference: {exc.message}", field="reference") from None
        return find_pairs(
            store, ref, max_bperp=max_bperp, max_btemp=max_btemp, min_overlap=min_overlap,
            sortby=sortby, limit=limit, viewer=viewer,
        )  # fmt: skip

    result = await run_in_threadpool(run)
    return Response(orjson.dumps(result), media_type="application/json")


def _stack(store: CatalogStore, body: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    from gep.core.timeutil import parse_datetime_interval

    known = {
        "aoi",
        "datetime",
        "collections",
        "relative_orbit",
        "reference",
        "min_coverage",
        "format",
    }
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidInput(f"unknown stack parameters: {', '.join(unknown)}", field=unknown[0])
    when = parse_datetime_interval(body["datetime"]) if body.get("datetime") else None
    orbit = body.get("relative_orbit")
    if orbit is not None and (isinstance(orbit, bool) or not isinstance(orbit, int)):
        raise InvalidInput("relative_orbit must be an integer", field="relative_orbit")
    collections = body.get("collections")
    if collections is not None and not (
        isinstance(collections, list) and all(isinstance(c, str) for c in collections)
    ):
        raise InvalidInput("collections is a list of collection ids", field="collections")
    reference = body.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise InvalidInput("reference is an item id", field="reference")
    return find_stack(
        store,
        aoi=parse_area(body.get("aoi")),
        datetime=when,
        collections=collections,
        relative_orbit=orbit,
        reference=reference,
        min_coverage=_number(body, "min_coverage", 0.5),
        viewer=viewer,
    )


def _number(body: dict[str, Any], key: str, default: float | None = None) -> float:
    """A number member of the body; without a default it is required."""
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        what = "is required (a number)" if default is None else "must be a number"
        raise InvalidInput(f"{key} {what}", field=key)
    return float(value)


def _acquisition(a: Any) -> bool:
    """One entry of a stack's ``acquisitions``, as ``/insar/stack`` answers them."""
    return (
        isinstance(a, dict)
        and isinstance(a.get("id"), str)
        and all(
            isinstance(a.get(k), int | float) and not isinstance(a.get(k), bool)
            for k in ("btemp", "bperp")
        )
    )


def _plot(stack: dict[str, Any], network: dict[str, Any] | None, fmt: str) -> Response:
    """Perpendicular baseline against time, the network's pairs as lines between them."""
    import io
    from datetime import datetime

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.dates import date2num

    acqs = stack["acquisitions"]
    when = {
        a["id"]: float(date2num(datetime.fromisoformat(str(a["datetime"]).replace("Z", "+00:00"))))
        for a in acqs
    }
    bperp = {a["id"]: a["bperp"] for a in acqs}
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    if network is not None:
        for p in network["pairs"]:
            a, b = p["reference"].split("/")[-1], p["secondary"].split("/")[-1]
            ax.plot([when[a], when[b]], [bperp[a], bperp[b]], color="0.7", lw=0.6, zorder=1)
    ax.scatter([when[i] for i in when], [bperp[i] for i in when], s=14, zorder=2)
    ref = stack["reference"]
    if ref in when:
        ax.scatter(
            [when[ref]], [bperp[ref]], s=60, marker="*", color="C3", zorder=3, label="reference"
        )
        ax.legend(loc="best")
    track = stack["track"]
    title = f"{track['platform_family']} track {track['relative_orbit']} ({track['orbit_state']})"
    ax.set_title(f"{title}: {len(acqs)} acquisitions", fontsize=10)
    ax.xaxis_date()
    ax.set_xlabel("acquisition date")
    ax.set_ylabel("perpendicular baseline (m)")
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    return Response(buf.getvalue(), media_type="image/png" if fmt == "png" else "image/svg+xml")


def _format(body: dict[str, Any]) -> str:
    fmt = str(body.get("format", "json"))
    if fmt not in ("json", "png", "svg"):
        raise InvalidInput("format is json, png or svg", field="format")
    return fmt


@router.post(
    "/stack",
    summary="A stack over an area, with baselines",
    response_class=Response,
    responses={
        **answer(_PLOTS, "The stack (JSON), or its baseline/time plot (PNG, SVG)"),
        **problems(400, 401, 415),
    },
    openapi_extra=json_request("The stack's area, time and track", _STACK_BODY),
)
async def stack(request: Request, store: CatalogStore = Depends(get_store)) -> Response:
    """Body: ``aoi`` ([w, s, e, n] or GeoJSON), optional ``datetime`` interval, ``collections``,
    ``relative_orbit`` (else the best-covering track), ``reference`` (item id), ``min_coverage``
    (0.5) and ``format`` (``json``, or a baseline/time plot as ``png`` or ``svg``)."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    fmt = _format(body)
    result = await run_in_threadpool(_stack, store, body, caller(request))
    if fmt != "json":
        return await run_in_threadpool(_plot, result, None, fmt)
    return Response(orjson.dumps(result), media_type="application/json")


@router.post(
    "/network",
    summary="A small-baseline network for SBAS",
    response_class=Response,
    responses={
        **answer(_PLOTS, "The network (JSON), or its plot over the stack (PNG, SVG)"),
        **problems(400, 401, 415),
    },
    openapi_extra=json_request(
        "A stack (its parameters) or its acquisitions, and the network's limits",
        {
            "type": "object",
            "required": ["max_btemp", "max_bperp"],
            "oneOf": [{"required": ["stack"]}, {"required": ["acquisitions"]}],
            "properties": {
                "stack": _STACK_BODY,
                "acquisitions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "btemp", "bperp"],
                        "properties": {
                            "id": {"type": "string"},
                            "btemp": {"type": "number"},
                            "bperp": {"type": "number"},
                            "collection": {"type": "string"},
                        },
                    },
                },
                "max_btemp": {"type": "number", "minimum": 0},
                "max_bperp": {"type": "number", "minimum": 0},
                "min_connections": {"type": "integer", "minimum": 1},
                "format": {"type": "string", "enum": ["json", "png", "svg"]},
            },
        },
    ),
)
async def network(request: Request, store: CatalogStore = Depends(get_store)) -> Response:
    """Body: ``stack`` (the parameters of ``/insar/stack``) or ``acquisitions`` (a stack's
    list), ``max_btemp`` (days), ``max_bperp`` (m), ``min_connections`` (2), ``format``."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    fmt = _format(body)
    viewer = caller(request)

    def run() -> tuple[dict[str, Any] | None, dict[str, Any]]:
        if "acquisitions" in body and "stack" in body:
            raise InvalidInput("give either stack or acquisitions, not both", field="stack")
        if "acquisitions" in body:
            stack_result = None
            acqs = body["acquisitions"]
            if not isinstance(acqs, list) or not all(_acquisition(a) for a in acqs):
                raise InvalidInput(
                    "acquisitions is a list of {id, btemp, bperp[, collection]}",
                    field="acquisitions",
                )
        elif isinstance(body.get("stack"), dict):
            stack_result = _stack(
                store, {k: v for k, v in body["stack"].items() if k != "format"}, viewer
            )
            acqs = stack_result["acquisitions"]
        else:
            raise InvalidInput(
                "give either stack (the /insar/stack parameters) or acquisitions", field="stack"
            )
        max_btemp, max_bperp = _number(body, "max_btemp"), _number(body, "max_bperp")
        links = body.get("min_connections", 2)
        if isinstance(links, bool) or not isinstance(links, int) or links < 1:
            raise InvalidInput("min_connections is a whole number >= 1", field="min_connections")
        net = small_baseline_network(
            acqs, max_btemp=max_btemp, max_bperp=max_bperp, min_connections=links,
        )  # fmt: skip
        return stack_result, net

    stack_result, net = await run_in_threadpool(run)
    if fmt != "json":
        if stack_result is None:
            raise InvalidInput(
                "a plot needs the stack parameters, not a list of acquisitions", field="format"
            )
        return await run_in_threadpool(_plot, stack_result, net, fmt)
    return Response(orjson.dumps({**net, **({"stack": stack_result} if stack_result else {})}),
                    media_type="application/json")  # fmt: skip

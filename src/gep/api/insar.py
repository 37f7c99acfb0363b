"""``/insar``: interferometric pair search over the catalogue."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.deps import get_store
from gep.catalog.insar import find_pairs
from gep.catalog.store import CatalogStore
from gep.core.errors import InvalidInput, NotFound
from gep.jobs.engine import parse_item_ref

router = APIRouter(prefix="/insar", tags=["InSAR"])


@router.get("/pairs", summary="Secondaries that pair with a reference, with their baselines")
async def pairs(
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

    def run() -> dict[str, Any]:
        try:
            ref = orjson.loads(store.get_item(collection, item_id))
        except NotFound as exc:
            raise InvalidInput(f"reference: {exc.message}", field="reference") from None
        return find_pairs(
            store, ref, max_bperp=max_bperp, max_btemp=max_btemp, min_overlap=min_overlap,
            sortby=sortby, limit=limit,
        )  # fmt: skip

    result = await run_in_threadpool(run)
    return Response(orjson.dumps(result), media_type="application/json")

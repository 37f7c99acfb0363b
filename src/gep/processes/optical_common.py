"""What the optical services (``offset-tracking``, ``hotspots``) share: product inputs, the
checks made from catalogue metadata before a job exists, staging, dates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from gep.core.errors import InvalidInput
from gep.core.geometry import parse_area
from gep.io.optical import band_asset
from gep.processes.base import ITEM_REF, ProcessContext

PRODUCT_REFS: dict[str, Any] = {
    "items": {"anyOf": [{"type": "string"}, {"type": "object"}], "format": ITEM_REF}
}


def products_field(description: str, *, min_length: int, required: bool = True) -> Any:
    """A list of catalogue item references (``"C/I"`` or ``{"href": ...}``), checked to exist by
    the API before the service's ``preflight`` sees them as ``items["products[k]"]``."""
    default: Any = ... if required else None
    return Field(
        default,
        min_length=min_length,
        max_length=500,
        description=description + ' — each "C/I" or {"href": ".../collections/C/items/I"}',
        json_schema_extra=PRODUCT_REFS,
    )


def _area(value: Any) -> Any:
    if value is not None:
        parse_area(value)
    return value


#: an area of interest, checked when the request is validated
Aoi = Annotated[list[float] | dict[str, Any] | None, AfterValidator(_area)]


def aoi_field(description: str) -> Any:
    return Field(
        None,
        description="Area of interest: [west, south, east, north] or a GeoJSON geometry; "
        + description,
    )


def listed_items(items: dict[str, dict[str, Any]], name: str, count: int) -> list[dict[str, Any]]:
    return [items[f"{name}[{k}]"] for k in range(count) if f"{name}[{k}]" in items]


def aoi_bounds(aoi: Any) -> tuple[float, float, float, float] | None:
    if aoi is None:
        return None
    w, s, e, n = parse_area(aoi).bounds
    return float(w), float(s), float(e), float(n)


def item_datetime(item: dict[str, Any], field: str) -> datetime:
    """The acquisition time: ``datetime``, else ``start_datetime``; refused without either."""
    props = item.get("properties") or {}
    text = props.get("datetime") or props.get("start_datetime")
    if not text:
        raise InvalidInput(
            f"{field}: item '{item.get('id')}' has no datetime; a date is needed to order the "
            "images",
            field=field,
        )
    stamp = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return stamp


def item_grid(item: dict[str, Any], asset: str) -> tuple[str | None, tuple[float, ...] | None,
                                                         tuple[int, int] | None]:  # fmt: skip
    """(CRS, transform, shape) of an asset from the projection extension (asset, then item
    properties), each None when not given: enough to refuse mismatched grids before a job."""
    props = item.get("properties") or {}
    a = (item.get("assets") or {}).get(asset) or {}

    def get(key: str) -> Any:
        return a.get(key, props.get(key))

    code = get("proj:code") or (f"EPSG:{get('proj:epsg')}" if get("proj:epsg") else None)
    transform = get("proj:transform")
    shape = get("proj:shape")
    return (
        str(code) if code else None,
        tuple(float(v) for v in transform[:6]) if transform else None,
        (int(shape[0]), int(shape[1])) if shape else None,
    )


def check_band_grids(
    items: list[dict[str, Any]], band: str | None, name: str = "inputs.products"
) -> list[str]:
    """Each item's asset for ``band`` (refused naming the item without it), and CRS /
    resolution agreement where the items declare them (``proj:*``)."""
    keys = [asset_for(item, band, f"{name}[{k}]") for k, item in enumerate(items)]
    first: tuple[str | None, tuple[float, ...] | None] | None = None
    for k, (item, key) in enumerate(zip(items, keys, strict=True)):
        crs, transform, _ = item_grid(item, key)
        if first is None:
            first = (crs, transform)
            continue
        crs0, t0 = first
        if crs and crs0 and crs != crs0:
            raise InvalidInput(
                f"{name}[{k}] is in {crs}, {name}[0] in {crs0}: the images must share one CRS "
                "(reproject them onto one grid first)",
                field=f"{name}[{k}]",
            )
        if (
            transform
            and t0
            and (
                abs(abs(transform[0]) - abs(t0[0])) > 1e-6 * abs(t0[0])
                or abs(abs(transform[4]) - abs(t0[4])) > 1e-6 * abs(t0[4])
            )
        ):
            raise InvalidInput(
                f"{name}[{k}] has {abs(transform[0]):g} m pixels, {name}[0] {abs(t0[0]):g} m: the "
                "images must share one resolution (resample them onto one grid first)",
                field=f"{name}[{k}]",
            )
    return keys


def asset_for(item: dict[str, Any], band: str | None, field: str) -> str:
    """The raster asset to read: ``band`` looked up by :func:`band_asset`, or, without a band,
    the item's only raster with the ``data`` role (an uploaded GeoTIFF) or its red band."""
    if band is not None:
        return band_asset(item, band, field=field)
    assets = item.get("assets") or {}
    rasters = [
        k
        for k, a in assets.items()
        if str(a.get("href", "")).lower().split("?")[0].endswith((".tif", ".tiff", ".jp2"))
        and "data" in (a.get("roles") or ["data"])
    ]
    if len(rasters) == 1:
        return rasters[0]
    try:
        return band_asset(item, "red", field=field)
    except InvalidInput:
        raise InvalidInput(
            f"{field}: item '{item.get('id')}' has several rasters ({', '.join(sorted(rasters))})"
            "; say which with inputs.band",
            field="inputs.band",
        ) from None


def stage_asset(ctx: ProcessContext, ref: Any, key: str) -> Path:
    _, path = ctx.stage(ref, key)
    assert path is not None
    return path

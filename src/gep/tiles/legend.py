"""Legends of items and of bare colour maps, as JSON (stops) or PNG (a colour bar).

An item's legend defaults to what its render says (``renders`` in its properties:
``gep.tiles.renders``) for the requested assets — the colour map, range or classes the tiles
are drawn with — and to the asset's unit (``raster:bands``); a request's ``colormap_name`` and
``rescale`` override them as they do a tile's. The drawing is :mod:`gep.io.legend`'s, whose
colours are rio-tiler's own, so a legend is the key to the tiles it stands beside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from gep.core.errors import InvalidInput, NotFound
from gep.core.render import RenderClass
from gep.io.legend import LegendSpec, colormap, legend_json, legend_png
from gep.tiles.renders import render_for, render_rescale, renders_of

PNG = "image/png"
JSON = "application/json"
FORMATS = ("json", "png")


def parse_rescale(text: str | None) -> tuple[float, float] | None:
    """``min,max`` → (min, max); refused (naming ``rescale``) unless two finite numbers with
    min < max."""
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise InvalidInput(
            f"rescale: '{text}' is not min,max (two numbers, e.g. rescale=-0.05,0.05)",
            field="rescale",
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InvalidInput(
            f"rescale: '{text}' is not a range (finite min,max with min < max)", field="rescale"
        )
    return lo, hi


def parse_format(text: str | None) -> str:
    fmt = (text or "json").strip().lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"f: '{text}' is not a legend format; use json or png", field="f")
    return fmt


def check_colormap(name: str | None) -> str | None:
    """A colour map name as rio-tiler knows it, refused by name otherwise."""
    if name is None or not name.strip():
        return None
    colormap(name.strip())
    return name.strip()


def generic_spec(
    colormap_name: str | None, rescale: str | None, title: str | None, unit: str | None
) -> LegendSpec:
    """The legend of a colour map over a range (``GET /legend``)."""
    name = check_colormap(colormap_name)
    if name is None:
        raise InvalidInput(
            "colormap_name: a legend needs a colour map (e.g. colormap_name=viridis)",
            field="colormap_name",
        )
    rng = parse_rescale(rescale)
    return LegendSpec((title or name).strip(), (unit or "").strip(), name, rng or (0.0, 1.0))


def item_spec(
    item: Mapping[str, Any],
    assets: Sequence[str],
    colormap_name: str | None = None,
    rescale: str | None = None,
) -> LegendSpec:
    """The legend of an item's assets: its render's colours, range or classes (when it has a
    render of exactly these assets), the request's ``colormap_name``/``rescale`` overriding
    them. Without ``assets``, an item with one render has the legend of that render."""
    item_assets = item.get("assets") or {}
    if not assets:
        renders = renders_of(item)
        if len(renders) != 1:
            names = ", ".join(sorted(renders)) or "none"
            raise InvalidInput(
                f"assets: name the asset whose legend to draw (this item's renders: {names})",
                field="assets",
            )
        assets = [str(a) for a in next(iter(renders.values())).get("assets") or []]
    for key in assets:
        if key not in item_assets:
            raise NotFound(
                f"assets: the item has no asset '{key}' (it has: "
                + ", ".join(sorted(item_assets))
                + ")",
                field="assets",
            )
    render = render_for(item, assets) or {}
    asset = item_assets.get(assets[0]) or {}
    unit = _unit(asset)
    title = str(render.get("title") or asset.get("title") or assets[0])
    name = check_colormap(colormap_name)
    rng = parse_rescale(rescale)
    if name is None and rng is None and isinstance(render.get("colormap"), Mapping):
        return LegendSpec(title, unit, classes=_classes(render["colormap"], asset))
    name = name or (str(render["colormap_name"]) if render.get("colormap_name") else None)
    if name is None:
        raise InvalidInput(
            f"colormap_name: the item declares no colour map for {', '.join(assets)}; "
            "give one (e.g. colormap_name=viridis)",
            field="colormap_name",
        )
    if rng is None:
        pairs = render_rescale(render)
        rng = pairs[0] if pairs else _stats_range(asset)
    if rng is None:
        raise InvalidInput(
            f"rescale: the item declares no range for {', '.join(assets)}; give one as "
            "rescale=min,max",
            field="rescale",
        )
    return LegendSpec(title, unit, name, rng)


def _unit(asset: Mapping[str, Any]) -> str:
    bands = asset.get("raster:bands") or []
    if bands and isinstance(bands[0], Mapping):
        return str(bands[0].get("unit") or "")
    return ""


def _stats_range(asset: Mapping[str, Any]) -> tuple[float, float] | None:
    bands = asset.get("raster:bands") or []
    stats = bands[0].get("statistics") if bands and isinstance(bands[0], Mapping) else None
    if isinstance(stats, Mapping):
        lo, hi = stats.get("minimum"), stats.get("maximum")
        if isinstance(lo, int | float) and isinstance(hi, int | float) and lo < hi:
            return float(lo), float(hi)
    return None


def _classes(table: Mapping[str, Any], asset: Mapping[str, Any]) -> tuple[RenderClass, ...]:
    """Classes from a render's ``colormap`` (value → RGBA) named by the asset's
    ``classification:classes``."""
    names = {
        int(c["value"]): c
        for c in asset.get("classification:classes") or []
        if isinstance(c, Mapping) and "value" in c
    }
    out = []
    for value, rgba in sorted(table.items(), key=lambda kv: int(kv[0])):
        meta = names.get(int(value), {})
        colour = "#" + "".join(f"{int(c):02x}" for c in list(rgba)[:4])
        out.append(
            RenderClass(
                int(value),
                str(meta.get("name") or value),
                colour,
                str(meta.get("description") or ""),
            )
        )
    return tuple(out)


def render(spec: LegendSpec, fmt: str) -> tuple[bytes, str]:
    """The legend's bytes and media type."""
    if fmt == "png":
        return legend_png(spec), PNG
    return orjson.dumps(legend_json(spec)), JSON

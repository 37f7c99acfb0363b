"""Legends drawn with the tiles' own colours: a colour map and a range (or classes) → stops as
JSON and a PNG colour bar.

Colours come from rio-tiler's pipeline itself (``ImageData.rescale`` then ``apply_colormap``, the
order TiTiler renders a tile in), not from a second implementation of it, so a legend's colour
for a value is the colour a tile gives that value. Kept in ``gep.io`` (below the services) so
that a service's KMZ carries the same legend as the map (``gep.io.writers.write_kmz``); the
``/legend`` routes build on it through ``gep.tiles.legend``.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gep.core.errors import InvalidInput
from gep.core.render import RenderClass, RenderHint, RenderKind

#: the colour bar's size in the PNG (pixels); each column is one value
BAR_WIDTH, BAR_HEIGHT = 320, 18
#: stops of a continuous legend's JSON (evenly spaced, both ends included)
STOPS = 11


@dataclass(frozen=True)
class LegendSpec:
    """What a legend shows: a colour map over a range, or classes."""

    title: str
    unit: str = ""
    colormap_name: str | None = None
    rescale: tuple[float, float] | None = None
    classes: tuple[RenderClass, ...] = field(default_factory=tuple)

    @property
    def is_classes(self) -> bool:
        return bool(self.classes)


def spec_of(hint: RenderHint, rescale: tuple[float, float] | None = None) -> LegendSpec:
    """The legend of a declared output (``rescale``: the range chosen at publication)."""
    if hint.kind is RenderKind.CLASSES:
        return LegendSpec(hint.title, hint.unit, classes=hint.classes)
    return LegendSpec(hint.title, hint.unit, hint.colormap_name, rescale or hint.rescale)


def colormap_names() -> list[str]:
    from rio_tiler.colormap import cmap

    return sorted(cmap.list())


@lru_cache(maxsize=64)
def colormap(name: str) -> dict[int, tuple[int, int, int, int]]:
    """rio-tiler's colour map ``name`` (value 0–255 → RGBA); refused (naming
    ``colormap_name``) when rio-tiler has none of that name."""
    from rio_tiler.colormap import cmap
    from rio_tiler.errors import InvalidColorMapName

    try:
        table: Any = cmap.get(name)
    except (InvalidColorMapName, KeyError):
        sample = ", ".join(n for n in ("viridis", "rdbu_r", "greys_r", "twilight", "magma"))
        raise InvalidInput(
            f"colormap_name: '{name}' is not a colour map; use one of rio-tiler's "
            f"{len(colormap_names())} names (e.g. {sample}), lower case",
            field="colormap_name",
        ) from None
    return {int(k): (int(v[0]), int(v[1]), int(v[2]), int(v[3])) for k, v in table.items()}


def colours(values: NDArray[Any], name: str, rescale: tuple[float, float]) -> NDArray[np.uint8]:
    """RGBA (N, 4) of ``values`` as a tile draws them with ``rescale`` and ``colormap_name``:
    rio-tiler's rescale to bytes, then its colour map."""
    from rio_tiler.models import ImageData

    lo, hi = rescale
    # a copy (rio-tiler rescales in place); NaN masked, as a tile's no-data is
    data = np.ma.masked_invalid(np.array(values, dtype="float64").reshape(1, 1, -1))
    data.data[data.mask] = lo
    img = ImageData(data)
    img.rescale(in_range=((lo, hi),))
    img = img.apply_colormap(colormap(name))
    rgb = np.asarray(img.array.data)[:, 0, :]
    alpha = np.asarray(img.alpha_mask)[0, :] if img.alpha_mask is not None else None
    if alpha is None:
        alpha = np.full(rgb.shape[1], 255)
    return np.vstack([rgb, alpha[None]]).T.astype(np.uint8)


def class_colours(values: NDArray[Any], classes: tuple[RenderClass, ...]) -> NDArray[np.uint8]:
    """RGBA (N, 4) of class values through rio-tiler's discrete colour map (transparent for a
    value that is no class)."""
    from rio_tiler.colormap import apply_cmap

    table = {c.value: c.rgba for c in classes}
    data = np.asarray(values).astype("int64").reshape(1, 1, -1)
    rgb, alpha = apply_cmap(data, table)  # type: ignore[arg-type]
    return np.vstack([rgb[:, 0, :], alpha[0][None]]).T.astype(np.uint8)


def hex_rgba(rgba: Any) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgba)


def legend_json(spec: LegendSpec) -> dict[str, Any]:
    """``{"title", "unit", "type": "continuous"|"classes", "colormap_name", "rescale",
    "stops": [{"value", "color": "#rrggbbaa"[, "name"]}]}``."""
    out: dict[str, Any] = {"title": spec.title, "unit": spec.unit}
    if spec.is_classes:
        rgba = class_colours(np.array([c.value for c in spec.classes]), spec.classes)
        out["type"] = "classes"
        out["stops"] = [
            {"value": c.value, "color": hex_rgba(col), "name": c.name,
             **({"description": c.description} if c.description else {})}
            for c, col in zip(spec.classes, rgba, strict=True)
        ]  # fmt: skip
        return out
    name, (lo, hi) = _continuous(spec)
    values = np.array([float(f"{v:.12g}") for v in np.linspace(lo, hi, STOPS)])
    out.update(type="continuous", colormap_name=name, rescale=[lo, hi])
    out["stops"] = [
        {"value": float(v), "color": hex_rgba(c)}
        for v, c in zip(values, colours(values, name, (lo, hi)), strict=True)
    ]
    return out


def _continuous(spec: LegendSpec) -> tuple[str, tuple[float, float]]:
    if not spec.colormap_name:
        raise InvalidInput("colormap_name: a legend needs a colour map", field="colormap_name")
    colormap(spec.colormap_name)  # refused early, by name
    if spec.rescale is None:
        raise InvalidInput(
            "rescale: a legend needs the range it spans, as rescale=min,max", field="rescale"
        )
    lo, hi = spec.rescale
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InvalidInput(
            f"rescale: {lo},{hi} is not a range (min,max with min < max, finite)", field="rescale"
        )
    return spec.colormap_name, (lo, hi)


def bar_values(rescale: tuple[float, float], width: int = BAR_WIDTH) -> NDArray[np.float64]:
    """The value each column of the PNG's colour bar shows (column centres)."""
    lo, hi = rescale
    return lo + (hi - lo) * (np.arange(width) + 0.5) / width


#: where the colour bar sits in a continuous legend's PNG (left, top)
BAR_ORIGIN = (16, 26)


def legend_png(spec: LegendSpec) -> bytes:
    """The legend as a PNG: the title (and unit), then a colour bar with ticks and values, or
    one swatch per class with its name. Colours are exactly :func:`colours` of the values."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=12)
    heading = spec.title
    if spec.unit and not spec.title.endswith(f"({spec.unit})"):
        heading = f"{spec.title} ({spec.unit})"
    if spec.is_classes:
        rows = len(spec.classes)
        img = Image.new("RGBA", (BAR_WIDTH + 32, 30 + 20 * rows), (255, 255, 255, 235))
        draw = ImageDraw.Draw(img)
        draw.text((8, 6), heading, fill=(0, 0, 0, 255), font=font)
        rgba = class_colours(np.array([c.value for c in spec.classes]), spec.classes)
        for k, (c, col) in enumerate(zip(spec.classes, rgba, strict=True)):
            y = 26 + 20 * k
            draw.rectangle([10, y, 26, y + 14], fill=tuple(int(v) for v in col), outline=(0, 0, 0))
            draw.text((34, y), f"{c.value}  {c.name}", fill=(0, 0, 0, 255), font=font)
        return _png(img)
    name, rng = _continuous(spec)
    x0, y0 = BAR_ORIGIN
    img = Image.new("RGBA", (BAR_WIDTH + 2 * x0, y0 + BAR_HEIGHT + 28), (255, 255, 255, 235))
    draw = ImageDraw.Draw(img)
    draw.text((x0 - 8, 6), heading, fill=(0, 0, 0, 255), font=font)
    bar = colours(bar_values(rng), name, rng)
    strip = np.broadcast_to(bar[None, :, :], (BAR_HEIGHT, BAR_WIDTH, 4)).copy()
    img.paste(Image.fromarray(strip, "RGBA"), (x0, y0))
    draw.rectangle([x0 - 1, y0 - 1, x0 + BAR_WIDTH, y0 + BAR_HEIGHT], outline=(0, 0, 0, 255))
    for t in np.linspace(0.0, 1.0, 5):
        x = x0 + round(t * (BAR_WIDTH - 1))
        draw.line([x, y0 + BAR_HEIGHT, x, y0 + BAR_HEIGHT + 4], fill=(0, 0, 0, 255))
        label = _tick(rng[0] + t * (rng[1] - rng[0]))
        w = draw.textlength(label, font=font)
        lx = min(max(x - w / 2, 0), img.width - w)
        draw.text((lx, y0 + BAR_HEIGHT + 6), label, fill=(0, 0, 0, 255), font=font)
    return _png(img)


def _tick(v: float) -> str:
    if v == 0:
        return "0"
    return f"{v:.3g}"


def _png(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()

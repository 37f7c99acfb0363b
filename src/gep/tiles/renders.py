"""How an item (or a collection) says its assets are drawn: the STAC ``render`` extension.

Services declare a colour map and a range per output (``gep.core.render``); publication writes
them as ``renders`` in the item's properties (or the collection's ``renders``). A tile, preview
or legend request that names no ``colormap_name``/``rescale`` of its own is drawn with the
render whose ``assets`` are exactly the requested ones, so that a bare
``…/tiles/WebMercatorQuad/{z}/{x}/{y}.png?assets=los_displacement`` already shows the
displacement in its diverging colours and symmetric range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def renders_of(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``renders`` of an item (in its properties) or of a collection (top level)."""
    props = doc.get("properties")
    found = (props.get("renders") if isinstance(props, Mapping) else None) or doc.get("renders")
    if not isinstance(found, Mapping):
        return {}
    return {str(k): dict(v) for k, v in found.items() if isinstance(v, Mapping)}


def render_for(doc: Mapping[str, Any], assets: Sequence[str]) -> dict[str, Any] | None:
    """The render drawing exactly ``assets`` (in any order), or None."""
    wanted = sorted(assets)
    if not wanted:
        return None
    for render in renders_of(doc).values():
        names = render.get("assets")
        if isinstance(names, list) and sorted(str(n) for n in names) == wanted:
            return render
    return None


def render_rescale(render: Mapping[str, Any]) -> list[tuple[float, float]] | None:
    """A render's ``rescale`` as (min, max) pairs, or None when absent or malformed."""
    value = render.get("rescale")
    if not isinstance(value, list) or not value:
        return None
    pairs: list[tuple[float, float]] = []
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            return None
        try:
            pairs.append((float(pair[0]), float(pair[1])))
        except (TypeError, ValueError):
            return None
    return pairs

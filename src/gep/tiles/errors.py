"""rio-tiler's, rasterio's and morecantile's exceptions as GEP errors naming the parameter.

titiler ships its own exception handlers (plain ``{"detail"}`` JSON, 500 for anything it does
not know); GEP answers every error from its one table (:mod:`gep.api.errors`), so the API
registers :func:`as_gep_error` for the classes in :data:`TILER_ERRORS` and nothing of
titiler's. Each maps to the parameter a caller changes to fix it.
"""

from __future__ import annotations

from morecantile.errors import MorecantileError
from rasterio.errors import RasterioError
from rio_tiler import errors as rte

from gep.core.errors import GepError, InvalidInput, NotFound, UpstreamUnavailable

#: what the API registers a handler for
TILER_ERRORS: tuple[type[Exception], ...] = (rte.RioTilerError, RasterioError, MorecantileError)

#: rio-tiler error → (GEP error class, parameter at fault)
_MAP: list[tuple[type[Exception], type[GepError], str]] = [
    (rte.TileOutsideBounds, NotFound, "tile"),
    (rte.PointOutsideBounds, NotFound, "lon,lat"),
    (rte.EmptyMosaicError, NotFound, "tile"),
    (rte.NoAssetFoundError, NotFound, "tile"),
    (rte.InvalidAssetName, NotFound, "assets"),
    (rte.MissingAssets, InvalidInput, "assets"),
    (rte.AssetAsBandError, InvalidInput, "asset_as_band"),
    (rte.InvalidColorMapName, InvalidInput, "colormap_name"),
    (rte.InvalidColorFormat, InvalidInput, "colormap"),
    (rte.InvalidExpression, InvalidInput, "expression"),
    (rte.InvalidBandName, InvalidInput, "expression"),
    (rte.MissingBands, InvalidInput, "expression"),
    (rte.InvalidFormat, InvalidInput, "format"),
    (rte.InvalidBufferSize, InvalidInput, "buffer"),
    (rte.MaxArraySizeError, InvalidInput, "max_size"),
    (rte.InvalidBounds, InvalidInput, "bbox"),
    (rte.MissingCRS, InvalidInput, "assets"),
]


def as_gep_error(exc: Exception) -> GepError:
    """The GEP error a tiler exception answers as: a 4xx naming the parameter, or a 502 when
    a remote raster failed to read."""
    message = str(exc) or type(exc).__name__
    for cls, gep_cls, field in _MAP:
        if isinstance(exc, cls):
            return gep_cls(f"{field}: {message}", field=field)
    if isinstance(exc, MorecantileError):
        return NotFound(f"tile: {message}", field="tile")
    if isinstance(exc, RasterioError):
        text = message
        if "/vsicurl/" in text or "/vsis3/" in text or "HTTP" in text:
            return UpstreamUnavailable(
                f"assets: the raster could not be read where it is stored: {text}", field="assets"
            )
        return InvalidInput(f"assets: the raster could not be read: {text}", field="assets")
    return InvalidInput(f"the request cannot be rendered: {message}", field=None)

"""Media types of the files GEP writes and publishes, named once.

Services declare their assets with these, the writers in :mod:`gep.io.writers` produce them,
and a client filters a job's assets by them; one spelling keeps the three in step (a COG typed
two ways would be two kinds of asset to a STAC client).
"""

from __future__ import annotations

#: a Cloud-Optimised GeoTIFF (STAC best practice's media type)
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
PNG = "image/png"
JP2 = "image/jp2"
CSV = "text/csv"
GEOJSON = "application/geo+json"
KMZ = "application/vnd.google-earth.kmz"

#: media types of rasters GDAL reads (STAC best practice's, rio-tiler's and older spellings),
#: without spaces and in lower case, as :func:`is_raster` compares them
RASTER_TYPES = frozenset(
    t.replace(" ", "")
    for t in (
        COG,
        "image/tiff; application=geotiff",
        "image/tiff; profile=cloud-optimized; application=geotiff",
        "image/vnd.stac.geotiff; cloud-optimized=true",
        "image/tiff",
        "image/x.geotiff",
        JP2,
    )
)
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2")


def is_raster(media_type: object, name: str = "") -> bool:
    """A GeoTIFF/COG or JPEG 2000: by its declared media type, or by its file name when it
    declares none. The one test the worker (which results to describe) and the tiles (which
    assets to draw) share, so a result described is a result drawn."""
    if isinstance(media_type, str) and media_type:
        return media_type.replace(" ", "").lower() in RASTER_TYPES
    return name.lower().endswith(RASTER_SUFFIXES)

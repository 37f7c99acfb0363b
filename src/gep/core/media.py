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

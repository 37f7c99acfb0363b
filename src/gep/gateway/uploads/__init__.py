"""Personal storage: a user's uploaded file becomes a STAC item in their collection.

``catalogue`` reads one local file (its kind told by its content: ``detect``) into item
metadata and the files to store — ``raster`` (GeoTIFF → COG, ``proj:*``, ``raster:bands``),
``vector`` (GeoJSON, KML, KMZ, zipped Shapefile, GeoPackage → GeoJSON in WGS84), ``table``
(CSV time series) and ``safe`` (Sentinel-1 SAFE zips, through the harvester's crosswalk).
``service`` stores the files (``uploads/<owner>/<item>/…``), writes the private item, keeps
the quota and removes files with their items; ``sessions`` holds resumable uploads in storage.
HTTP lives in ``gep.api.uploads``; this package knows nothing of it.
"""

from gep.gateway.uploads.model import Catalogued, DatetimeSource, StagedFile, UploadKind
from gep.gateway.uploads.service import (
    AREA,
    UploadService,
    Usage,
    collection_upload_folders,
    default_collection,
    remove_folders,
    upload_folders,
)
from gep.gateway.uploads.sessions import SessionStore, UploadSession

__all__ = [
    "AREA",
    "Catalogued",
    "DatetimeSource",
    "SessionStore",
    "StagedFile",
    "UploadKind",
    "UploadService",
    "UploadSession",
    "Usage",
    "collection_upload_folders",
    "default_collection",
    "remove_folders",
    "upload_folders",
]

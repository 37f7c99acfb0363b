"""One uploaded file → what the catalogue needs: its kind (from its content), its item
metadata and the files to store, each kind read by its own module."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from gep.gateway.uploads.detect import check_zip_bounds, detect
from gep.gateway.uploads.model import Catalogued, UploadKind
from gep.gateway.uploads.raster import catalogue_raster
from gep.gateway.uploads.safe import catalogue_safe
from gep.gateway.uploads.table import catalogue_table
from gep.gateway.uploads.vector import catalogue_vector

#: the suffix each kind's reader expects (GDAL picks some drivers by it)
SUFFIX = {
    UploadKind.GEOTIFF: ".tif",
    UploadKind.GEOJSON: ".geojson",
    UploadKind.KML: ".kml",
    UploadKind.KMZ: ".kmz",
    UploadKind.SHAPEFILE: ".zip",
    UploadKind.GEOPACKAGE: ".gpkg",
    UploadKind.CSV: ".csv",
    UploadKind.SENTINEL1_SAFE: ".zip",
}


def catalogue_file(
    path: Path, filename: str, workdir: Path, *, now: datetime, max_expand: int
) -> Catalogued:
    """Read the upload at ``path`` (sent as ``filename``); ``workdir`` is an empty folder the
    caller removes afterwards; a zip may expand to ``max_expand`` bytes at most.

    Every refusal is an ``InvalidInput`` naming the file and the reason.
    """
    kind = detect(path, filename)
    # the readers see the file under the suffix of its kind (a link: the bytes are not copied)
    named = workdir / f"input{SUFFIX[kind]}"
    os.symlink(path.resolve(), named)
    if kind in (UploadKind.SHAPEFILE, UploadKind.KMZ):
        check_zip_bounds(named, filename, max_expand)
    if kind is UploadKind.GEOTIFF:
        cat = catalogue_raster(named, filename, workdir, now)
    elif kind is UploadKind.CSV:
        cat = catalogue_table(named, filename, now)
    elif kind is UploadKind.SENTINEL1_SAFE:
        cat = catalogue_safe(named, filename)
    else:
        cat = catalogue_vector(named, filename, kind, workdir, now)
    # files to store are the real ones, not the links
    cat.files = [f if f.path != named else replace(f, path=path) for f in cat.files]
    return cat

"""OGC WMTS 1.0.0 capabilities (RESTful) for GEP's tile layers, so that QGIS and GDAL's WMTS
driver add a result as a layer from one URL.

titiler-core 2.x has no WMTS in its core; this writes the document from the tile matrix set
itself (morecantile): the matrices from the set's first level down to the deepest one served
(:data:`gep.tiles.reader.OVERZOOM` past the data's resolution), each layer's WGS84 bounding box
and ``TileMatrixSetLimits`` (so that a client asks only for tiles with data), and one
``ResourceURL`` template per layer that carries the layer's query parameters (assets,
rescale, colour map…). Top-left corners are in the CRS's own axis order, as the standard
requires and morecantile stores them.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from morecantile import TileMatrixSet

from gep.core.errors import InvalidInput

WMTS_NS = "http://www.opengis.net/wmts/1.0"
OWS_NS = "http://www.opengis.net/ows/1.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
MEDIA_TYPE = "application/xml"


@dataclass(frozen=True)
class WmtsLayer:
    """One layer: its identifier and title, its extent in WGS84 (lon/lat), its zooms and the
    tile URL template (``{TileMatrix}``, ``{TileCol}``, ``{TileRow}`` placeholders)."""

    identifier: str
    title: str
    bounds: tuple[float, float, float, float]
    minzoom: int
    maxzoom: int
    template: str
    format: str = "image/png"
    abstract: str = ""


def crs_urn(tms: TileMatrixSet) -> str:
    """The tile matrix set's CRS as an OGC URN (``urn:ogc:def:crs:EPSG::3857``)."""
    uri = str(tms.crs.root if hasattr(tms.crs, "root") else tms.crs)
    tail = uri.split("/def/crs/", 1)[-1].split("/")
    if len(tail) == 3:
        authority, version, code = tail
        return f"urn:ogc:def:crs:{authority}:{'' if version == '0' else version}:{code}"
    return uri


def _limits(
    tms: TileMatrixSet, bounds: tuple[float, float, float, float], z: int
) -> tuple[int, int, int, int]:
    """(min row, max row, min col, max col) of the tiles of zoom ``z`` over ``bounds``."""
    west, south, east, north = bounds
    eps = 1e-9
    ul = tms.tile(west + eps, north - eps, z)
    lr = tms.tile(east - eps, south + eps, z)
    matrix = tms.matrix(z)
    rows = sorted((ul.y, lr.y))
    cols = sorted((ul.x, lr.x))
    return (
        max(rows[0], 0),
        min(rows[1], matrix.matrixHeight - 1),
        max(cols[0], 0),
        min(cols[1], matrix.matrixWidth - 1),
    )


def capabilities(
    tms: TileMatrixSet, layers: Sequence[WmtsLayer], title: str, self_url: str
) -> bytes:
    """The capabilities document (UTF-8 XML) of ``layers``, all tiled on ``tms``."""
    if any(m.variableMatrixWidths for m in tms.tileMatrices):
        raise InvalidInput(
            f"tileMatrixSetId: '{tms.id}' has variable matrix widths, which WMTS 1.0 cannot "
            "describe; use WebMercatorQuad or WorldCRS84Quad",
            field="tileMatrixSetId",
        )
    ET.register_namespace("", WMTS_NS)
    ET.register_namespace("ows", OWS_NS)
    ET.register_namespace("xlink", XLINK_NS)
    w = f"{{{WMTS_NS}}}"
    o = f"{{{OWS_NS}}}"
    root = ET.Element(f"{w}Capabilities", {"version": "1.0.0"})
    ident = ET.SubElement(root, f"{o}ServiceIdentification")
    ET.SubElement(ident, f"{o}Title").text = title
    ET.SubElement(ident, f"{o}ServiceType").text = "OGC WMTS"
    ET.SubElement(ident, f"{o}ServiceTypeVersion").text = "1.0.0"
    ops = ET.SubElement(root, f"{o}OperationsMetadata")
    for name in ("GetCapabilities", "GetTile"):
        op = ET.SubElement(ops, f"{o}Operation", {"name": name})
        get = ET.SubElement(
            ET.SubElement(ET.SubElement(op, f"{o}DCP"), f"{o}HTTP"),
            f"{o}Get",
            {f"{{{XLINK_NS}}}href": self_url},
        )
        constraint = ET.SubElement(get, f"{o}Constraint", {"name": "GetEncoding"})
        ET.SubElement(ET.SubElement(constraint, f"{o}AllowedValues"), f"{o}Value").text = "RESTful"

    contents = ET.SubElement(root, f"{w}Contents")
    deepest = max((layer.maxzoom for layer in layers), default=tms.minzoom)
    deepest = min(deepest, tms.maxzoom)
    for layer in layers:
        el = ET.SubElement(contents, f"{w}Layer")
        ET.SubElement(el, f"{o}Title").text = layer.title
        if layer.abstract:
            ET.SubElement(el, f"{o}Abstract").text = layer.abstract
        box = ET.SubElement(el, f"{o}WGS84BoundingBox", {"crs": "urn:ogc:def:crs:OGC:2:84"})
        west, south, east, north = layer.bounds
        ET.SubElement(box, f"{o}LowerCorner").text = f"{west!r} {south!r}"
        ET.SubElement(box, f"{o}UpperCorner").text = f"{east!r} {north!r}"
        ET.SubElement(el, f"{o}Identifier").text = layer.identifier
        style = ET.SubElement(el, f"{w}Style", {"isDefault": "true"})
        ET.SubElement(style, f"{o}Identifier").text = "default"
        ET.SubElement(el, f"{w}Format").text = layer.format
        link = ET.SubElement(el, f"{w}TileMatrixSetLink")
        ET.SubElement(link, f"{w}TileMatrixSet").text = tms.id
        limits = ET.SubElement(link, f"{w}TileMatrixSetLimits")
        for z in range(tms.minzoom, min(layer.maxzoom, tms.maxzoom) + 1):
            min_row, max_row, min_col, max_col = _limits(tms, layer.bounds, z)
            lim = ET.SubElement(limits, f"{w}TileMatrixLimits")
            ET.SubElement(lim, f"{w}TileMatrix").text = tms.matrix(z).id
            ET.SubElement(lim, f"{w}MinTileRow").text = str(min_row)
            ET.SubElement(lim, f"{w}MaxTileRow").text = str(max_row)
            ET.SubElement(lim, f"{w}MinTileCol").text = str(min_col)
            ET.SubElement(lim, f"{w}MaxTileCol").text = str(max_col)
        ET.SubElement(
            el,
            f"{w}ResourceURL",
            {"format": layer.format, "resourceType": "tile", "template": layer.template},
        )

    matrix_set = ET.SubElement(contents, f"{w}TileMatrixSet")
    ET.SubElement(matrix_set, f"{o}Identifier").text = tms.id
    ET.SubElement(matrix_set, f"{o}SupportedCRS").text = crs_urn(tms)
    for z in range(tms.minzoom, deepest + 1):
        m = tms.matrix(z)
        tm = ET.SubElement(matrix_set, f"{w}TileMatrix")
        ET.SubElement(tm, f"{o}Identifier").text = m.id
        ET.SubElement(tm, f"{w}ScaleDenominator").text = repr(float(m.scaleDenominator))
        x0, y0 = m.pointOfOrigin
        ET.SubElement(tm, f"{w}TopLeftCorner").text = f"{float(x0)!r} {float(y0)!r}"
        ET.SubElement(tm, f"{w}TileWidth").text = str(m.tileWidth)
        ET.SubElement(tm, f"{w}TileHeight").text = str(m.tileHeight)
        ET.SubElement(tm, f"{w}MatrixWidth").text = str(m.matrixWidth)
        ET.SubElement(tm, f"{w}MatrixHeight").text = str(m.matrixHeight)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def finite_bounds(bounds: Sequence[float]) -> tuple[float, float, float, float]:
    """Geographic bounds clamped to the world (a layer's box must be finite and valid)."""
    west, south, east, north = (float(v) for v in bounds)
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        return (-180.0, -90.0, 180.0, 90.0)
    return (max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0))

"""``gep map``: a result as a map layer on the GEP server: its tile URLs for
QGIS, GDAL or a web map, the Geobrowser permalink that opens it, its value at a point, its
legend, and time series at a point."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import typer

from gep.cli.common import JSON_OPTION, client, console, emit, emit_json

app = typer.Typer(
    help="Results as map layers: tile URLs (XYZ, TileJSON, WMTS), point values, legends and "
    "time series at a point",
    no_args_is_help=True,
)


@app.command("urls")
def urls(
    collection: str = typer.Argument(..., help="The collection"),
    item: str = typer.Argument(None, help="An item; omitted: the collection as one mosaic"),
    asset: str = typer.Option(..., "--asset", "-a", help="The asset to draw"),
    tms: str = typer.Option("WebMercatorQuad", help="A morecantile tile matrix set"),
    colormap: str = typer.Option(None, help="A colour map name (default: the item's)"),
    rescale: str = typer.Option(None, help="MIN,MAX (default: the item's)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print a layer's XYZ template, TileJSON and WMTS capabilities URLs.

    QGIS: add the WMTS URL as a WMS/WMTS connection, or the XYZ template as an XYZ tile
    layer."""
    layer = client().layer_urls(
        collection, item, asset, tms=tms, colormap_name=colormap, rescale=rescale
    )
    if as_json:
        emit_json(layer)
        return
    for kind, url in layer.items():
        typer.echo(f"{kind:9s}{url}")


@app.command("permalink")
def permalink(
    collection: str = typer.Argument(..., help="The item's collection"),
    item: str = typer.Argument(..., help="The item"),
    render: str = typer.Option(None, help="Which of the item's renders (default: the app's)"),
) -> None:
    """Print the Geobrowser's address (/ui/) that opens the map on an item.

    Share the item (gep share item COLLECTION/ITEM public) so that others may open it."""
    typer.echo(client().permalink(collection, item, render=render))


@app.command("point")
def point(
    collection: str = typer.Argument(..., help="The item's collection"),
    item: str = typer.Argument(..., help="The item"),
    lon: float = typer.Option(..., help="Longitude (degrees)"),
    lat: float = typer.Option(..., help="Latitude (degrees)"),
    asset: str = typer.Option(..., "--asset", "-a", help="The asset to read"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print an asset's value(s) at a point, one per band."""
    answer = client().point(collection, item, asset, lon, lat)
    values = answer.get("values") or []
    names = answer.get("band_names") or [f"b{i + 1}" for i in range(len(values))]
    emit(answer, as_json, ("band", "value"), list(zip(names, values, strict=False)),
         empty="no value here")  # fmt: skip


@app.command("legend")
def legend(
    collection: str = typer.Argument(..., help="The item's collection"),
    item: str = typer.Argument(..., help="The item"),
    asset: str = typer.Option(..., "--asset", "-a", help="The asset drawn"),
    output: Path = typer.Option(None, "--output", "-o", help="Write the legend PNG here"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print a layer's legend (its colour stops), or write it as a PNG with ``-o``."""
    if output is not None:
        output.write_bytes(client().legend(collection, item, asset, png=True))
        console.print(f"{output} ({output.stat().st_size} bytes)")
        return
    doc = client().legend(collection, item, asset)
    rows = [(s.get("value"), s.get("color"), s.get("name", "")) for s in doc.get("stops", [])]
    emit(doc, as_json, ("value", "color", "name"), rows, empty="no stops")


@app.command("timeseries")
def timeseries(
    collection: str = typer.Argument(..., help="The collection"),
    item: str = typer.Argument(
        None, help="An item with dated layers; omitted: the collection's dated items"
    ),
    lon: float = typer.Option(..., help="Longitude (degrees)"),
    lat: float = typer.Option(..., help="Latitude (degrees)"),
    asset: str = typer.Option(..., "--asset", "-a", help="The asset to read"),
    datetime: str = typer.Option(None, help="An interval narrowing the items: A/B"),
    cql: str = typer.Option(None, "--filter", help="A CQL2-text filter narrowing the items"),
    job: str = typer.Option(None, help="Only the items this job published (e.g. SBAS dates)"),
    as_csv: bool = typer.Option(False, "--csv", help="Write CSV to standard output"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Values over time at a point, as a table (or CSV)."""
    filters = {k: v for k, v in (("datetime", datetime), ("filter", cql), ("job", job)) if v}
    series = client().timeseries(collection, lon, lat, asset, item=item, **filters)
    if as_json:
        emit_json(series)
        return
    values = series.get("values") or []
    unit = series.get("unit") or ""
    if as_csv:
        out = csv.writer(sys.stdout)
        out.writerow(["datetime", "value", "item"])
        for v in values:
            out.writerow([v.get("datetime"), v.get("value"), v.get("item", "")])
        return
    if unit:
        console.print(f"{collection} at {lon}, {lat} ({unit})")
    rows = [
        (v.get("datetime"), "" if v.get("value") is None else f"{v['value']:.6g}",
         v.get("item", ""))
        for v in values
    ]  # fmt: skip
    emit(series, False, ("datetime", "value", "item"), rows, whole=("item",), empty="no values")

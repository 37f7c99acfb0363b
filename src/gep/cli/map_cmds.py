"""``gep map``: a result as a map layer on a running GEP (``GEP_BASE_URL``): its tile URLs for
QGIS, GDAL or a web map, the Geobrowser permalink that opens it, its value at a point, its
legend, and time series at a point."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from gep.cli.common import console
from gep.cli.job_cmds import client
from gep.client import GepClientError

app = typer.Typer(
    help="Results as map layers: tile URLs (XYZ, TileJSON, WMTS), point values, legends and "
    "time series at a point",
    no_args_is_help=True,
)


def _fail(exc: GepClientError) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)


@app.command("urls")
def urls(
    collection: str,
    item: str = typer.Argument(None, help="An item; omitted: the collection as one mosaic"),
    asset: str = typer.Option(..., "--asset", "-a", help="The asset to draw"),
    tms: str = typer.Option("WebMercatorQuad", help="A morecantile tile matrix set"),
    colormap: str = typer.Option(None, help="A colour map name (default: the item's)"),
    rescale: str = typer.Option(None, help="MIN,MAX (default: the item's)"),
) -> None:
    """Print the XYZ template, TileJSON and WMTS capabilities URLs of a layer (QGIS: add the
    WMTS URL as a WMS/WMTS connection, or the XYZ template as an XYZ tile layer)."""
    layer = client().layer_urls(
        collection, item, asset, tms=tms, colormap_name=colormap, rescale=rescale
    )
    for kind, url in layer.items():
        console.print(f"{kind:9s}{url}", soft_wrap=True, highlight=False)


@app.command("permalink")
def permalink(
    collection: str,
    item: str,
    render: str = typer.Option(None, help="Which of the item's renders (default: the app's)"),
) -> None:
    """Print the Geobrowser's address (/ui/) that opens the map on an item; share the item
    (gep jobs share, or PATCH … visibility) so that others may open it."""
    console.print(client().permalink(collection, item, render=render), soft_wrap=True)


@app.command("point")
def point(
    collection: str,
    item: str,
    lon: float = typer.Option(..., help="Longitude (degrees)"),
    lat: float = typer.Option(..., help="Latitude (degrees)"),
    asset: str = typer.Option(..., "--asset", "-a"),
) -> None:
    """Print an asset's value(s) at a point."""
    try:
        console.print_json(json.dumps(client().point(collection, item, asset, lon, lat)))
    except GepClientError as exc:
        _fail(exc)


@app.command("legend")
def legend(
    collection: str,
    item: str,
    asset: str = typer.Option(..., "--asset", "-a"),
    output: Path = typer.Option(None, "--output", "-o", help="Write the legend PNG here"),
) -> None:
    """Print a layer's legend (colour stops), or write it as a PNG with ``-o``."""
    try:
        if output is not None:
            output.write_bytes(client().legend(collection, item, asset, png=True))
            console.print(f"{output} ({output.stat().st_size} bytes)")
        else:
            console.print_json(json.dumps(client().legend(collection, item, asset)))
    except GepClientError as exc:
        _fail(exc)


@app.command("timeseries")
def timeseries(
    collection: str,
    item: str = typer.Argument(
        None, help="An item with dated layers; omitted: the collection's dated items"
    ),
    lon: float = typer.Option(..., help="Longitude (degrees)"),
    lat: float = typer.Option(..., help="Latitude (degrees)"),
    asset: str = typer.Option(..., "--asset", "-a"),
    datetime: str = typer.Option(None, help="An interval narrowing the items: A/B"),
    cql: str = typer.Option(None, "--filter", help="A CQL2-text filter narrowing the items"),
    job: str = typer.Option(None, help="Only the items this job published (e.g. SBAS dates)"),
    as_csv: bool = typer.Option(False, "--csv", help="Write CSV to standard output"),
) -> None:
    """Values over time at a point, as a table (or CSV)."""
    filters = {k: v for k, v in (("datetime", datetime), ("filter", cql), ("job", job)) if v}
    try:
        series = client().timeseries(collection, lon, lat, asset, item=item, **filters)
    except GepClientError as exc:
        _fail(exc)
        return
    values = series.get("values") or []
    unit = series.get("unit") or ""
    if as_csv:
        out = csv.writer(sys.stdout)
        out.writerow(["datetime", "value", "item"])
        for v in values:
            out.writerow([v.get("datetime"), v.get("value"), v.get("item", "")])
        return
    table = Table(title=f"{collection} at {lon}, {lat}" + (f" ({unit})" if unit else ""))
    for col in ("datetime", "value", "item"):
        table.add_column(col)
    for v in values:
        value = v.get("value")
        table.add_row(
            str(v.get("datetime")), "" if value is None else f"{value:.6g}", str(v.get("item", ""))
        )
    console.print(table)

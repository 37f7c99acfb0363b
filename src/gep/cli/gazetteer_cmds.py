"""``gep gazetteer``: find places by name, and name areas of interest of your own."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer
from rich.table import Table

from gep.cli.common import console, run_or_exit, store_from_settings
from gep.core.errors import InvalidInput

app = typer.Typer(help="Volcanoes, places, plates and named areas", no_args_is_help=True)


@app.command("search")
def search(
    q: str = typer.Argument(..., help="A name (accents and small typos do not matter)"),
    kind: str = typer.Option(None, "--kind", help="volcano, place, plate or area"),
    limit: int = typer.Option(5, "--limit"),
    as_json: bool = typer.Option(False, "--json", help="Print the GeoJSON FeatureCollection"),
) -> None:
    """The best matches for a name, best first."""
    from gep.catalog.areas import AreaStore
    from gep.catalog.gazetteer import search as gazetteer_search

    with store_from_settings() as store:
        result = run_or_exit(
            lambda: gazetteer_search(
                q, kind=kind, limit=limit, extra=AreaStore(store.engine).entries()
            )
        )
    if as_json:
        typer.echo(orjson.dumps(result).decode())
        return
    table = Table("name", "kind", "score", "bbox")
    for f in result["features"]:
        p = f["properties"]
        table.add_row(
            p["name"], p["kind"], str(p["score"]), ", ".join(f"{v:.3f}" for v in f["bbox"])
        )
    console.print(table)


def _area_arg(geometry: str | None, bbox: str | None) -> object:
    if (geometry is None) == (bbox is None):
        raise InvalidInput("give the area with --geometry FILE or --bbox W,S,E,N (one of them)")
    if bbox is not None:
        return bbox
    path = Path(str(geometry))
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InvalidInput(f"--geometry {path}: not a readable GeoJSON file ({exc})") from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features") or []
        if len(features) != 1:
            raise InvalidInput(f"--geometry {path}: give one feature, not {len(features)}")
        doc = features[0]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    return doc


@app.command("add-area")
def add_area(
    name: str = typer.Argument(..., help="The name the area will be found under"),
    geometry: str = typer.Option(None, "--geometry", help="GeoJSON file (geometry or feature)"),
    bbox: str = typer.Option(None, "--bbox", help="west,south,east,north in degrees"),
    description: str = typer.Option(None, "--description"),
) -> None:
    """Name an area of interest; the name then works in searches (?place=, geo:name)."""
    from gep.catalog.areas import AreaStore

    with store_from_settings() as store:
        area = run_or_exit(
            lambda: AreaStore(store.engine).create(
                name, _area_arg(geometry, bbox), description=description
            )
        )
    console.print(f"named area '{area.name}' added, id {area.id}")
    typer.echo(area.id)


@app.command("areas")
def areas(as_json: bool = typer.Option(False, "--json")) -> None:
    """The named areas."""
    from gep.catalog.areas import AreaStore

    with store_from_settings() as store:
        found = AreaStore(store.engine).all()
    if as_json:
        doc = {"type": "FeatureCollection", "features": [a.feature() for a in found]}
        typer.echo(orjson.dumps(doc).decode())
        return
    table = Table("id", "name", "bbox", "description")
    for a in found:
        table.add_row(a.id, a.name, ", ".join(f"{v:.3f}" for v in a.bbox), a.description or "")
    console.print(table)


@app.command("remove-area")
def remove_area(
    area_id: str = typer.Argument(..., help="The area's id (gep gazetteer areas)"),
) -> None:
    from gep.catalog.areas import AreaStore

    with store_from_settings() as store:
        run_or_exit(lambda: AreaStore(store.engine).delete(area_id))
    console.print(f"named area {area_id} removed")

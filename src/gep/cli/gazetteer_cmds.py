"""``gep gazetteer``: find places by name, and name areas of interest of your own, on the GEP
server (the /gazetteer routes: the areas are the server's, shared like everything else)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

from gep.cli.common import JSON_OPTION, client, console, emit, emit_json, fail

app = typer.Typer(help="Volcanoes, places, plates and named areas", no_args_is_help=True)


def _bbox(f: dict[str, Any]) -> str:
    return ", ".join(f"{v:.3f}" for v in f.get("bbox") or [])


@app.command("search")
def search(
    q: str = typer.Argument(..., help="A name (accents and small typos do not matter)"),
    kind: str = typer.Option(None, "--kind", help="volcano, place, plate or area"),
    limit: int = typer.Option(5, "--limit", help="How many matches at most"),
    as_json: bool = typer.Option(False, "--json", help="Print the GeoJSON FeatureCollection"),
) -> None:
    """The best matches for a name, best first (an unknown name lists close names)."""
    gep = client()
    params: dict[str, Any] = {"q": q, "limit": limit}
    if kind:
        params["kind"] = kind
    result = gep._json(gep.http.get("/gazetteer/search", params=params))
    rows = [
        (f["properties"]["name"], f["properties"]["kind"], f["properties"].get("score", ""),
         _bbox(f))
        for f in result["features"]
    ]  # fmt: skip
    emit(result, as_json, ("name", "kind", "score", "bbox"), rows, empty="no match")


def _area_body(geometry: str | None, bbox: str | None) -> dict[str, Any]:
    """The area as the API takes it: ``bbox`` numbers, or the geometry of a GeoJSON file (a
    geometry, a feature, or a collection of one feature)."""
    if (geometry is None) == (bbox is None):
        raise fail("give the area with --geometry FILE or --bbox W,S,E,N (one of them)")
    if bbox is not None:
        try:
            return {"bbox": [float(v) for v in bbox.split(",")]}
        except ValueError:
            raise fail(f"--bbox {bbox}: four numbers west,south,east,north") from None
    path = Path(str(geometry))
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise fail(f"--geometry {path}: not a readable GeoJSON file ({exc})") from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features") or []
        if len(features) != 1:
            raise fail(f"--geometry {path}: give one feature, not {len(features)}")
        doc = features[0]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    return {"geometry": doc}


@app.command("add-area")
def add_area(
    name: str = typer.Argument(..., help="The name the area will be found under"),
    geometry: str = typer.Option(None, "--geometry", help="GeoJSON file (geometry or feature)"),
    bbox: str = typer.Option(None, "--bbox", help="west,south,east,north in degrees"),
    description: str = typer.Option(None, "--description", help="What the area is"),
    visibility: str = typer.Option(
        None, "--visibility", help="private (default), group:<name> or public"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Name an area of interest; prints the new area's id.

    The name then works in searches (gep search --place, ?place=, geo:name)."""
    body: dict[str, Any] = {"name": name, **_area_body(geometry, bbox)}
    if description is not None:
        body["description"] = description
    if visibility is not None:
        body["visibility"] = visibility
    gep = client()
    area = gep._json(gep.http.post("/gazetteer/areas", json=body))
    if as_json:
        emit_json(area)
        return
    console.print(f"named area '{area['properties']['name']}' added")
    typer.echo(area["properties"]["id"])


@app.command("areas")
def areas(as_json: bool = JSON_OPTION) -> None:
    """The named areas you may see (yours, your groups', public ones)."""
    gep = client()
    found = gep._json(gep.http.get("/gazetteer/areas"))
    rows = [
        (p["id"], p["name"], _bbox(f), p.get("visibility", ""), p.get("description") or "")
        for f in found["features"]
        for p in (f["properties"],)
    ]
    emit(found, as_json, ("id", "name", "bbox", "shared", "description"), rows, whole=("id",),
         empty="no named areas")  # fmt: skip


@app.command("remove-area")
def remove_area(
    area_id: str = typer.Argument(..., help="The area's id (gep gazetteer areas)"),
) -> None:
    """Delete one of your named areas."""
    gep = client()
    r = gep.http.delete(f"/gazetteer/areas/{quote(area_id, safe='')}")
    if r.status_code != 204:
        gep._json(r)
    console.print(f"named area {area_id} removed")

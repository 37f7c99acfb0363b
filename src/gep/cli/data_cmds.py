"""``gep search``, ``gep download``, ``gep share``: finding data on the GEP server, fetching
results and items to a folder (resuming partial files), and sharing what you own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from gep.cli.common import JSON_OPTION, client, console, emit, emit_json, fail, resolve_job


# ---------------------------------------------------------------------- search
def search(
    collections: list[str] = typer.Argument(None, help="Collections to search (default: all)"),
    bbox: str = typer.Option(None, "--bbox", help="west,south,east,north (degrees)"),
    place: str = typer.Option(
        None, "--place", help="A gazetteer name as the area (volcano, place, plate, named area)"
    ),
    datetime: str = typer.Option(
        None, "--datetime", help="An RFC 3339 instant or interval (2024-01-01/2024-02-01, ../B)"
    ),
    cql: str = typer.Option(None, "--filter", help="A CQL2-text filter (e.g. \"platform='S1A'\")"),
    ids: list[str] = typer.Option([], "--id", help="Only these item ids (repeatable)"),
    limit: int = typer.Option(100, "--limit", min=1, help="Items per page"),
    max_items: int = typer.Option(20, "--max-items", min=1, help="Stop after this many items"),
    as_json: bool = typer.Option(
        False, "--json", help="Print the STAC ItemCollection (GeoJSON) instead of a table"
    ),
) -> None:
    """Search the catalogue (STAC item search) for the items you may see.

    Item ids are shown whole; fetch one with gep download COLLECTION/ITEM."""
    area: list[float] | None = None
    if bbox:
        try:
            area = [float(v) for v in bbox.split(",")]
        except ValueError:
            raise fail(f"--bbox {bbox}: four numbers west,south,east,north") from None
    found = client().search(
        collections=[c for v in collections or [] for c in v.split(",") if c] or None,
        ids=ids or None,
        bbox=area,
        place=place,
        datetime=datetime,
        filter=cql,
        limit=min(limit, max_items),
        max_items=max_items,
    )
    doc = found.to_geojson()
    doc["numberReturned"] = len(found)
    rows = [
        (f.get("id"), f.get("collection"), _day(f.get("properties", {})),
         f.get("properties", {}).get("platform", ""))
        for f in found
    ]  # fmt: skip
    emit(doc, as_json, ("id", "collection", "datetime", "platform"), rows, whole=("id",),
         empty="no items found")  # fmt: skip
    if not as_json and found.matched is not None and found.matched > len(found):
        console.print(f"{len(found)} of {found.matched} items (--max-items for more)")


def _day(props: dict[str, Any]) -> str:
    when = props.get("datetime") or props.get("start_datetime") or ""
    return str(when)[:19].replace("T", " ")


# ---------------------------------------------------------------------- download
def download(
    ref: str = typer.Argument(
        ..., help="A job (its id or the start of it) or an item as COLLECTION/ITEM"
    ),
    directory: Path = typer.Option(
        Path("."), "--dir", "-d", help="Where to write: DIR/<item id>/<asset key>.<ext>"
    ),
    assets: list[str] = typer.Option([], "--asset", "-a", help="Only these asset keys"),
    as_json: bool = typer.Option(False, "--json", help="Print the files written as JSON"),
) -> None:
    """Download a job's result files, or an item's assets, into a folder.

    With a progress bar per file; a file that is there already is resumed where it stopped
    (an HTTP Range request) and a complete one is left alone."""
    gep = client()
    target: Any
    if "/" in ref:
        collection, item = ref.split("/", 1)
        target = gep.item(collection, item)
    else:
        target = resolve_job(gep, ref)
    files = gep.download(target, directory, assets=assets or None, progress=not as_json)
    if not files:
        raise fail(f"{ref}: nothing to download (no result items, or no assets)")
    written = [{"path": str(f), "bytes": f.stat().st_size} for f in files]
    rows = [(w["path"], w["bytes"]) for w in written]
    emit({"files": written}, as_json, ("file", "bytes"), rows, whole=("file",))


# ---------------------------------------------------------------------- share
#: what ``gep share KIND`` shares (the SDK's ``share(…, kind=)``: a PATCH {"visibility"})
SHARE_KINDS = ("job", "process", "item", "collection", "area", "subscription", "app", "harvest")


def share(
    kind: str = typer.Argument(..., help=f"What to share: {', '.join(SHARE_KINDS)}"),
    ref: str = typer.Argument(
        ..., help="Its id (a job's may be the start of it; an item's is COLLECTION/ITEM)"
    ),
    visibility: str = typer.Argument(..., help="private, group:<name> or public"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Share something you own with a group or everyone, or make it private again.

    A job shares its result items with it; a subscription its layer."""
    if kind not in SHARE_KINDS:
        raise fail(f"cannot share a '{kind}': one of {', '.join(SHARE_KINDS)}")
    gep = client()
    target = resolve_job(gep, ref) if kind == "job" else ref
    answer = gep.share(target, visibility, kind=kind)
    if as_json:
        emit_json(answer)
        return
    shown = answer.get("visibility") or answer.get("gep:visibility") or visibility
    typer.echo(f"{kind} {target}: {shown}")


def register(app: typer.Typer) -> None:
    app.command("search")(search)
    app.command("download")(download)
    app.command("share")(share)

"""``gep apps``: thematic apps on the GEP server the CLI talks to (``--url``/``GEP_URL``, as
``GEP_TOKEN`` or the saved login), through the SDK: list, show, create, share, delete, and the
portable export/import that moves an app to another GEP (docs/apps.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from gep.cli.common import (
    JSON_OPTION,
    client,
    console,
    emit,
    emit_json,
    emit_table,
    read_json_object,
)

app = typer.Typer(
    help="Thematic apps: bundles of collections, services, systematic layers, areas and map "
    "layers that the Geobrowser opens; export one and import it into another GEP",
    no_args_is_help=True,
)
APP = typer.Argument(..., help="The app's id (gep apps list)")
T = TypeVar("T")


def _listing_problems(call: Callable[[], T]) -> T:
    """Run ``call``; a refused document prints every problem the server listed, not only the
    first (an import refused for three missing collections names all three)."""
    from gep.client.errors import GepClientError

    try:
        return call()
    except GepClientError as exc:
        listed = exc.problem.get("problems")
        if not listed:
            raise
        console.print(f"[red]error:[/red] {exc.detail}", highlight=False)
        for p in listed:
            console.print(f"  - {p.get('field')}: {p.get('detail')}", highlight=False)
        raise typer.Exit(1) from None


def _summary(a: dict[str, Any]) -> list[Any]:
    return [
        a["id"],
        a["title"],
        a.get("visibility", ""),
        len(a.get("layers", [])),
        ", ".join(s["id"] for s in a.get("services", [])),
        len((a.get("areas") or {}).get("features", [])),
    ]


@app.command("list")
def list_cmd(as_json: bool = JSON_OPTION) -> None:
    """The apps you may see (yours, your groups', public ones, and My data uploads)."""
    apps = client().apps()
    rows = [_summary(a) for a in apps]
    emit(apps, as_json, ("id", "title", "visibility", "layers", "services", "areas"), rows,
         whole=["id"], empty="no apps")  # fmt: skip


@app.command("show")
def show_cmd(app_id: str = APP, as_json: bool = JSON_OPTION) -> None:
    """One app: its view, layers, services, areas and what it names that you cannot see."""
    a = client().app(app_id)
    if as_json:
        emit_json(a)
        return
    rows: list[list[Any]] = [
        ["id", a["id"]],
        ["title", a["title"]],
        ["description", a.get("description") or ""],
        ["visibility", a.get("visibility", "")],
        ["bbox", json.dumps(a.get("bbox"))],
        ["services", ", ".join(s["id"] for s in a.get("services", []))],
        ["collections", ", ".join(c["id"] for c in a.get("collections", []))],
        ["subscriptions", ", ".join(s["id"] for s in a.get("subscriptions", []))],
        ["areas", ", ".join(f["properties"]["name"] for f in a["areas"]["features"])],
    ]
    emit_table(("field", "value"), rows, whole=["field"])
    layers = [[x.get("title") or "", x["collection"], x.get("item") or ""] for x in a["layers"]]
    if layers:
        emit_table(("layer", "collection", "item"), layers, title="layers")
    for p in a.get("missing", []):
        console.print(f"[yellow]missing[/yellow] {p['field']}: {p['detail']}", highlight=False)


@app.command("create")
def create_cmd(
    doc_file: str = typer.Argument(..., metavar="FILE.json", help="The app document, or -"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an app from its JSON document (docs/apps.md); prints its id."""
    doc = read_json_object(doc_file)
    answer = _listing_problems(lambda: client().create_app(doc))
    if as_json:
        emit_json(answer)
        return
    typer.echo(answer["id"])


@app.command("share")
def share_cmd(
    app_id: str = APP,
    visibility: str = typer.Argument(..., help="private, group:<name> or public"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Share an app (what it names keeps its own visibility)."""
    answer = client().share_app(app_id, visibility)
    if as_json:
        emit_json(answer)
        return
    typer.echo(f"{answer['id']} {answer['visibility']}")


@app.command("delete")
def delete_cmd(app_id: str = APP, as_json: bool = JSON_OPTION) -> None:
    """Delete an app (its collections, services and areas stay)."""
    client().delete_app(app_id)
    if as_json:
        emit_json({"id": app_id, "deleted": True})
        return
    typer.echo(f"deleted {app_id}")


@app.command("export")
def export_cmd(
    app_id: str = APP,
    output: str = typer.Option("-", "--output", "-o", help="File to write (default: stdout)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the app as one portable document, for `gep apps import` on another GEP."""
    doc = client().export_app(app_id)
    text = json.dumps(doc, indent=2)
    if output == "-":
        typer.echo(text)
        return
    Path(output).write_text(text + "\n")
    if as_json:
        emit_json({"id": app_id, "file": output})
        return
    typer.echo(f"wrote {output}")


@app.command("import")
def import_cmd(
    doc_file: str = typer.Argument(..., metavar="FILE.json", help="A portable app document, or -"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import a portable app; refused whole (listing every problem) when anything it needs is
    missing here. Prints the new app's id."""
    doc = read_json_object(doc_file)
    answer = _listing_problems(lambda: client().import_app(doc))
    if as_json:
        emit_json(answer)
        return
    typer.echo(answer["id"])

"""``gep assets``: read stored assets of the GEP server over HTTP."""

from __future__ import annotations

from pathlib import Path

import typer

from gep.cli.common import JSON_OPTION, client, console, emit_json

app = typer.Typer(
    help="Assets on a running GEP server: download them, or make signed URLs for tools "
    "that cannot send a token",
    no_args_is_help=True,
)


@app.command("url")
def url(
    collection: str = typer.Argument(..., help="The item's collection"),
    item: str = typer.Argument(..., help="The item's id"),
    key: str = typer.Argument(..., help="The asset's key"),
    expires_in: int = typer.Option(3600, help="Seconds the URL stays valid (at most a week)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print a signed URL of an asset, readable without credentials until it expires."""
    href = client().signed_url(collection, item, key, expires_in)
    if as_json:
        emit_json({"href": href, "expires_in": expires_in})
    else:
        typer.echo(href)


@app.command("get")
def get(
    collection: str = typer.Argument(..., help="The item's collection"),
    item: str = typer.Argument(..., help="The item's id"),
    key: str = typer.Argument(..., help="The asset's key"),
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default: KEY)"),
) -> None:
    """Download an asset's file."""
    gep = client()
    dest = gep.download(gep.asset_url(collection, item, key), output or Path(key))
    console.print(f"{dest} ({dest.stat().st_size} bytes)")

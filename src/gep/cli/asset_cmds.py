"""``gep assets``: read stored assets of a running GEP over HTTP (``GEP_BASE_URL``)."""

from __future__ import annotations

from pathlib import Path

import typer

from gep.cli.common import console
from gep.cli.job_cmds import client
from gep.client import GepClientError

app = typer.Typer(
    help="Assets on a running GEP server: download them, or make signed URLs for tools "
    "that cannot send a token",
    no_args_is_help=True,
)


@app.command("url")
def url(
    collection: str,
    item: str,
    key: str,
    expires_in: int = typer.Option(3600, help="Seconds the URL stays valid (at most a week)"),
) -> None:
    """Print a signed URL of an asset, readable without credentials until it expires."""
    try:
        console.print(client().signed_url(collection, item, key, expires_in), soft_wrap=True)
    except GepClientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command("get")
def get(
    collection: str,
    item: str,
    key: str,
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default: KEY)"),
) -> None:
    """Download an asset's file."""
    gep = client()
    try:
        dest = gep.download(gep.asset_url(collection, item, key), output or Path(key))
    except GepClientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"{dest} ({dest.stat().st_size} bytes)")

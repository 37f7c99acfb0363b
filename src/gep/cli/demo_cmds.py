"""``gep demo``: the sample data that ``make run`` starts with."""

from __future__ import annotations

import typer

from gep.catalog.demo import sample_files
from gep.cli.catalog_cmds import ingest_paths
from gep.cli.common import console, store_from_settings

app = typer.Typer(help="Demo data", no_args_is_help=True)


@app.command("seed")
def seed() -> None:
    """Load the sample catalogue (idempotent: running it again changes nothing)."""
    files = sample_files()
    if not files:
        console.print("[red]no sample files found in the package[/red]")
        raise typer.Exit(1)
    with store_from_settings() as store:
        report = ingest_paths(store, files, create_collections=True)
        store.analyze()
    for f in report.failed:
        console.print(f"[red]failed[/red] {f.position} ({f.item_id}): {f.message}")
    console.print(f"demo catalogue: {report.written} items in {len(files) - 1} collections")
    if report.failed:
        raise typer.Exit(1)

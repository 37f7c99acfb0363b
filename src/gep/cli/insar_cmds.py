"""``gep insar``: interferometric baselines (pair and stack search build on them)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from gep.catalog.insar import safe_pair_baselines
from gep.cli.common import console, run_or_exit

app = typer.Typer(help="Interferometric baselines, pairs and stacks", no_args_is_help=True)


@app.command("baseline")
def baseline(
    reference: Path = typer.Argument(..., help="Reference product: a SAFE folder or .zip"),
    secondary: Path = typer.Argument(..., help="Secondary product: a SAFE folder or .zip"),
    orbit: list[Path] = typer.Option(
        [], "--orbit", help="Precise/restituted orbit files (EOF), preferred when they cover"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list"),
) -> None:
    """Perpendicular, parallel and temporal baselines of every burst the two products share.

    Computed at each reference burst's mid-range point, the way ISCE2 does, from the
    annotation alone; signs as ISCE2 defines them.
    """
    rows = run_or_exit(
        lambda: safe_pair_baselines(reference, secondary, orbit_files=[str(p) for p in orbit])
    )
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows]))
        return
    table = Table("swath", "burst", "Bperp (m)", "Bpar (m)", "Btemp (days)")
    for r in rows:
        table.add_row(r.swath, str(r.burst), f"{r.bperp:.2f}", f"{r.bpar:.2f}", f"{r.btemp:.3f}")
    console.print(table)
    if not rows:
        console.print("[yellow]the secondary covers no burst of the reference[/yellow]")

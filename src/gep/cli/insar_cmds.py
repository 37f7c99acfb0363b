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


@app.command("pairs")
def pairs(
    reference: str = typer.Argument(..., help='The reference catalogue item, "COLLECTION/ID"'),
    max_bperp: float = typer.Option(None, "--max-bperp", help="Largest |Bperp| (m)"),
    max_btemp: float = typer.Option(None, "--max-btemp", help="Largest |Btemp| (days)"),
    min_overlap: float = typer.Option(0.5, "--min-overlap", help="Smallest footprint overlap"),
    sortby: str = typer.Option("btemp", "--sortby", help="btemp, bperp, datetime or overlap"),
    limit: int = typer.Option(100, "--limit"),
    as_json: bool = typer.Option(False, "--json", help="Print the whole answer as JSON"),
) -> None:
    """Catalogue items that pair with REFERENCE, with their baselines (as GET /insar/pairs)."""
    import orjson

    from gep.catalog.insar import find_pairs
    from gep.cli.common import store_from_settings
    from gep.core.errors import InvalidInput

    def run() -> dict[str, object]:
        if "/" not in reference:
            raise InvalidInput('the reference is "COLLECTION/ID"', field="reference")
        collection, item_id = reference.split("/", 1)
        with store_from_settings() as store:
            ref = orjson.loads(store.get_item(collection, item_id))
            return find_pairs(
                store, ref, max_bperp=max_bperp, max_btemp=max_btemp,
                min_overlap=min_overlap, sortby=sortby, limit=limit,
            )  # fmt: skip

    result = run_or_exit(run)
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table("secondary", "datetime", "Bperp (m)", "Btemp (days)", "overlap")
    for p in result["pairs"]:  # type: ignore[attr-defined]
        table.add_row(
            p["id"],
            str(p["datetime"]),
            f"{p['bperp']:.1f}",
            f"{p['btemp']:.1f}",
            f"{p['overlap']:.2f}",
        )
    console.print(table)
    console.print(f"{result['numberMatched']} pairs; {result['numberSkipped']} candidates skipped")

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


def _stack_body(aoi: str, datetime: str | None, collection: list[str], relative_orbit: int | None,
                reference: str | None) -> dict[str, object]:  # fmt: skip
    body: dict[str, object] = {"aoi": aoi}
    if datetime:
        body["datetime"] = datetime
    if collection:
        body["collections"] = collection
    if relative_orbit is not None:
        body["relative_orbit"] = relative_orbit
    if reference:
        body["reference"] = reference
    return body


def _run_stack(body: dict[str, object]) -> dict[str, object]:
    from gep.catalog.insar import stack_search
    from gep.cli.common import store_from_settings
    from gep.core.geometry import parse_area
    from gep.core.timeutil import parse_datetime_interval

    when = parse_datetime_interval(str(body["datetime"])) if body.get("datetime") else None
    with store_from_settings() as store:
        return stack_search(
            store, aoi=parse_area(str(body["aoi"])), datetime=when,
            collections=body.get("collections"),  # type: ignore[arg-type]
            relative_orbit=body.get("relative_orbit"),  # type: ignore[arg-type]
            reference=body.get("reference"),  # type: ignore[arg-type]
        )  # fmt: skip


@app.command("stack")
def stack(
    aoi: str = typer.Option(..., "--bbox", help="west,south,east,north"),
    datetime: str = typer.Option(None, "--datetime", help="START/END (RFC 3339 or dates)"),
    collection: list[str] = typer.Option([], "--collection"),
    relative_orbit: int = typer.Option(None, "--relative-orbit", help="else the best-covering"),
    reference: str = typer.Option(None, "--reference", help="item id of the reference"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A stack over an area: one acquisition a day on one track, with baselines.

    The same as POST /insar/stack.
    """
    result = run_or_exit(
        lambda: _run_stack(_stack_body(aoi, datetime, collection, relative_orbit, reference))
    )
    if as_json:
        typer.echo(json.dumps(result))
        return
    track = result["track"]
    table = Table("acquisition", "datetime", "Bperp (m)", "Btemp (days)")
    for a in result["acquisitions"]:  # type: ignore[attr-defined]
        table.add_row(a["id"], str(a["datetime"]), f"{a['bperp']:.1f}", f"{a['btemp']:.1f}")
    console.print(table)
    console.print(f"track {track}; reference {result['reference']}")


@app.command("network")
def network(
    aoi: str = typer.Option(..., "--bbox", help="west,south,east,north"),
    datetime: str = typer.Option(None, "--datetime"),
    collection: list[str] = typer.Option([], "--collection"),
    relative_orbit: int = typer.Option(None, "--relative-orbit"),
    max_btemp: float = typer.Option(..., "--max-btemp", help="days"),
    max_bperp: float = typer.Option(..., "--max-bperp", help="m"),
    min_connections: int = typer.Option(2, "--min-connections"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A small-baseline network over a stack (as POST /insar/network)."""
    from gep.catalog.insar import small_baseline_network

    def run() -> dict[str, object]:
        st = _run_stack(_stack_body(aoi, datetime, collection, relative_orbit, None))
        return small_baseline_network(
            st["acquisitions"],  # type: ignore[arg-type]
            max_btemp=max_btemp, max_bperp=max_bperp, min_connections=min_connections,
        )  # fmt: skip

    net = run_or_exit(run)
    if as_json:
        typer.echo(json.dumps(net))
        return
    console.print(
        f"{net['acquisitions']} acquisitions, {len(net['pairs'])} pairs, "  # type: ignore[arg-type]
        f"connected: {net['connected']}; isolated: {net['isolated'] or 'none'}; "
        f"under-connected: {net['under_connected'] or 'none'}"
    )

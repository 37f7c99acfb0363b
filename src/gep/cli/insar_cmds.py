"""``gep insar``: pairs, stacks and small-baseline networks from the server's catalogue (the
/insar routes), and baselines of two local SAFE products (``baseline``: local maths on local
files, no server involved)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gep.cli.common import JSON_OPTION, client, console, emit, emit_json, run_or_exit

app = typer.Typer(
    help="Interferometric pairs, stacks and networks (server), baselines of local SAFE files",
    no_args_is_help=True,
)


@app.command("baseline")
def baseline(
    reference: Path = typer.Argument(..., help="Reference product: a SAFE folder or .zip"),
    secondary: Path = typer.Argument(..., help="Secondary product: a SAFE folder or .zip"),
    orbit: list[Path] = typer.Option(
        [], "--orbit", help="Precise/restituted orbit files (EOF), preferred when they cover"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Baselines of every burst two local SAFE products share (no server).

    Perpendicular, parallel and temporal baselines: local maths on local files, computed at
    each reference burst's mid-range point, the way ISCE2 does, from the annotation alone;
    signs as ISCE2 defines them.
    """
    from gep.catalog.insar import safe_pair_baselines

    rows = run_or_exit(
        lambda: safe_pair_baselines(reference, secondary, orbit_files=[str(p) for p in orbit])
    )
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows]))
        return
    table = [(r.swath, r.burst, f"{r.bperp:.2f}", f"{r.bpar:.2f}", f"{r.btemp:.3f}") for r in rows]
    emit(
        None,
        False,
        ("swath", "burst", "Bperp (m)", "Bpar (m)", "Btemp (days)"),
        table,
        empty="the secondary covers no burst of the reference",
    )


@app.command("pairs")
def pairs(
    reference: str = typer.Argument(..., help='The reference catalogue item, "COLLECTION/ID"'),
    max_bperp: float = typer.Option(None, "--max-bperp", help="Largest |Bperp| (m)"),
    max_btemp: float = typer.Option(None, "--max-btemp", help="Largest |Btemp| (days)"),
    min_overlap: float = typer.Option(0.5, "--min-overlap", help="Smallest footprint overlap"),
    sortby: str = typer.Option("btemp", "--sortby", help="btemp, bperp, datetime or overlap"),
    limit: int = typer.Option(100, "--limit", help="How many pairs at most"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Catalogue items that pair with REFERENCE, with their baselines (GET /insar/pairs)."""
    result = client().pairs(
        reference,
        max_bperp=max_bperp,
        max_btemp=max_btemp,
        min_overlap=min_overlap,
        sortby=sortby,
        limit=limit,
    )
    if as_json:
        emit_json(result)
        return
    rows = [
        (p["id"], p["datetime"], f"{p['bperp']:.1f}", f"{p['btemp']:.1f}", f"{p['overlap']:.2f}")
        for p in result["pairs"]
    ]
    emit(result, False, ("secondary", "datetime", "Bperp (m)", "Btemp (days)", "overlap"), rows,
         whole=("secondary",), empty="no pairs")  # fmt: skip
    console.print(f"{result['numberMatched']} pairs; {result['numberSkipped']} candidates skipped")


def _stack_body(aoi: str, datetime: str | None, collection: list[str], relative_orbit: int | None,
                reference: str | None) -> dict[str, object]:  # fmt: skip
    body: dict[str, object] = {"aoi": _bbox(aoi)}
    if datetime:
        body["datetime"] = datetime
    if collection:
        body["collections"] = collection
    if relative_orbit is not None:
        body["relative_orbit"] = relative_orbit
    if reference:
        body["reference"] = reference
    return body


def _bbox(text: str) -> object:
    """``W,S,E,N`` as the list of numbers the API takes (anything else goes as typed, and the
    server names what is wrong with it)."""
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        return text


@app.command("stack")
def stack(
    aoi: str = typer.Option(..., "--bbox", help="west,south,east,north"),
    datetime: str = typer.Option(None, "--datetime", help="START/END (RFC 3339 or dates)"),
    collection: list[str] = typer.Option([], "--collection", help="Only these collections"),
    relative_orbit: int = typer.Option(None, "--relative-orbit", help="else the best-covering"),
    reference: str = typer.Option(None, "--reference", help="item id of the reference"),
    as_json: bool = JSON_OPTION,
) -> None:
    """A stack over an area, with baselines (POST /insar/stack).

    One acquisition a day on one track (the best-covering unless --relative-orbit)."""
    gep = client()
    body = _stack_body(aoi, datetime, collection, relative_orbit, reference)
    result = gep._json(gep.http.post("/insar/stack", json=body))
    if as_json:
        emit_json(result)
        return
    rows = [
        (a["id"], a["datetime"], f"{a['bperp']:.1f}", f"{a['btemp']:.1f}")
        for a in result["acquisitions"]
    ]
    emit(result, False, ("acquisition", "datetime", "Bperp (m)", "Btemp (days)"), rows,
         whole=("acquisition",), empty="no acquisitions")  # fmt: skip
    console.print(f"track {result['track']}; reference {result['reference']}")


@app.command("network")
def network(
    aoi: str = typer.Option(..., "--bbox", help="west,south,east,north"),
    datetime: str = typer.Option(None, "--datetime", help="START/END (RFC 3339 or dates)"),
    collection: list[str] = typer.Option([], "--collection", help="Only these collections"),
    relative_orbit: int = typer.Option(None, "--relative-orbit", help="else the best-covering"),
    max_btemp: float = typer.Option(..., "--max-btemp", help="Longest pair (days)"),
    max_bperp: float = typer.Option(..., "--max-bperp", help="Largest |Bperp| of a pair (m)"),
    min_connections: int = typer.Option(2, "--min-connections", help="Pairs per acquisition"),
    as_json: bool = JSON_OPTION,
) -> None:
    """A small-baseline network over a stack (POST /insar/network)."""
    gep = client()
    body = {
        "stack": _stack_body(aoi, datetime, collection, relative_orbit, None),
        "max_btemp": max_btemp,
        "max_bperp": max_bperp,
        "min_connections": min_connections,
    }
    net = gep._json(gep.http.post("/insar/network", json=body))
    if as_json:
        emit_json(net)
        return
    # item ids without their collection (every acquisition of a stack shares it): two whole
    # ids fit in 80 columns
    rows = [(p["reference"].split("/")[-1], p["secondary"].split("/")[-1], p.get("btemp", ""),
             p.get("bperp", "")) for p in net["pairs"]]  # fmt: skip
    emit(net, False, ("reference", "secondary", "Btemp", "Bperp"), rows,
         whole=("reference", "secondary"), empty="no pairs")  # fmt: skip
    console.print(
        f"{net['acquisitions']} acquisitions, {len(net['pairs'])} pairs, "
        f"connected: {net['connected']}; isolated: {net['isolated'] or 'none'}; "
        f"under-connected: {net['under_connected'] or 'none'}"
    )

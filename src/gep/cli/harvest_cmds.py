"""``gep harvest``: keep the catalogue current from remote archives and local folders, on the
GEP server the CLI talks to (``--url``/``GEP_URL``; configuring and running sources is an
administrator's). Runs happen inside the server, which also runs scheduled sources itself.

``gep harvest run --local`` is the administrative exception: the harvest runs in this process
on the database itself (the server's machine, e.g. from cron), and stops when it is stopped."""

from __future__ import annotations

import json
import re
from typing import Any

import typer

from gep.cli.common import JSON_OPTION, client, console, emit, emit_json, fail

app = typer.Typer(
    help="Harvesting agents (STAC API, OpenSearch, CDSE OData, ASF, SAFE folders, orbits, "
    "USGS events), run by the server",
    no_args_is_help=True,
)

_EVERY = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> int:
    """``90``, ``15m``, ``6h``, ``1d`` → seconds."""
    m = _EVERY.match(text.strip())
    if not m or float(m[1]) <= 0:
        raise fail(f"--every '{text}': give a duration such as 30m, 6h or 1d")
    return int(float(m[1]) * _UNIT[m[2]])


def _params(pairs: list[str], as_json: str | None) -> dict[str, object]:
    params: dict[str, object] = {}
    if as_json:
        try:
            loaded = json.loads(as_json)
        except json.JSONDecodeError as exc:
            raise fail(f"--params is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise fail("--params must be a JSON object")
        params.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise fail(f"--param '{pair}': write KEY=VALUE")
        try:  # numbers, lists and booleans as JSON; anything else as a string
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Name of the source"),
    kind: str = typer.Option(..., "--kind", help="stac, opensearch, odata, asf, safe, eof or usgs"),
    url: str = typer.Option(
        ..., "--url", help="Endpoint, or the folder of SAFE products (on the server's machine)"
    ),
    collection: str = typer.Option(..., "--collection", help="GEP collection to fill"),
    param: list[str] = typer.Option([], "--param", help="KEY=VALUE source parameter"),
    params_json: str = typer.Option(None, "--params", help="Source parameters as JSON"),
    every: str = typer.Option(None, "--every", help="The server runs it every 30m, 6h, 1d…"),
    visibility: str = typer.Option(
        None,
        "--visibility",
        help="Who sees the source and its log: public (default), private or group:NAME",
    ),
    replace: bool = typer.Option(False, "--replace", help="Replace a source of that name"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a source (administrators; the server checks it before storing it); run it
    with ``gep harvest run``."""
    interval = parse_every(every) if every else None
    record = client().add_harvest_source(
        name,
        kind,
        url,
        collection,
        params=_params(param, params_json),
        interval_s=interval,
        visibility=visibility,
        replace=replace,
    )
    if as_json:
        emit_json(record)
        return
    when = f", every {every}" if every else ""
    console.print(f"source [bold]{name}[/bold] ({kind} → {collection}{when}) added")


@app.command("run")
def run(
    name: str = typer.Argument(None, help="Source to run (all enabled ones when omitted)"),
    full: bool = typer.Option(False, "--full", help="Ignore the checkpoint: list everything"),
    max_pages: int = typer.Option(
        None, "--max-pages", min=1, help="Stop after N pages (the next run resumes)"
    ),
    wait: bool = typer.Option(
        True, "--wait/--no-wait", help="Wait for the run's record (else: started, go on)"
    ),
    local: bool = typer.Option(
        False,
        "--local",
        help="Administrative: run here on the database directly, not in the server (on the "
        "server's machine, e.g. from cron)",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the run records as JSON"),
) -> None:
    """Harvest now (administrators), from the checkpoint or the page a cut-off run stopped
    at; exits 1 when a run did not succeed."""
    if local:
        runs = _run_locally(name, full, max_pages)
    else:
        gep = client()
        names = [name] if name else [s["name"] for s in gep.harvest_sources() if s["enabled"]]
        runs = []
        for n in names:
            answer = gep.run_harvest(n, full=full, max_pages=max_pages, wait=wait)
            runs.append(answer)
            if not wait and not as_json:
                console.print(f"[bold]{n}[/bold]: started (gep harvest status {n})")
    if as_json:
        emit_json(runs)
    elif wait or local:
        for r in runs:
            _print_run(r)
    if (wait or local) and any(r.get("status") != "succeeded" for r in runs):
        raise typer.Exit(1)


def _run_locally(name: str | None, full: bool, max_pages: int | None) -> list[dict[str, Any]]:
    """``harvest run --local``: the harvester in this process, on the database itself."""
    from gep.cli.common import run_or_exit, store_from_settings
    from gep.harvest.runner import run_harvest
    from gep.harvest.store import HarvestStore

    def go() -> list[dict[str, Any]]:
        with store_from_settings() as store:
            harvests = HarvestStore(store.engine)
            if name:
                harvests.get(name)
            names = [name] if name else [r.config.name for r in harvests.sources() if r.enabled]
            return [
                run_harvest(store, harvests, n, full=full, max_pages=max_pages).as_dict()
                for n in names
            ]

    return run_or_exit(go)


@app.command("list")
def list_sources(as_json: bool = JSON_OPTION) -> None:
    """Configured sources you may see, their schedule and checkpoint."""
    sources = client().harvest_sources()
    rows = [
        [
            s["name"],
            s["kind"],
            s["collection"],
            f"{s['interval_s']}s" if s.get("interval_s") else "-",
            (s.get("checkpoint") or "-") + (" (resuming)" if s.get("resuming") else ""),
            s["url"],
        ]
        for s in sources
    ]
    columns = ("name", "kind", "collection", "every", "checkpoint", "url")
    emit(sources, as_json, columns, rows, whole=["name"], empty="no harvest sources")


@app.command("status")
def status(
    name: str = typer.Argument(None, help="Only this source"),
    limit: int = typer.Option(10, "--limit", min=1, max=1000, help="How many runs"),
    as_json: bool = JSON_OPTION,
) -> None:
    """The harvest log: the latest runs, with counts and errors."""
    gep = client()
    names = [name] if name else [s["name"] for s in gep.harvest_sources()]
    runs = [r for n in names for r in gep.harvest_runs(n, limit=limit)]
    runs.sort(key=lambda r: (str(r.get("started") or ""), int(r.get("id") or 0)), reverse=True)
    runs = runs[:limit]
    if as_json:
        emit_json(runs)
        return
    if not runs:
        console.print("no harvest has run yet")
    for r in runs:
        _print_run(r)


@app.command("remove")
def remove(name: str = typer.Argument(..., help="The source")) -> None:
    """Forget a source (administrators; its items and its log stay)."""
    client().remove_harvest_source(name)
    console.print(f"source {name} removed")


@app.command("events")
def events(
    after: int = typer.Option(0, "--after", min=0, help="Only events after this sequence number"),
    collection: str = typer.Option(None, "--collection", help="Only this collection's"),
    limit: int = typer.Option(100, "--limit", min=1, max=10000, help="Events at most"),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON document (events and next_after) instead of JSON lines"
    ),
) -> None:
    """Ingestion events (one per new item you may see), oldest first, as JSON lines."""
    doc = client().harvest_events(after=after, collection=collection, limit=limit)
    if as_json:
        emit_json(doc)
        return
    for e in doc["events"]:
        typer.echo(json.dumps(e, separators=(",", ":")))


def _print_run(r: dict[str, Any]) -> None:
    colour = {"succeeded": "green", "failed": "red"}.get(str(r["status"]), "yellow")
    console.print(
        f"[bold]{r['source']}[/bold] run {r['id']}: [{colour}]{r['status']}[/{colour}] "
        f"{r['pages']} page(s), {r['seen']} seen, {r['new']} new, {r['updated']} updated, "
        f"{r['skipped']} skipped, {r['requests']} request(s), {r['retries']} retried "
        f"(since {r['since'] or 'the beginning'}, started {r['started']})"
    )
    errors = r.get("errors") or []
    for line in errors[:10]:
        console.print(f"  [red]•[/red] {line}")
    if len(errors) > 10:
        console.print(f"  … and {len(errors) - 10} more (gep harvest status --json)")

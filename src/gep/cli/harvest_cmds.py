"""``gep harvest``: keep the catalogue current from remote archives and local folders."""

from __future__ import annotations

import re

import orjson
import typer
from rich.table import Table

from gep.cli.common import console, run_or_exit, store_from_settings
from gep.core.errors import InvalidInput
from gep.core.timeutil import format_rfc3339, from_micros

app = typer.Typer(help="Harvesting agents (STAC API, OpenSearch, CDSE OData, ASF, SAFE folders)")

_EVERY = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> int:
    """``90``, ``15m``, ``6h``, ``1d`` → seconds."""
    m = _EVERY.match(text.strip())
    if not m or float(m[1]) <= 0:
        raise InvalidInput(f"--every '{text}': give a duration such as 30m, 6h or 1d")
    return int(float(m[1]) * _UNIT[m[2]])


def _params(pairs: list[str], as_json: str | None) -> dict[str, object]:
    params: dict[str, object] = {}
    if as_json:
        try:
            loaded = orjson.loads(as_json)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"--params is not JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise InvalidInput("--params must be a JSON object")
        params.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--param '{pair}': write KEY=VALUE")
        try:  # numbers, lists and booleans as JSON; anything else as a string
            params[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            params[key] = value
    return params


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Name of the source"),
    kind: str = typer.Option(..., "--kind", help="stac, opensearch, odata, asf, safe, eof or usgs"),
    url: str = typer.Option(..., "--url", help="Endpoint, or the folder of SAFE products"),
    collection: str = typer.Option(..., "--collection", help="GEP collection to fill"),
    param: list[str] = typer.Option([], "--param", help="KEY=VALUE source parameter"),
    params_json: str = typer.Option(None, "--params", help="Source parameters as JSON"),
    every: str = typer.Option(None, "--every", help="Run inside gep serve every 30m, 6h, 1d…"),
    replace: bool = typer.Option(False, "--replace", help="Replace a source of that name"),
) -> None:
    """Register a source (checked before it is stored); run it with ``gep harvest run``."""
    from gep.harvest.base import SourceConfig
    from gep.harvest.sources import check_config
    from gep.harvest.store import HarvestStore

    def go() -> None:
        config = SourceConfig(name, kind, url, collection, _params(param, params_json))
        check_config(config)
        interval = parse_every(every) if every else None
        with store_from_settings() as store:
            HarvestStore(store.engine).add(config, interval_s=interval, replace=replace)
        when = f", every {every}" if every else ""
        console.print(f"source [bold]{name}[/bold] ({kind} → {collection}{when}) added")

    run_or_exit(go)


@app.command("run")
def run(
    name: str = typer.Argument(None, help="Source to run (all of them when omitted)"),
    full: bool = typer.Option(False, "--full", help="Ignore the checkpoint: list everything"),
    max_pages: int = typer.Option(None, "--max-pages", help="Stop after N pages (resumable)"),
    as_json: bool = typer.Option(False, "--json", help="Print the run records as JSON"),
) -> None:
    """Harvest now, from the checkpoint (or the page a cut-off run stopped at)."""
    from gep.harvest.runner import run_harvest
    from gep.harvest.store import SUCCEEDED, HarvestStore

    def go() -> bool:
        ok = True
        with store_from_settings() as store:
            harvests = HarvestStore(store.engine)
            names = [name] if name else [r.config.name for r in harvests.sources() if r.enabled]
            if name:
                harvests.get(name)
            runs = []
            for n in names:
                result = run_harvest(store, harvests, n, full=full, max_pages=max_pages)
                runs.append(result.as_dict())
                ok = ok and result.status == SUCCEEDED
                if not as_json:
                    _print_run(result.as_dict())
            if as_json:
                typer.echo(orjson.dumps(runs).decode())
        return ok

    if not run_or_exit(go):
        raise typer.Exit(1)


@app.command("list")
def list_sources(as_json: bool = typer.Option(False, "--json")) -> None:
    """Configured sources, their schedule and checkpoint."""
    from gep.harvest.store import HarvestStore

    with store_from_settings() as store:
        records = HarvestStore(store.engine).sources()
    if as_json:
        typer.echo(orjson.dumps([r.as_dict() for r in records]).decode())
        return
    table = Table("name", "kind", "collection", "every", "checkpoint", "url")
    for r in records:
        every = f"{r.interval_s}s" if r.interval_s else "-"
        cp = (r.checkpoint or "-") + (" (resuming)" if r.cursor else "")
        table.add_row(r.config.name, r.config.kind, r.config.collection, every, cp, r.config.url)
    console.print(table)


@app.command("status")
def status(
    name: str = typer.Argument(None, help="Only this source"),
    limit: int = typer.Option(10, "--limit", help="How many runs"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The harvest log: the latest runs, with counts and errors."""
    from gep.harvest.store import HarvestStore

    def go() -> list[dict[str, object]]:
        with store_from_settings() as store:
            harvests = HarvestStore(store.engine)
            if name:
                harvests.get(name)
            return [r.as_dict() for r in harvests.runs(name, limit)]

    runs = run_or_exit(go)
    if as_json:
        typer.echo(orjson.dumps(runs).decode())
        return
    if not runs:
        console.print("no harvest has run yet")
    for r in runs:
        _print_run(r)


@app.command("remove")
def remove(name: str = typer.Argument(...)) -> None:
    """Forget a source (its items and its log stay)."""
    from gep.harvest.store import HarvestStore

    def go() -> None:
        with store_from_settings() as store:
            HarvestStore(store.engine).remove(name)

    run_or_exit(go)
    console.print(f"source {name} removed")


@app.command("events")
def events(
    after: int = typer.Option(0, "--after", help="Only events after this sequence number"),
    collection: str = typer.Option(None, "--collection"),
    limit: int = typer.Option(100, "--limit"),
) -> None:
    """Ingestion events (one per new item), oldest first, as JSON lines."""
    with store_from_settings() as store:
        for e in store.ingestion_events(after=after, collection=collection, limit=limit):
            typer.echo(
                orjson.dumps(
                    {
                        "seq": e.seq,
                        "collection": e.collection,
                        "item": e.item_id,
                        "origin": e.origin,
                        "created": format_rfc3339(from_micros(e.created)),
                    }
                ).decode()
            )


def _print_run(r: dict[str, object]) -> None:
    colour = {"succeeded": "green", "failed": "red"}.get(str(r["status"]), "yellow")
    console.print(
        f"[bold]{r['source']}[/bold] run {r['id']}: [{colour}]{r['status']}[/{colour}] "
        f"{r['pages']} page(s), {r['seen']} seen, {r['new']} new, {r['updated']} updated, "
        f"{r['skipped']} skipped, {r['requests']} request(s), {r['retries']} retried "
        f"(since {r['since'] or 'the beginning'}, started {r['started']})"
    )
    errors = r.get("errors") or []
    assert isinstance(errors, list)
    for line in errors[:10]:
        console.print(f"  [red]•[/red] {line}")
    if len(errors) > 10:
        console.print(f"  … and {len(errors) - 10} more (gep harvest status --json)")

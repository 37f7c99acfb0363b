"""``gep subscriptions``: systematic production rules on a running GEP (``GEP_BASE_URL``).

Everything goes through the HTTP API (``GepClient``), like ``gep jobs``: the server checks a
subscription before it exists, so a bad spec is refused here with the field it names.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.table import Table

from gep.cli.common import console
from gep.cli.job_cmds import _fail, client
from gep.client import GepClient, GepClientError

T = TypeVar("T")

app = typer.Typer(
    help="Subscriptions (systematic production) on a running GEP server (GEP_BASE_URL, "
    "default http://127.0.0.1:8000; GEP_TOKEN, your API token)",
    no_args_is_help=True,
)

JSON_OPTION = typer.Option(False, "--json", help="Print the server's JSON")


def _read_spec(source: str) -> dict[str, Any]:
    """A JSON object from a file, or from stdin with ``-`` (so specs can be piped in)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot read {source}: {exc.strerror}")
        raise typer.Exit(2) from None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        console.print(f"[red]error:[/red] {source} is not JSON: {exc}")
        raise typer.Exit(2) from None
    if not isinstance(spec, dict):
        console.print(f"[red]error:[/red] {source} must hold a JSON object")
        raise typer.Exit(2)
    return spec


def _ask(call: Callable[[GepClient], T]) -> T:
    """One call to the server; its problem printed and the command ended (exit 2) if it
    answers one."""
    try:
        return call(client())
    except GepClientError as exc:
        _fail(exc)
        raise typer.Exit(2) from None  # (_fail exits; this keeps the type checker sure)


def _echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2))


def _show_secret(answer: dict[str, Any]) -> None:
    """The webhook's signing secret is only ever in this answer: say so where it is printed."""
    secret = answer.get("webhook_secret")
    if secret:
        console.print("webhook signing secret ([bold]shown this once[/bold], keep it):")
        typer.echo(secret)


def _trigger_summary(trigger: dict[str, Any]) -> str:
    kind = str(trigger.get("type", "?"))
    if kind == "time":
        return f"time {trigger.get('cron', '')} {trigger.get('timezone', 'UTC')}".strip()
    if kind == "data":
        return f"data {trigger.get('collection', '')}".strip()
    return f"event {trigger.get('feed', '')}".strip()


@app.command("list")
def list_cmd(as_json: bool = JSON_OPTION) -> None:
    """The subscriptions you may see."""
    subs = _ask(lambda c: c.subscriptions())
    if as_json:
        _echo_json(subs)
        return
    table = Table("id", "title", "process", "trigger", "state", "jobs", "next run")
    table.columns[0].no_wrap = True
    for s in subs:
        st = s.get("status") or {}
        table.add_row(
            s["id"],
            s["title"],
            s["process"],
            _trigger_summary(s.get("trigger") or {}),
            s["state"],
            str(st.get("submitted", 0)),
            st.get("next_run") or "",
        )
    console.print(table)


@app.command("show")
def show_cmd(subscription_id: str, as_json: bool = JSON_OPTION) -> None:
    """A subscription: its counts, last trigger, next run and failures with their reasons."""
    sub = _ask(lambda c: c.subscription(subscription_id))
    if as_json:
        _echo_json(sub)
        return
    st = sub.get("status") or {}
    state = sub["state"] + (f" ({sub['reason']})" if sub.get("reason") else "")
    info = Table(show_header=False, box=None)
    info.add_column(style="bold", no_wrap=True)
    info.add_column()
    rows: list[tuple[str, str]] = [
        ("id", sub["id"]),
        ("title", sub["title"]),
        ("process", sub["process"]),
        ("trigger", json.dumps(sub.get("trigger"))),
        ("state", state),
        ("layer", sub["layer"]),
        ("visibility", str(sub.get("visibility", ""))),
        ("last trigger", st.get("last_trigger") or "never"),
        ("next run", st.get("next_run") or "-"),
    ]
    for key in ("matched", "submitted", "running", "succeeded", "failed"):
        rows.append((key, str(st.get(key, 0))))
    if sub.get("budget"):
        rows.append(("budget", json.dumps(sub["budget"])))
    if sub.get("webhook"):
        rows.append(("webhook", json.dumps(sub["webhook"])))
    for key, value in rows:
        info.add_row(key, value)
    console.print(info)
    failures = st.get("failures") or []
    if failures:
        table = Table("time", "trigger", "reason", title="failures")
        for f in failures:
            table.add_row(str(f.get("time", "")), str(f.get("trigger", "")), str(f["reason"]))
        console.print(table)


@app.command("create")
def create_cmd(
    spec_file: str = typer.Argument(..., metavar="FILE.json", help="The spec, or - for stdin"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a subscription; prints its id (and, once, its webhook's signing secret)."""
    spec = _read_spec(spec_file)
    answer = _ask(lambda c: c.create_subscription(spec))
    if as_json:
        _echo_json(answer)
        return
    typer.echo(answer["id"])
    _show_secret(answer)


@app.command("edit")
def edit_cmd(
    subscription_id: str,
    changes_file: str = typer.Argument(
        ..., metavar="FILE.json", help="Members to change (a merge patch), or - for stdin"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a subscription from its next trigger on (``visibility`` shares it)."""
    changes = _read_spec(changes_file)
    answer = _ask(lambda c: c.edit_subscription(subscription_id, **changes))
    if as_json:
        _echo_json(answer)
        return
    typer.echo(f"{answer['id']} {answer['state']}")
    _show_secret(answer)


@app.command("pause")
def pause_cmd(subscription_id: str) -> None:
    """Stop a subscription triggering; prints its state."""
    typer.echo(_ask(lambda c: c.pause_subscription(subscription_id))["state"])


@app.command("resume")
def resume_cmd(
    subscription_id: str,
    catch_up: bool = typer.Option(
        True, "--catch-up/--no-catch-up", help="Submit what matched while it was paused"
    ),
) -> None:
    """Resume a subscription; prints its state (and what the catch-up submitted)."""
    answer = _ask(lambda c: c.resume_subscription(subscription_id, catch_up=catch_up))
    typer.echo(answer["state"])
    if answer.get("catch_up"):
        typer.echo(json.dumps(answer["catch_up"]))


@app.command("delete")
def delete_cmd(
    subscription_id: str,
    remove_layer: bool = typer.Option(
        False, "--remove-layer", help="Delete its layer, items and files too (kept by default)"
    ),
) -> None:
    """Delete a subscription (its jobs stay; its layer stays unless --remove-layer)."""
    _ask(lambda c: c.delete_subscription(subscription_id, keep_layer=not remove_layer))
    typer.echo(f"deleted {subscription_id}" + (" and its layer" if remove_layer else ""))


@app.command("backfill")
def backfill_cmd(
    subscription_id: str,
    dry_run: bool = typer.Option(False, "--dry-run", help="List the jobs, submit none"),
    limit: int = typer.Option(None, "--limit", min=1, help="Archive items read at most"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the subscription's rule over the archive already catalogued."""
    report = _ask(lambda c: c.backfill(subscription_id, dry_run=dry_run, limit=limit))
    if as_json:
        _echo_json(report)
        return
    if dry_run:
        table = Table("trigger", "already submitted", "inputs")
        for p in report.get("planned", []):
            table.add_row(str(p["trigger"]), str(p["submitted"]), json.dumps(p["inputs"]))
        console.print(table)
        typer.echo(f"{report.get('jobs', 0)} jobs from {report['items']} items (dry run)")
        return
    typer.echo(
        f"{report.get('submitted', 0)} submitted, {report.get('duplicates', 0)} already done, "
        f"{report.get('failed', 0)} failed, from {report['items']} items"
        + (" (paused: budget or cap reached)" if report.get("paused") else "")
    )


@app.command("jobs")
def jobs_cmd(subscription_id: str, as_json: bool = JSON_OPTION) -> None:
    """The jobs a subscription submitted, newest first."""
    found = _ask(lambda c: c.subscription_jobs(subscription_id))
    if as_json:
        _echo_json(found)
        return
    table = Table("job", "status", "trigger", "message")
    table.columns[0].no_wrap = True
    for j in found:
        table.add_row(j["jobID"], j["status"], str(j.get("trigger") or ""), j.get("message") or "")
    console.print(table)


@app.command("layer")
def layer_cmd(subscription_id: str, as_json: bool = JSON_OPTION) -> None:
    """The subscription's information layer: its collection and items per date."""
    layer = _ask(lambda c: c.subscription_layer(subscription_id))
    if as_json:
        _echo_json(layer)
        return
    typer.echo(layer["collection"])
    dates = layer.get("dates") or []
    if dates:
        table = Table(*dates[0].keys())
        for d in dates:
            table.add_row(*(str(v) for v in d.values()))
        console.print(table)
    else:
        console.print("no items yet")

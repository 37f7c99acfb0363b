"""``gep subscriptions``: systematic production rules on the GEP server the CLI talks to
(``--url``/``GEP_URL``, as ``GEP_TOKEN`` or the saved login).

Everything goes through the HTTP API (the SDK), like ``gep jobs``: the server checks a
subscription before it exists, so a bad spec is refused here with the field it names.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from gep.cli.common import (
    JSON_OPTION,
    client,
    console,
    emit,
    emit_json,
    emit_table,
    read_json_object,
)

app = typer.Typer(
    help="Subscriptions (systematic production): rules that submit jobs when data arrive, "
    "on a schedule or on events, into an information layer",
    no_args_is_help=True,
)

SUBSCRIPTION = typer.Argument(..., help="The subscription's id (gep subscriptions list)")


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
    subs = client().subscriptions()
    rows = [
        [
            s["id"],
            s["title"],
            s["process"],
            _trigger_summary(s.get("trigger") or {}),
            s["state"],
            (s.get("status") or {}).get("submitted", 0),
            (s.get("status") or {}).get("next_run") or "",
        ]
        for s in subs
    ]
    columns = ("id", "title", "process", "trigger", "state", "jobs", "next run")
    emit(subs, as_json, columns, rows, whole=["id"], empty="no subscriptions")


@app.command("show")
def show_cmd(subscription_id: str = SUBSCRIPTION, as_json: bool = JSON_OPTION) -> None:
    """A subscription: its counts, last trigger, next run and failures with their reasons."""
    sub = client().subscription(subscription_id)
    if as_json:
        emit_json(sub)
        return
    st = sub.get("status") or {}
    state = sub["state"] + (f" ({sub['reason']})" if sub.get("reason") else "")
    rows: list[list[Any]] = [
        ["id", sub["id"]],
        ["title", sub["title"]],
        ["process", sub["process"]],
        ["trigger", json.dumps(sub.get("trigger"))],
        ["state", state],
        ["layer", sub["layer"]],
        ["visibility", str(sub.get("visibility", ""))],
        ["last trigger", st.get("last_trigger") or "never"],
        ["next run", st.get("next_run") or "-"],
    ]
    for key in ("matched", "submitted", "running", "succeeded", "failed"):
        rows.append([key, st.get(key, 0)])
    if sub.get("budget"):
        rows.append(["budget", json.dumps(sub["budget"])])
    if sub.get("webhook"):
        rows.append(["webhook", json.dumps(sub["webhook"])])
    emit_table(("field", "value"), rows, whole=["field"])
    failures = st.get("failures") or []
    if failures:
        emit_table(
            ("time", "trigger", "reason"),
            [[f.get("time", ""), f.get("trigger", ""), f["reason"]] for f in failures],
            title="failures",
        )


@app.command("create")
def create_cmd(
    spec_file: str = typer.Argument(..., metavar="FILE.json", help="The spec, or - for stdin"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a subscription; prints its id (and, once, its webhook's signing secret)."""
    answer = client().create_subscription(read_json_object(spec_file))
    if as_json:
        emit_json(answer)
        return
    typer.echo(answer["id"])
    _show_secret(answer)


@app.command("edit")
def edit_cmd(
    subscription_id: str = SUBSCRIPTION,
    changes_file: str = typer.Argument(
        ..., metavar="FILE.json", help="Members to change (a merge patch), or - for stdin"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a subscription from its next trigger on (``visibility`` shares it)."""
    answer = client().edit_subscription(subscription_id, **read_json_object(changes_file))
    if as_json:
        emit_json(answer)
        return
    typer.echo(f"{answer['id']} {answer['state']}")
    _show_secret(answer)


@app.command("pause")
def pause_cmd(subscription_id: str = SUBSCRIPTION, as_json: bool = JSON_OPTION) -> None:
    """Stop a subscription triggering; prints its state."""
    answer = client().pause_subscription(subscription_id)
    if as_json:
        emit_json(answer)
        return
    typer.echo(answer["state"])


@app.command("resume")
def resume_cmd(
    subscription_id: str = SUBSCRIPTION,
    catch_up: bool = typer.Option(
        True, "--catch-up/--no-catch-up", help="Submit what matched while it was paused"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Resume a subscription; prints its state (and what the catch-up submitted)."""
    answer = client().resume_subscription(subscription_id, catch_up=catch_up)
    if as_json:
        emit_json(answer)
        return
    typer.echo(answer["state"])
    if answer.get("catch_up"):
        typer.echo(json.dumps(answer["catch_up"]))


@app.command("delete")
def delete_cmd(
    subscription_id: str = SUBSCRIPTION,
    remove_layer: bool = typer.Option(
        False, "--remove-layer", help="Delete its layer, items and files too (kept by default)"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete a subscription (its jobs stay; its layer stays unless --remove-layer)."""
    client().delete_subscription(subscription_id, keep_layer=not remove_layer)
    if as_json:
        emit_json({"id": subscription_id, "deleted": True, "layer_removed": remove_layer})
        return
    typer.echo(f"deleted {subscription_id}" + (" and its layer" if remove_layer else ""))


@app.command("backfill")
def backfill_cmd(
    subscription_id: str = SUBSCRIPTION,
    dry_run: bool = typer.Option(False, "--dry-run", help="List the jobs, submit none"),
    limit: int = typer.Option(None, "--limit", min=1, help="Archive items read at most"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the subscription's rule over the archive already catalogued."""
    report = client().backfill(subscription_id, dry_run=dry_run, limit=limit)
    if as_json:
        emit_json(report)
        return
    if dry_run:
        rows = [
            [p["trigger"], p["submitted"], json.dumps(p["inputs"])]
            for p in report.get("planned", [])
        ]
        if rows:
            emit_table(("trigger", "already submitted", "inputs"), rows)
        typer.echo(f"{report.get('jobs', 0)} jobs from {report['items']} items (dry run)")
        return
    typer.echo(
        f"{report.get('submitted', 0)} submitted, {report.get('duplicates', 0)} already done, "
        f"{report.get('failed', 0)} failed, from {report['items']} items"
        + (" (paused: budget or cap reached)" if report.get("paused") else "")
    )


@app.command("jobs")
def jobs_cmd(subscription_id: str = SUBSCRIPTION, as_json: bool = JSON_OPTION) -> None:
    """The jobs a subscription submitted, newest first."""
    found = client().subscription_jobs(subscription_id)
    rows = [
        [j["jobID"], j["status"], j.get("trigger") or "", j.get("message") or ""] for j in found
    ]
    columns = ("job", "status", "trigger", "message")
    emit(found, as_json, columns, rows, whole=["job"], empty="no jobs yet")


@app.command("layer")
def layer_cmd(subscription_id: str = SUBSCRIPTION, as_json: bool = JSON_OPTION) -> None:
    """The subscription's information layer: its collection and items per date."""
    layer = client().subscription_layer(subscription_id)
    if as_json:
        emit_json(layer)
        return
    typer.echo(layer["collection"])
    dates = layer.get("dates") or []
    if dates:
        emit_table(list(dates[0].keys()), [list(d.values()) for d in dates])
    else:
        console.print("no items yet")

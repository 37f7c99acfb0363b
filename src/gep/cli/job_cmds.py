"""``gep jobs``: submit, watch and manage jobs on a GEP server, by whole id or a unique prefix.

Only typer, rich and the standard library at the top: the SDK is imported inside the commands
(``gep --help`` stays fast)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from gep.cli import common
from gep.cli.common import JSON_OPTION, console, emit, emit_json, fail, resolve_job

if TYPE_CHECKING:
    from gep.client import GepClient, GepClientError

app = typer.Typer(
    help="Jobs on the GEP server: submit, list, follow, read results and logs, cancel, pin. "
    "A job is named by its id or by the start of it (unique among the jobs you may see).",
    no_args_is_help=True,
)

#: the same list as ``common.CLIENT_FACTORY`` (tests set either)
CLIENT_FACTORY = common.CLIENT_FACTORY
#: the SDK as the caller (kept here for the modules that imported it from jobs)
client = common.client

STATUSES = "accepted, running, successful, failed, dismissed"


def _fail(exc: GepClientError) -> None:
    """An SDK error as the command's one line (kept for older callers; the root group does
    the same for any command that lets the error through)."""
    raise fail(common.error_line(exc))


def _parse_inputs(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs; a value that parses as JSON is taken as JSON (numbers, lists, objects)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise fail(f"--input '{pair}' is not KEY=VALUE")
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _watch(gep: GepClient, job_id: str) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[msg]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(job_id[:8], total=100, msg="")

        def show(info: dict[str, Any]) -> None:
            progress.update(
                task,
                completed=info.get("progress", 0),
                msg=f"{info['status']} {info.get('message', '')}",
            )

        return gep.watch(job_id, on_progress=show, interval=0.2)


def _when(value: Any) -> str:
    """An RFC 3339 instant as ``YYYY-MM-DD HH:MM`` (the table's width matters more than
    seconds; ``--json`` keeps them)."""
    text = str(value or "")
    return text[:16].replace("T", " ") if len(text) >= 16 else text


@app.command("submit")
def submit(
    process_id: str = typer.Argument(..., help="The service (gep processes list)"),
    inputs: list[str] = typer.Option(
        [], "--input", "-i", help="KEY=VALUE (JSON values accepted), repeatable"
    ),
    watch: bool = typer.Option(False, "--watch", help="Follow the job with a progress bar"),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Check the inputs and show what would run and cost, without submitting",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Submit a job; prints its id.

    With --watch, follows it with a progress bar and prints its results."""
    gep = client()
    values = _parse_inputs(inputs)
    if dry_run:
        checked = gep.dry_run(process_id, values)
        if as_json:
            emit_json(checked)
            return
        quote = checked.get("quote") or {}
        rows = [
            ("process", checked.get("processID", process_id)),
            ("inputs", "valid" if checked.get("valid") else "refused"),
            ("would cost", f"{quote.get('credits')} credits"),
            ("area", f"{quote.get('area_km2')} km²" if quote.get("area_km2") else ""),
        ]
        common.emit_table(("dry run", ""), [r for r in rows if r[1]])
        console.print("nothing was submitted")
        return
    job = gep.execute(process_id, values, wait=False)
    job_id = str(job["jobID"])
    if as_json and not watch:
        emit_json(job)
        return
    typer.echo(job_id)
    if watch:
        final = _watch(gep, job_id)
        if final["status"] != "successful":
            raise fail(f"{final['status']}: {final.get('message', '')}", code=1)
        emit_json(gep.results(job_id))


@app.command("list")
def list_cmd(
    status: str = typer.Option(None, help=f"Only jobs in these states ({STATUSES}; commas)"),
    process: str = typer.Option(None, help="Only jobs of this process"),
    prefix: str = typer.Option(None, help="Only jobs whose id starts with this"),
    limit: int = typer.Option(20, min=1, help="How many (newest first)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """The newest jobs you may see; ids are shown whole, whatever the terminal's width."""
    gep = client()
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    if process:
        params["processID"] = process
    if prefix:
        params["prefix"] = prefix
    answer = gep._json(gep.http.get("/jobs", params=params))
    found = answer.get("jobs", [])
    rows = [
        (j["jobID"], j.get("processID", ""), j.get("status", ""), j.get("progress", 0),
         _when(j.get("created")))
        for j in found
    ]  # fmt: skip
    emit(
        answer,
        as_json,
        ("id", "process", "status", "%", "created"),
        rows,
        whole=("id",),
        empty="no jobs",
    )
    matched = answer.get("numberMatched")
    if not as_json and isinstance(matched, int) and matched > len(found):
        console.print(f"the newest {len(found)} of {matched} jobs (--limit for more)")


@app.command("status")
def status_cmd(
    job: str = typer.Argument(..., help="A job id or the start of one"),
    as_json: bool = JSON_OPTION,
) -> None:
    """A job's status: its process, state, progress, message and times."""
    gep = client()
    info = gep.job(resolve_job(gep, job))
    if as_json:
        emit_json(info)
        return
    keys = ("jobID", "processID", "status", "progress", "message", "created", "started",
            "finished", "gep:visibility")  # fmt: skip
    common.emit_table(
        ("field", "value"), [(k, info.get(k)) for k in keys if k in info], whole=("value",)
    )


@app.command("watch")
def watch_cmd(job: str = typer.Argument(..., help="A job id or the start of one")) -> None:
    """Follow a job with a progress bar until it ends; prints its final state.

    Exits 1 when the job did not succeed."""
    gep = client()
    final = _watch(gep, resolve_job(gep, job))
    typer.echo(final["status"])
    if final["status"] != "successful":
        raise typer.Exit(1)


@app.command("results")
def results_cmd(
    job: str = typer.Argument(..., help="A job id or the start of one"),
    as_json: bool = JSON_OPTION,
) -> None:
    """A finished job's outputs (JSON; as a table of output/value without --json)."""
    gep = client()
    results = gep.results(resolve_job(gep, job))
    rows = [(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in results.items()]
    emit(results, as_json, ("output", "value"), rows, empty="no outputs")


@app.command("logs")
def logs_cmd(
    job: str = typer.Argument(..., help="A job id or the start of one"),
    level: str = typer.Option(None, help="Minimum level (debug, info, warning, error)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """A job's log lines."""
    gep = client()
    lines = gep.logs(resolve_job(gep, job), level=level)
    if as_json:
        emit_json(lines)
        return
    for line in lines:
        typer.echo(f"{line['seq']:>4} {line['level']:<8} {line['message']}")


@app.command("cancel")
def cancel_cmd(
    job: str = typer.Argument(..., help="A job id or the start of one"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Dismiss a job (a running one stops at its next progress report); prints its state."""
    gep = client()
    answer = gep.dismiss(resolve_job(gep, job))
    if as_json:
        emit_json(answer)
    else:
        typer.echo(answer["status"])


@app.command("pin")
def pin_cmd(
    job: str = typer.Argument(..., help="A job id or the start of one"),
    unpin: bool = typer.Option(False, "--unpin", help="Let the results expire again"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Keep a job's results whatever their collection's retention policy."""
    gep = client()
    job_id = resolve_job(gep, job)
    answer = gep.pin(job_id, pinned=not unpin)
    if as_json:
        emit_json(answer)
    else:
        typer.echo(f"{job_id} {'pinned' if answer.get('gep:pinned') else 'not pinned'}")

"""``gep jobs``: submit, watch and manage jobs on a running GEP (``GEP_BASE_URL``)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gep.cli.common import console, settings
from gep.client import GepClient, GepClientError
from gep.core.enums import JobStatus

app = typer.Typer(
    help="Jobs on a running GEP server (GEP_BASE_URL, default http://127.0.0.1:8000; "
    "GEP_TOKEN, your API token)",
    no_args_is_help=True,
)

#: tests point the CLI at an in-process app through this
CLIENT_FACTORY: list[Any] = []


def client() -> GepClient:
    if CLIENT_FACTORY:
        return CLIENT_FACTORY[0]()  # type: ignore[no-any-return]
    s = settings()
    return GepClient(s.base_url or "http://127.0.0.1:8000", token=s.token or None)


def _fail(exc: GepClientError) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)


def _parse_inputs(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs; a value that parses as JSON is taken as JSON (numbers, lists, objects)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            console.print(f"[red]error:[/red] --input '{pair}' is not KEY=VALUE")
            raise typer.Exit(2)
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _watch(gep: GepClient, job_id: str) -> dict[str, Any]:
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


@app.command("submit")
def submit(
    process_id: str,
    inputs: list[str] = typer.Option(
        [], "--input", "-i", help="KEY=VALUE (JSON values accepted), repeatable"
    ),
    watch: bool = typer.Option(False, "--watch", help="Follow the job with a progress bar"),
) -> None:
    """Submit a job; prints its id (and, with --watch, follows it and prints its results)."""
    gep = client()
    try:
        job = gep.execute(process_id, _parse_inputs(inputs), wait=False)
        typer.echo(job["jobID"])
        if watch:
            final = _watch(gep, job["jobID"])
            if final["status"] != JobStatus.SUCCESSFUL:
                console.print(f"[red]{final['status']}[/red]: {final.get('message', '')}")
                raise typer.Exit(1)
            typer.echo(json.dumps(gep.results(job["jobID"]), indent=2))
    except GepClientError as exc:
        _fail(exc)


@app.command("list")
def list_cmd(
    status: str = typer.Option(None, help="|".join(JobStatus)),
    process: str = typer.Option(None, help="Only this process"),
    limit: int = typer.Option(20),
) -> None:
    """The newest jobs."""
    try:
        found = client().jobs(status=status, process_id=process, limit=limit)
    except GepClientError as exc:
        _fail(exc)
        return
    table = Table("job", "process", "status", "progress", "created", "message")
    for j in found:
        table.add_row(
            j["jobID"],
            j["processID"],
            j["status"],
            str(j.get("progress", 0)),
            j.get("created", ""),
            j.get("message", ""),
        )
    console.print(table)


@app.command("status")
def status_cmd(job_id: str) -> None:
    """A job's status document (JSON)."""
    try:
        typer.echo(json.dumps(client().job(job_id), indent=2))
    except GepClientError as exc:
        _fail(exc)


@app.command("watch")
def watch_cmd(job_id: str) -> None:
    """Follow a job with a progress bar until it ends."""
    try:
        final = _watch(client(), job_id)
    except GepClientError as exc:
        _fail(exc)
        return
    typer.echo(final["status"])


@app.command("results")
def results_cmd(job_id: str) -> None:
    """A finished job's outputs (JSON)."""
    try:
        typer.echo(json.dumps(client().results(job_id), indent=2))
    except GepClientError as exc:
        _fail(exc)


@app.command("logs")
def logs_cmd(job_id: str, level: str = typer.Option(None, help="Minimum level")) -> None:
    """A job's log lines."""
    try:
        for line in client().logs(job_id, level=level):
            typer.echo(f"{line['seq']:>4} {line['level']:<8} {line['message']}")
    except GepClientError as exc:
        _fail(exc)


@app.command("cancel")
def cancel_cmd(job_id: str) -> None:
    """Dismiss a job (a running one stops at its next progress report)."""
    try:
        typer.echo(client().dismiss(job_id)["status"])
    except GepClientError as exc:
        _fail(exc)


@app.command("pin")
def pin_cmd(
    job_id: str,
    unpin: bool = typer.Option(False, "--unpin", help="Let the results expire again"),
) -> None:
    """Keep a job's results whatever their collection's retention policy."""
    try:
        answer = client().pin(job_id, pinned=not unpin)
    except GepClientError as exc:
        _fail(exc)
        return
    typer.echo(json.dumps(answer))

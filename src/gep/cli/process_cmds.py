"""``gep processes``: the processing services this installation offers."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from gep.cli.common import console, run_or_exit
from gep.client import GepClientError
from gep.processes.cwl import main_process, parse_package
from gep.processes.registry import ProcessRegistry, describe

app = typer.Typer(help="Processing services", no_args_is_help=True)


@app.command("list")
def list_cmd() -> None:
    """List the services (id, version, title)."""
    reg = ProcessRegistry()
    table = Table("id", "version", "title")
    for pid in reg.ids():
        p = reg.get(pid)
        table.add_row(p.id, p.version, p.title)
    console.print(table)


@app.command("describe")
def describe_cmd(process_id: str) -> None:
    """Print a service's OGC API - Processes description (JSON)."""
    reg = ProcessRegistry()
    desc = run_or_exit(lambda: describe(reg.get(process_id), ""))
    typer.echo(json.dumps(desc, indent=2))


@app.command("deploy")
def deploy_cmd(
    path: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="CWL file (.cwl/.yaml as application/cwl+yaml, .json as application/cwl+json)",
    ),
    replace: bool = typer.Option(False, "--replace", help="Replace a deployed package"),
) -> None:
    """Deploy an application package on the running server (GEP_BASE_URL)."""
    from gep.cli.job_cmds import client

    media = "application/cwl+json" if path.suffix == ".json" else "application/cwl+yaml"
    gep = client()
    try:
        target = None
        if replace:
            doc, _ = parse_package(path.read_bytes(), media)
            target = str(main_process(doc).get("id", "")).split("/")[-1].lstrip("#")
        summary = gep.deploy(path.read_bytes(), media, replace=target)
    except GepClientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(summary.get("id", "replaced"))


@app.command("undeploy")
def undeploy_cmd(process_id: str) -> None:
    """Remove a deployed application package from the running server."""
    from gep.cli.job_cmds import client

    try:
        client().undeploy(process_id)
    except GepClientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(f"undeployed {process_id}")

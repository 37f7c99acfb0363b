"""``gep processes``: the processing services this installation offers."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from gep.cli.common import console, run_or_exit
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

"""``gep processes``: the processing services of the GEP server (built-in and deployed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from gep.cli.common import JSON_OPTION, client, emit, emit_json

app = typer.Typer(
    help="Processing services on the GEP server: list, describe, deploy your own (CWL)",
    no_args_is_help=True,
)


@app.command("list")
def list_cmd(as_json: bool = JSON_OPTION) -> None:
    """The services you may run: built-in ones and deployed application packages."""
    found = client().processes()
    rows = [(p["id"], p.get("version", ""), p.get("title", "")) for p in found]
    emit(
        {"processes": found},
        as_json,
        ("id", "version", "title"),
        rows,
        whole=("id",),
        empty="no processes",
    )


@app.command("describe")
def describe_cmd(
    process_id: str = typer.Argument(..., help="The service's id (gep processes list)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """A service's OGC API - Processes description: its inputs and outputs."""
    desc = client().process(process_id)
    if as_json:
        emit_json(desc)
        return
    from gep.cli.common import emit_table, out

    out.print(f"[bold]{desc.get('id')}[/bold] {desc.get('version', '')} — {desc.get('title', '')}")
    if desc.get("description"):
        out.print(str(desc["description"]), highlight=False)
    for what in ("inputs", "outputs"):
        entries = desc.get(what) or {}
        rows = [
            (k, _type_of(v.get("schema", {})), v.get("minOccurs", 1) if what == "inputs" else "",
             v.get("title", ""))
            for k, v in entries.items()
        ]  # fmt: skip
        if rows:
            emit_table((what[:-1], "type", "min", "title"), rows, whole=(what[:-1],))


def _type_of(schema: dict[str, Any]) -> str:
    """A JSON schema in a few characters (the table's ``type`` column)."""
    if "type" in schema:
        return str(schema["type"])
    for key in ("oneOf", "anyOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list):
            return "|".join(_type_of(s) for s in options if isinstance(s, dict))
    return "object" if schema.get("properties") else "any"


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
    """Deploy an application package on the server; prints the new service's id."""
    from gep.processes.cwl import main_process, parse_package

    media = "application/cwl+json" if path.suffix == ".json" else "application/cwl+yaml"
    gep = client()
    target = None
    if replace:
        doc, _ = parse_package(path.read_bytes(), media)
        target = str(main_process(doc).get("id", "")).split("/")[-1].lstrip("#")
    summary = gep.deploy(path.read_bytes(), media, replace=target)
    typer.echo(summary.get("id", "replaced"))


@app.command("undeploy")
def undeploy_cmd(process_id: str) -> None:
    """Remove a deployed application package from the server."""
    client().undeploy(process_id)
    typer.echo(f"undeployed {process_id}")


@app.command("validate")
def validate_cmd(
    process_id: str = typer.Argument(..., help="A package you deployed"),
    wait: bool = typer.Option(False, "--wait", help="Wait for the verdict (exit 1 if failed)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the samples your package declares (gep:Validation) as a job, and check its
    outputs; a service is shared beyond you only once a validation has passed."""
    found = client().validate(process_id, wait=wait)
    if as_json:
        emit_json(found)
    else:
        typer.echo(f"{process_id}: validation {found.get('status')} (job {found.get('jobID')})")
        for reason in found.get("reasons") or []:
            typer.echo(f"  - {reason}")
    if found.get("status") == "failed":
        raise typer.Exit(1)

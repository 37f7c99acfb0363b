"""The shape of the ``gep`` command tree: every command and group explains itself, every
command that prints data can print it as JSON, and ``import gep.cli.main`` (what ``gep
--help`` costs) loads no heavy module."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import typer

from gep.cli.main import app

#: commands that print no data (they act, follow, or write files), so need no --json
NO_DATA = {
    "login",  # saves a token; says so on standard error
    "logout",
    "serve",  # runs the server
    "worker",  # runs a worker
    "db upgrade",
    "catalog ingest",  # a progress bar over local files
    "catalog quicklooks",
    "demo seed",
    "demo ingest",
    "processes deploy",  # prints the new id only
    "processes undeploy",
    "jobs watch",  # a progress bar, then the final state
    "harvest remove",
    "gazetteer remove-area",
    "assets get",  # writes a file
    "map permalink",  # prints one URL
    "users demo-admin",
    "groups add",
    "groups remove",
    "tokens revoke",
    "mirrors remove",
}

#: modules ``gep --help`` must not load (each costs a tenth of a second or more)
HEAVY = ("sqlalchemy", "numpy", "xarray", "pandas", "scipy", "fastapi", "pydantic", "rasterio",
         "alembic", "dask", "distributed", "gep.catalog", "gep.settings", "gep.processes",
         "gep.api", "gep.db")  # fmt: skip


def _walk(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    yield " ".join(path), cmd
    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        yield from _walk(sub, (*path, name))


def test_every_command_has_help_and_every_data_command_has_json() -> None:
    tree = dict(_walk(typer.main.get_command(app)))
    assert {"login", "logout", "whoami", "search", "download", "share", "upload",
            "subscriptions list", "jobs list", "processes list", "apps"} <= set(tree)  # fmt: skip
    no_help = [path or "gep" for path, cmd in tree.items() if not (cmd.help or "").strip()]
    assert no_help == []
    commands = {p: c for p, c in tree.items() if p and not hasattr(c, "commands")}
    no_json = sorted(
        p for p, c in commands.items()
        if p not in NO_DATA and not any("--json" in opt.opts for opt in c.params)
    )  # fmt: skip
    assert no_json == []
    # every exemption names a real command (a renamed one must leave the list too)
    assert set(commands) >= NO_DATA
    # options explain themselves too
    undocumented = sorted(
        f"{p} {opt.opts[0]}" for p, c in commands.items() for opt in c.params
        if getattr(opt, "param_type_name", "") == "option" and not getattr(opt, "help", None)
    )  # fmt: skip
    assert undocumented == []


def test_importing_the_cli_loads_no_heavy_module() -> None:
    code = "import sys, json, gep.cli.main; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []

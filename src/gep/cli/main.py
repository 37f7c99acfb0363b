"""The ``gep`` command."""

from __future__ import annotations

import typer

from gep.cli import (
    account_cmds,
    asset_cmds,
    catalog_cmds,
    db_cmds,
    demo_cmds,
    gateway_cmds,
    gazetteer_cmds,
    harvest_cmds,
    insar_cmds,
    job_cmds,
    map_cmds,
    process_cmds,
    retention_cmds,
    serve_cmds,
    subscription_cmds,
    upload_cmds,
    worker_cmds,
)

app = typer.Typer(
    help="GEP — open Geohazards Exploitation Platform",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db_cmds.app, name="db")
app.add_typer(catalog_cmds.app, name="catalog")
app.add_typer(demo_cmds.app, name="demo")
app.add_typer(process_cmds.app, name="processes")
app.add_typer(job_cmds.app, name="jobs")
app.add_typer(subscription_cmds.app, name="subscriptions")
app.add_typer(insar_cmds.app, name="insar")
app.add_typer(harvest_cmds.app, name="harvest")
app.add_typer(gazetteer_cmds.app, name="gazetteer")
app.add_typer(asset_cmds.app, name="assets")
app.add_typer(map_cmds.app, name="map")
serve_cmds.register(app)
account_cmds.register(app)
worker_cmds.register(app)
upload_cmds.register(app)
gateway_cmds.register(app)
retention_cmds.register(app)

if __name__ == "__main__":  # pragma: no cover
    app()

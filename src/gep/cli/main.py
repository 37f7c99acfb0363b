"""The ``gep`` command."""

from __future__ import annotations

import typer

from gep.cli import (
    account_cmds,
    app_cmds,
    asset_cmds,
    catalog_cmds,
    common,
    data_cmds,
    db_cmds,
    demo_cmds,
    gateway_cmds,
    gazetteer_cmds,
    harvest_cmds,
    insar_cmds,
    job_cmds,
    login_cmds,
    map_cmds,
    process_cmds,
    retention_cmds,
    serve_cmds,
    subscription_cmds,
    upload_cmds,
    worker_cmds,
)

app = typer.Typer(
    help="GEP — open Geohazards Exploitation Platform. Commands talk to a GEP server "
    "(--url, GEP_URL or `gep login`; default http://127.0.0.1:8000) as the caller "
    "(GEP_TOKEN or `gep login`); the few that open the database itself say so.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=common.CliGroup,
)


@app.callback()
def root(
    url: str = typer.Option(
        None, "--url", help="The GEP server (overrides GEP_URL and the saved login)"
    ),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of a failure"),
) -> None:
    """GEP — open Geohazards Exploitation Platform."""
    # set afresh on every run (tests run many in one process)
    common.URL_OVERRIDE[:] = [url] if url else []
    common.DEBUG[:] = [True] if debug else []


login_cmds.register(app)
data_cmds.register(app)
app.add_typer(db_cmds.app, name="db")
app.add_typer(catalog_cmds.app, name="catalog")
app.add_typer(demo_cmds.app, name="demo")
app.add_typer(process_cmds.app, name="processes")
app.add_typer(job_cmds.app, name="jobs")
app.add_typer(subscription_cmds.app, name="subscriptions")
app.add_typer(app_cmds.app, name="apps")
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


def main() -> None:
    """The ``gep`` command: failures are one line (``--debug`` for the traceback)."""
    common.run_main(app)


if __name__ == "__main__":  # pragma: no cover
    main()

"""``gep db``: schema migrations."""

from __future__ import annotations

import typer

from gep.cli.common import console, settings

app = typer.Typer(
    help="Administrative: opens the database directly (run it on the server's machine). "
    "The database schema",
    no_args_is_help=True,
)


@app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="Alembic revision")) -> None:
    """Administrative: opens the database directly (run it on the server's machine). Migrate
    the database (SQLite or PostGIS, from GEP_DATABASE_URL) to the latest schema."""
    from gep.catalog.backends import open_store
    from gep.db.migrate import current_revision, upgrade

    url = settings().resolved_database_url()
    store = open_store(url)
    try:
        upgrade(store.engine, revision)
        console.print(f"database at revision {current_revision(store.engine)}")
    finally:
        store.close()

"""``gep db``: schema migrations."""

from __future__ import annotations

import typer

from gep.catalog.backends import open_store
from gep.cli.common import console, settings
from gep.db.migrate import current_revision, upgrade

app = typer.Typer(help="Database schema", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="Alembic revision")) -> None:
    """Migrate the database (SQLite or PostGIS, from GEP_DATABASE_URL) to the latest schema."""
    url = settings().resolved_database_url()
    store = open_store(url)
    try:
        upgrade(store.engine, revision)
        console.print(f"database at revision {current_revision(store.engine)}")
    finally:
        store.close()

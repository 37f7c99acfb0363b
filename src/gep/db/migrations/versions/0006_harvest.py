"""Harvesting: configured sources, their runs (the harvest log) and ingestion events.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    big = "BIGINT" if pg else "INTEGER"
    serial = "BIGSERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
    op.execute(
        "CREATE TABLE harvest_sources (name TEXT PRIMARY KEY, kind TEXT NOT NULL, "
        "url TEXT NOT NULL, collection TEXT NOT NULL, params TEXT NOT NULL, "
        f"interval_s {big}, enabled INTEGER NOT NULL DEFAULT 1, "
        # checkpoint: the newest datetime of a finished run; cursor: the page to resume at
        "checkpoint TEXT, cursor TEXT, "
        f"created {big} NOT NULL, updated {big} NOT NULL, next_run {big})"
    )
    op.execute(
        f"CREATE TABLE harvest_runs (id {serial}, source TEXT NOT NULL, "
        f"started {big} NOT NULL, finished {big}, status TEXT NOT NULL, "
        "pages INTEGER NOT NULL DEFAULT 0, seen INTEGER NOT NULL DEFAULT 0, "
        "new INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0, "
        "skipped INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0, "
        "retries INTEGER NOT NULL DEFAULT 0, since TEXT, errors TEXT NOT NULL DEFAULT '[]', "
        f"heartbeat {big}, owner TEXT)"
    )
    op.execute("CREATE INDEX harvest_runs_source ON harvest_runs (source, id)")
    op.execute(
        f"CREATE TABLE ingestion_events (seq {serial}, collection TEXT NOT NULL, "
        f"item_id TEXT NOT NULL, origin TEXT NOT NULL, created {big} NOT NULL)"
    )
    op.execute("CREATE INDEX ingestion_events_collection ON ingestion_events (collection, seq)")


def downgrade() -> None:
    for table in ("ingestion_events", "harvest_runs", "harvest_sources"):
        op.execute(f"DROP TABLE IF EXISTS {table}")

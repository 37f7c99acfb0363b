"""Deployed application packages (OGC API - Processes - Part 2).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    big = "BIGINT" if op.get_bind().dialect.name == "postgresql" else "INTEGER"
    op.execute(
        "CREATE TABLE deployed_processes (id TEXT PRIMARY KEY, package TEXT NOT NULL, "
        f"media_type TEXT NOT NULL, created {big} NOT NULL, updated {big} NOT NULL)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS deployed_processes")

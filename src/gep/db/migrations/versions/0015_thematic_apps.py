"""Thematic apps: an owned, shareable bundle of collections, services, layers and areas.

``document`` holds the app as the JSON the API answers (without owner and visibility, which
are columns so that listings filter on them like every other owned thing).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    big = "BIGINT" if op.get_bind().dialect.name == "postgresql" else "INTEGER"
    for stmt in [
        "CREATE TABLE thematic_apps (id TEXT PRIMARY KEY, title TEXT NOT NULL, owner TEXT, "
        "visibility TEXT NOT NULL DEFAULT 'private', document TEXT NOT NULL, "
        f"created {big} NOT NULL, updated {big} NOT NULL)",
        "CREATE INDEX thematic_apps_owner ON thematic_apps (owner)",
    ]:
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS thematic_apps")

"""User-defined named areas of interest (the gazetteer's own entries).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    big = "BIGINT" if op.get_bind().dialect.name == "postgresql" else "INTEGER"
    op.execute(
        "CREATE TABLE named_areas (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "description TEXT, geometry TEXT NOT NULL, "
        "west DOUBLE PRECISION NOT NULL, south DOUBLE PRECISION NOT NULL, "
        "east DOUBLE PRECISION NOT NULL, north DOUBLE PRECISION NOT NULL, "
        "owner TEXT, visibility TEXT NOT NULL DEFAULT 'public', "
        f"created {big} NOT NULL)"
    )
    op.execute("CREATE INDEX named_areas_owner ON named_areas (owner)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS named_areas")

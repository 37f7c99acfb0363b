"""Make the (collection, datetime) index cover the bbox too (SQLite).

With a collection filter SQLite's planner picks the collection index; when it does not hold the
bbox every candidate costs a row lookup (seen: 400 ms p95 for bbox + month at 1 M items).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP INDEX IF EXISTS items_collection_datetime")
    op.execute(
        "CREATE INDEX items_collection_datetime ON items "
        "(collection, datetime, minx, maxx, miny, maxy)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP INDEX IF EXISTS items_collection_datetime")
    op.execute("CREATE INDEX items_collection_datetime ON items (collection, datetime)")

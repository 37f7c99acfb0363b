"""Data usage: bytes each user reads and writes, per source and collection, and data prices.

``data_usage`` is an append-only log (one row per job staging, job result, upload, or batch of
downloads); reports aggregate it. ``data_prices`` holds an administrator's prices per
collection (``*`` for the rest), in cents per GB read and written.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    big = "BIGINT" if pg else "INTEGER"
    serial = "BIGSERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
    real = "DOUBLE PRECISION" if pg else "REAL"
    for stmt in [
        f"CREATE TABLE data_usage (seq {serial}, time {big} NOT NULL, user_id TEXT, "
        "job_id TEXT, direction TEXT NOT NULL, source TEXT NOT NULL, "
        f"collection TEXT NOT NULL, bytes {big} NOT NULL)",
        "CREATE INDEX data_usage_user_time ON data_usage (user_id, time)",
        "CREATE INDEX data_usage_time ON data_usage (time)",
        "CREATE INDEX data_usage_job ON data_usage (job_id)",
        "CREATE TABLE data_prices (collection TEXT PRIMARY KEY, "
        f"read_cents_per_gb {real} NOT NULL, write_cents_per_gb {real} NOT NULL)",
    ]:
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS data_prices")
    op.execute("DROP TABLE IF EXISTS data_usage")

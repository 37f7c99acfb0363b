"""Jobs and their logs (OGC API - Processes job store), on both backends.

The job store is the database so that any worker, and the server after a restart, sees the same
state; transitions are single conditional UPDATEs, which makes them atomic on both backends.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    big = "BIGINT" if op.get_bind().dialect.name == "postgresql" else "INTEGER"
    op.execute(
        "CREATE TABLE jobs (id TEXT PRIMARY KEY, process_id TEXT NOT NULL, "
        "status TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL "
        "DEFAULT '', inputs TEXT NOT NULL, outputs TEXT, error TEXT, "
        f"created {big} NOT NULL, started {big}, finished {big}, updated {big} NOT NULL, "
        "attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL DEFAULT 1, "
        "timeout_s DOUBLE PRECISION, worker TEXT, dismiss_requested INTEGER NOT NULL DEFAULT 0)"
    )
    op.execute("CREATE INDEX jobs_status ON jobs (status, created)")
    op.execute("CREATE INDEX jobs_created ON jobs (created)")
    op.execute(
        f"CREATE TABLE job_logs (job_id TEXT NOT NULL, seq INTEGER NOT NULL, time {big} NOT NULL, "
        "level TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY (job_id, seq))"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS job_logs")
    op.execute("DROP TABLE IF EXISTS jobs")

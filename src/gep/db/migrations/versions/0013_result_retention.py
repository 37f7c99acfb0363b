"""Retention of job results: a job's pin, and when the retention sweep claimed its results.

``jobs.pinned`` (0/1): the owner keeps the results whatever the ``results`` collection's policy
says. ``jobs.expired`` (UTC microseconds, NULL while kept): set when the sweep claims the job's
results for expiry, before anything is deleted, so that a sweep interrupted midway finishes the
job's removal next time, and a pin cannot slip in once removal began. The index serves the
sweep's question: successful, unpinned, unclaimed jobs that finished before a cutoff.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    big = "BIGINT" if op.get_bind().dialect.name == "postgresql" else "INTEGER"
    for stmt in [
        "ALTER TABLE jobs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0",
        f"ALTER TABLE jobs ADD COLUMN expired {big}",
        "CREATE INDEX jobs_retention ON jobs (status, finished)",
    ]:
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS jobs_retention")
    op.execute("ALTER TABLE jobs DROP COLUMN expired")
    op.execute("ALTER TABLE jobs DROP COLUMN pinned")

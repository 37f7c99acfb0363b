"""Validations of deployed services: each run of a package's declared samples, its verdict.

A service may be shared only once a validation of its current package passed
(``package_sha``: the SHA-256 of the package text it validated). ``reasons`` and ``log`` are
JSON lists (each failed expectation named; the job's log lines when the verdict was reached).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    big = "BIGINT" if op.get_bind().dialect.name == "postgresql" else "INTEGER"
    for stmt in [
        "CREATE TABLE process_validations (id TEXT PRIMARY KEY, process_id TEXT NOT NULL, "
        "package_sha TEXT NOT NULL, owner TEXT, job_id TEXT NOT NULL, status TEXT NOT NULL, "
        f"reasons TEXT NOT NULL DEFAULT '[]', log TEXT NOT NULL DEFAULT '[]', created {big} "
        f"NOT NULL, finished {big})",
        "CREATE INDEX process_validations_process ON process_validations (process_id, created)",
    ]:
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS process_validations")

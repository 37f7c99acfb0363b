"""Failed logins in the database: the login limits hold across server processes and hosts.

Before, each process counted failures in its memory, so N workers allowed N times the guesses
and a restart forgot them. One row per attempt that has not (yet) succeeded; rows older than the
window are deleted as new attempts come in, so the table stays as small as the attack.

``account`` is the lower-cased user name as typed (or one shared key for names no account can
have, so that attacker text is not stored); ``address`` the client address the API believed.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    big = "BIGINT" if pg else "INTEGER"
    serial = "BIGSERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
    for stmt in [
        f"CREATE TABLE login_failures (seq {serial}, time {big} NOT NULL, "
        "account TEXT NOT NULL, address TEXT NOT NULL)",
        "CREATE INDEX login_failures_account ON login_failures (account, time)",
        "CREATE INDEX login_failures_address ON login_failures (address, time)",
        "CREATE INDEX login_failures_time ON login_failures (time)",
    ]:
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS login_failures")

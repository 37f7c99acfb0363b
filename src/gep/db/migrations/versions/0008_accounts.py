"""Accounts, sharing and credits: users, groups, tokens, owners and visibility on every user
object, the credit ledger, service prices and per-job usage.

Objects made before accounts existed keep working: collections, deployed services and harvest
sources stay public (they were visible to every caller), jobs and their published results become
private to administrators (nobody can say whose they were).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    big = "BIGINT" if pg else "INTEGER"
    serial = "BIGSERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
    real = "DOUBLE PRECISION"
    for stmt in [
        "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, email TEXT, "
        "role TEXT NOT NULL, password_hash TEXT, oidc_issuer TEXT, oidc_subject TEXT, "
        f"monthly_allowance {big}, disabled INTEGER NOT NULL DEFAULT 0, created {big} NOT NULL)",
        "CREATE UNIQUE INDEX users_oidc ON users (oidc_issuer, oidc_subject)",
        "CREATE TABLE user_groups (name TEXT PRIMARY KEY, description TEXT, "
        f"monthly_allowance {big}, created {big} NOT NULL)",
        "CREATE TABLE group_members (group_name TEXT NOT NULL, user_id TEXT NOT NULL, "
        "PRIMARY KEY (group_name, user_id))",
        "CREATE INDEX group_members_user ON group_members (user_id)",
        # secret_hash: SHA-256 of the token's random secret (the secret itself is never kept)
        "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
        "name TEXT NOT NULL, kind TEXT NOT NULL, secret_hash TEXT NOT NULL, "
        f"created {big} NOT NULL, expires {big}, revoked {big}, last_used {big})",
        "CREATE INDEX api_tokens_user ON api_tokens (user_id, kind)",
        # amounts in cents of a credit: integers, so that the ledger balances exactly
        f"CREATE TABLE credit_accounts (user_id TEXT PRIMARY KEY, balance {big} NOT NULL "
        f"DEFAULT 0, held {big} NOT NULL DEFAULT 0, allowance_left {big} NOT NULL DEFAULT 0, "
        "allowance_period TEXT)",
        f"CREATE TABLE credit_ledger (seq {serial}, time {big} NOT NULL, user_id TEXT NOT NULL, "
        f"kind TEXT NOT NULL, amount {big} NOT NULL, held {big} NOT NULL, "
        f"balance_after {big} NOT NULL, held_after {big} NOT NULL, job_id TEXT, "
        "process_id TEXT, actor TEXT, note TEXT)",
        "CREATE INDEX credit_ledger_user ON credit_ledger (user_id, seq)",
        "CREATE INDEX credit_ledger_job ON credit_ledger (job_id)",
        f"CREATE TABLE process_prices (process_id TEXT PRIMARY KEY, per_job {real} NOT NULL "
        f"DEFAULT 0, per_input {real} NOT NULL DEFAULT 0, per_km2 {real} NOT NULL DEFAULT 0, "
        f"per_cpu_s {real} NOT NULL DEFAULT 0, estimate_cpu_s {real} NOT NULL DEFAULT 0, "
        f"updated {big} NOT NULL)",
        "CREATE TABLE job_usage (job_id TEXT PRIMARY KEY, user_id TEXT, process_id TEXT NOT "
        f"NULL, provider TEXT NOT NULL, status TEXT NOT NULL, cpu_s {real} NOT NULL, "
        f"wall_s {real} NOT NULL, bytes_read {big} NOT NULL, bytes_written {big} NOT NULL, "
        f"started {big}, finished {big} NOT NULL)",
        "CREATE INDEX job_usage_user ON job_usage (user_id, finished)",
        "CREATE INDEX job_usage_finished ON job_usage (finished)",
        # owners and visibility of user objects
        "ALTER TABLE jobs ADD COLUMN owner TEXT",
        "ALTER TABLE jobs ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private'",
        f"ALTER TABLE jobs ADD COLUMN hold {big} NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN charge TEXT",
        "CREATE INDEX jobs_owner ON jobs (owner, created)",
        "ALTER TABLE collections ADD COLUMN owner TEXT",
        "ALTER TABLE collections ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'",
        # 1 once an item of the collection has a visibility of its own (table item_acl)
        "ALTER TABLE collections ADD COLUMN item_acl INTEGER NOT NULL DEFAULT 0",
        "CREATE TABLE item_acl (collection TEXT NOT NULL, id TEXT NOT NULL, owner TEXT, "
        "visibility TEXT NOT NULL, PRIMARY KEY (collection, id))",
        "ALTER TABLE deployed_processes ADD COLUMN owner TEXT",
        "ALTER TABLE deployed_processes ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'",
        "ALTER TABLE harvest_sources ADD COLUMN owner TEXT",
        "ALTER TABLE harvest_sources ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'",
        # results published before accounts: nobody's, so administrators' only
        "INSERT INTO item_acl (collection, id, owner, visibility) "
        "SELECT collection, id, NULL, 'private' FROM items WHERE collection = 'results'",
        "UPDATE collections SET item_acl = 1 WHERE id = 'results'",
    ]:
        op.execute(stmt)


def downgrade() -> None:
    for table in (
        "job_usage",
        "process_prices",
        "credit_ledger",
        "credit_accounts",
        "api_tokens",
        "group_members",
        "user_groups",
        "users",
        "item_acl",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table}")

"""Systematic production: subscriptions, their dispatch cursor, failures and webhook outbox.

``subscriptions`` holds what a user asked for (the service, the input template, the trigger as
JSON) and what the dispatcher keeps about it (state and reason, the next scheduled run, the last
trigger, where a paused subscription left the ingestion log). ``subscription_cursor`` holds the
dispatcher's place in ``ingestion_events`` (one row per consumer). ``subscription_failures``
keeps one row per trigger that could not become a job, keyed like the jobs it stands for, so a
replay neither repeats the job nor the failure. ``webhook_deliveries`` is the outbox of
notifications: written in the transaction that publishes, sent (and retried) by the server.

``jobs.trigger_key`` is what makes systematic submission exactly-once: a subscription's job for
one set of input items (or one scheduled instant) carries a key unique across the table, so a
second insert of it fails in the database, whichever server or replay tries. ``jobs.layer``
names the collection the job publishes into (its subscription's information layer).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    big = "BIGINT" if pg else "INTEGER"
    serial = "BIGSERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
    for stmt in [
        "CREATE TABLE subscriptions (id TEXT PRIMARY KEY, title TEXT NOT NULL, "
        "owner TEXT, visibility TEXT NOT NULL DEFAULT 'private', process_id TEXT NOT NULL, "
        "inputs TEXT NOT NULL, kind TEXT NOT NULL, trig TEXT NOT NULL, layer TEXT NOT NULL, "
        "state TEXT NOT NULL, reason TEXT, "
        f"budget_cents {big}, budget_period TEXT, max_jobs_per_trigger INTEGER NOT NULL, "
        "webhook_url TEXT, webhook_nonce TEXT, webhook_failures INTEGER NOT NULL DEFAULT 0, "
        "webhook_disabled TEXT, "
        f"last_trigger {big}, next_run {big}, paused_seq {big}, "
        f"created {big} NOT NULL, updated {big} NOT NULL)",
        "CREATE INDEX subscriptions_kind ON subscriptions (kind, state)",
        f"CREATE TABLE subscription_cursor (name TEXT PRIMARY KEY, seq {big} NOT NULL, "
        f"updated {big} NOT NULL)",
        "CREATE TABLE subscription_failures (subscription TEXT NOT NULL, "
        f"trigger_key TEXT NOT NULL, time {big} NOT NULL, reason TEXT NOT NULL, "
        "inputs TEXT, PRIMARY KEY (subscription, trigger_key))",
        "CREATE INDEX subscription_failures_key ON subscription_failures (trigger_key)",
        f"CREATE TABLE webhook_deliveries (id {serial}, subscription TEXT NOT NULL, "
        "event TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL, "
        f"attempts INTEGER NOT NULL DEFAULT 0, next_attempt {big} NOT NULL, "
        f"last_error TEXT, created {big} NOT NULL, delivered {big})",
        "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt)",
        # one notification per subscription and event, however often the log is replayed
        "CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (subscription, event)",
        "ALTER TABLE jobs ADD COLUMN subscription TEXT",
        "ALTER TABLE jobs ADD COLUMN trigger_key TEXT",
        "ALTER TABLE jobs ADD COLUMN layer TEXT",
        "CREATE UNIQUE INDEX jobs_trigger_key ON jobs (trigger_key)",
        "CREATE INDEX jobs_subscription ON jobs (subscription, status)",
    ]:
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS jobs_subscription")
    op.execute("DROP INDEX IF EXISTS jobs_trigger_key")
    for column in ("layer", "trigger_key", "subscription"):
        op.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
    for table in (
        "webhook_deliveries",
        "subscription_failures",
        "subscription_cursor",
        "subscriptions",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table}")

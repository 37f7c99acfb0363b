"""The data gateway's sources and cache: mirrors mapped to collections, the cache index, pins
and per-source counters.

A mirror names where else a collection's products may be read (a folder under a data root, an
S3 prefix, an HTTP archive) and *how to find* its credentials — names of environment variables
or an AWS profile read on the host that retrieves — never the credentials themselves.

The cache's files live in a folder on each host (``<storage>/cache``); the index lives here so
that the server (which prefetches) and the workers (which stage) agree on what is cached, how
much it weighs and what is pinned. ``cache`` names the folder (host and path), so several hosts
with folders of their own share the tables without mixing their entries. A pin is a job that
needs an entry; it protects the entry from eviction while that job is accepted or running.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"

TABLES = (
    "gateway_source_stats",
    "gateway_cache_pins",
    "gateway_cache",
    "gateway_mirror_collections",
    "gateway_mirrors",
)


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    big = "BIGINT" if pg else "INTEGER"
    for stmt in [
        "CREATE TABLE gateway_mirrors (name TEXT PRIMARY KEY, kind TEXT NOT NULL, "
        "url TEXT NOT NULL, priority INTEGER NOT NULL, match_prefix TEXT NOT NULL DEFAULT '', "
        "endpoint_url TEXT NOT NULL DEFAULT '', credentials TEXT NOT NULL DEFAULT '{}', "
        f"created {big} NOT NULL, updated {big} NOT NULL)",
        "CREATE TABLE gateway_mirror_collections (mirror TEXT NOT NULL, "
        "collection TEXT NOT NULL, PRIMARY KEY (mirror, collection))",
        "CREATE INDEX gateway_mirror_collections_collection "
        "ON gateway_mirror_collections (collection)",
        f"CREATE TABLE gateway_cache (cache TEXT NOT NULL, key TEXT NOT NULL, "
        f"file TEXT NOT NULL, size {big} NOT NULL, source TEXT NOT NULL, "
        "collection TEXT NOT NULL, item TEXT NOT NULL, asset TEXT NOT NULL, "
        f"created {big} NOT NULL, last_used {big} NOT NULL, hits {big} NOT NULL DEFAULT 0, "
        "PRIMARY KEY (cache, key))",
        "CREATE INDEX gateway_cache_lru ON gateway_cache (cache, last_used)",
        "CREATE TABLE gateway_cache_pins (cache TEXT NOT NULL, key TEXT NOT NULL, "
        f"job_id TEXT NOT NULL, created {big} NOT NULL, PRIMARY KEY (cache, key, job_id))",
        "CREATE INDEX gateway_cache_pins_job ON gateway_cache_pins (job_id)",
        "CREATE TABLE gateway_source_stats (source TEXT PRIMARY KEY, "
        f"hits {big} NOT NULL DEFAULT 0, misses {big} NOT NULL DEFAULT 0, "
        f"bytes_fetched {big} NOT NULL DEFAULT 0, bytes_served {big} NOT NULL DEFAULT 0, "
        f"failures {big} NOT NULL DEFAULT 0, evictions {big} NOT NULL DEFAULT 0, "
        f"bytes_evicted {big} NOT NULL DEFAULT 0, updated {big} NOT NULL)",
    ]:
        op.execute(stmt)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")

"""The catalogue: collections, items (+ content), spatial and text indexes, queryables.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

from gep.catalog.dialects import INDEXED_PROPERTIES, PostgresDialect, SqliteDialect

revision = "0001"
down_revision = None


def _index_name(prop: str) -> str:
    return "items_p_" + "".join(ch if ch.isalnum() else "_" for ch in prop)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite()
    else:
        _postgres()


def _sqlite() -> None:
    d = SqliteDialect()
    for stmt in [
        "CREATE TABLE collections (id TEXT PRIMARY KEY, content TEXT NOT NULL)",
        "CREATE TABLE items (pk INTEGER PRIMARY KEY, collection TEXT NOT NULL, id TEXT NOT NULL, "
        "datetime INTEGER NOT NULL, end_datetime INTEGER NOT NULL, minx REAL, miny REAL, "
        "maxx REAL, maxy REAL, geometry BLOB, properties TEXT NOT NULL, "
        "UNIQUE (collection, id))",
        # covering: a datetime range scan can test the bbox without reading the row
        "CREATE INDEX items_datetime ON items (datetime, minx, maxx, miny, maxy)",
        "CREATE INDEX items_collection_datetime ON items (collection, datetime)",
        "CREATE TABLE item_content (pk INTEGER PRIMARY KEY, content BLOB NOT NULL)",
        "CREATE VIRTUAL TABLE items_rtree USING rtree (pk, minx, maxx, miny, maxy)",
        "CREATE VIRTUAL TABLE items_fts USING fts5 (text, "
        "tokenize = 'unicode61 remove_diacritics 0')",
        "CREATE TABLE queryables (collection TEXT NOT NULL, name TEXT NOT NULL, "
        "type TEXT NOT NULL, PRIMARY KEY (collection, name))",
        "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO store_meta (key, value) VALUES ('max_duration_us', 0)",
    ]:
        op.execute(stmt)
    for prop, ptype in INDEXED_PROPERTIES.items():
        expr = d.property_expr(prop, ptype, table="")
        op.execute(f"CREATE INDEX {_index_name(prop)} ON items ({expr}, datetime)")


def _postgres() -> None:
    d = PostgresDialect()
    for stmt in [
        "CREATE EXTENSION IF NOT EXISTS postgis",
        'CREATE TABLE collections (id text COLLATE "C" PRIMARY KEY, content text NOT NULL)',
        'CREATE TABLE items (pk bigserial PRIMARY KEY, collection text COLLATE "C" NOT NULL, '
        'id text COLLATE "C" NOT NULL, datetime bigint NOT NULL, end_datetime bigint NOT NULL, '
        "minx float8, miny float8, maxx float8, maxy float8, "
        "geometry geometry(Geometry, 4326), properties jsonb NOT NULL, text text, "
        "text_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(text, ''))) "
        "STORED, UNIQUE (collection, id))",
        "CREATE INDEX items_geometry ON items USING gist (geometry)",
        "CREATE INDEX items_datetime ON items (datetime, id, collection)",
        "CREATE INDEX items_collection_datetime ON items (collection, datetime)",
        "CREATE INDEX items_text ON items USING gin (text_tsv)",
        "CREATE TABLE item_content (pk bigint PRIMARY KEY REFERENCES items (pk) "
        "ON DELETE CASCADE, content text NOT NULL)",
        'CREATE TABLE queryables (collection text COLLATE "C" NOT NULL, name text NOT NULL, '
        "type text NOT NULL, PRIMARY KEY (collection, name))",
        "CREATE TABLE store_meta (key text PRIMARY KEY, value bigint NOT NULL)",
        "INSERT INTO store_meta (key, value) VALUES ('max_duration_us', 0)",
    ]:
        op.execute(stmt)
    for prop, ptype in INDEXED_PROPERTIES.items():
        expr = d.property_expr(prop, ptype, table="")
        op.execute(f"CREATE INDEX {_index_name(prop)} ON items (({expr}), datetime)")


def downgrade() -> None:
    for table in (
        "items_fts",
        "items_rtree",
        "item_content",
        "items",
        "queryables",
        "store_meta",
        "collections",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table}")

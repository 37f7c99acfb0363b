"""Alembic, driven from code: ``gep db upgrade`` and the store's ``upgrade()`` both land here.

One history for the one database: each package's tables are added by revisions of their own
(``migrations/versions``: 0001-0003 and 0009 the catalogue, 0004-0005 jobs, 0006 harvest, 0007
named areas, 0008, 0010 and 0012 (data usage) accounts, 0011 the gateway's mirrors and
cache, 0013 result retention, 0014 systematic production), chained in one line
so any database upgrades in order.
The revision files are scripts Alembic loads, not modules of this package: the catalogue's read
its dialects' index expressions so that the indexes match the queries that use them.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()

"""Alembic environment: the engine comes from the caller (``gep.db.migrate``)."""

from __future__ import annotations

from alembic import context

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=None)
    context.run_migrations()

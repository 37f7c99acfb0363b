"""Choosing the catalogue backend from the database URL."""

from __future__ import annotations

from pathlib import Path

from gep.catalog.store import CatalogStore
from gep.core.errors import InvalidInput


def open_store(url: str) -> CatalogStore:
    """``sqlite:///path`` → embedded store; ``postgresql+psycopg://…`` → PostGIS store."""
    if url.startswith("sqlite"):
        from gep.catalog.sqlite_store import SqliteCatalogStore

        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteCatalogStore(url)
    if url.startswith("postgresql"):
        from gep.catalog.postgis_store import PostgisCatalogStore

        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return PostgisCatalogStore(url)
    raise InvalidInput(
        f"GEP_DATABASE_URL '{url}' is neither sqlite:///… nor postgresql+psycopg://…",
        field="GEP_DATABASE_URL",
    )

"""What every CLI command shares: settings, the store, and how errors are shown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console

from gep.catalog.backends import open_store
from gep.catalog.store import CatalogStore
from gep.core.errors import GepError
from gep.settings import Settings

console = Console(stderr=True)
T = TypeVar("T")


def settings() -> Settings:
    return Settings()


@contextmanager
def store_from_settings(upgrade: bool = True) -> Iterator[CatalogStore]:
    s = settings()
    store = open_store(s.resolved_database_url())
    try:
        if upgrade:
            store.upgrade()  # idempotent: a no-op at head, applies new migrations after updates
        yield store
    finally:
        store.close()


def run_or_exit(fn: Callable[[], T]) -> T:
    """Show a GepError as one readable line and exit 2, instead of a traceback."""
    try:
        return fn()
    except GepError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None

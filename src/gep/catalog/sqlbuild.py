"""A tiny SQL text builder with named bind parameters, shared by both backends.

Search SQL is assembled from fragments (filters, keyset predicates, spatial tests) whose shape
differs by dialect; building text with SQLAlchemy ``text()`` binds keeps values out of the SQL
while property paths are inlined, so that SQLite and PostgreSQL can match expression indexes.
"""

from __future__ import annotations

from typing import Any


class Params:
    """Collects bind values and hands out unique ``:pN`` placeholders."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


def quote_literal(text: str) -> str:
    """Quote a string literal for inlining (property paths only, never user values)."""
    return "'" + text.replace("'", "''") + "'"

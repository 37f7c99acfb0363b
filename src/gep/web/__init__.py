"""The Geobrowser: the static map app served at ``/ui/`` (sources in ``src/``, built into
``dist/`` by ``build.mjs`` with npm: ``make ui``). Python only needs to know where the build is."""

from __future__ import annotations

from pathlib import Path

#: the built app (git-ignored; ``make ui`` writes it)
DIST = Path(__file__).parent / "dist"


def built() -> bool:
    """Whether ``make ui`` has built the app (its page and its bundle are there)."""
    return (DIST / "index.html").is_file() and (DIST / "app.js").is_file()

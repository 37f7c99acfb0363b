"""The sample catalogue shipped with GEP (real records, see ``samples/ATTRIBUTION.md``)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).parent / "samples"


def sample_files() -> list[Path]:
    """Collections first, then the items of each collection."""
    files = []
    if (SAMPLES / "collections.json").exists():
        files.append(SAMPLES / "collections.json")
    files += sorted(SAMPLES.glob("*.ndjson"))
    return files

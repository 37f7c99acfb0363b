"""stac-validator on items GEP serves, offline, with their extensions' schemas.

``assert_valid_stac`` writes the items as files and runs ``tools/stac_validate_items.py`` with
the validator's own venv (``make validator``): core schemas from pystac's bundled copies,
extension schemas from ``tests/data/stac-extension-schemas`` (taken from the extensions' release
tags). A schema that is not there fails the check; nothing is skipped or fetched.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR_PYTHON = ROOT / ".venv-validator" / "bin" / "python"
TOOL = ROOT / "tools" / "stac_validate_items.py"
SCHEMAS = ROOT / "tests" / "data" / "stac-extension-schemas"


def stac_validate(items: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """stac-validator's verdict on each item (one dict per item, then the summary)."""
    assert VALIDATOR_PYTHON.exists(), "stac-validator's venv is missing: run `make validator`"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k, item in enumerate(items):
        path = folder / f"{k:03d}-{item.get('id', 'item')}.json"
        path.write_text(json.dumps(item))
        files.append(str(path))
    done = subprocess.run(
        [str(VALIDATOR_PYTHON), str(TOOL), "--extension-schemas", str(SCHEMAS), *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[-1].get("summary"), done.stdout + done.stderr
    return lines


def assert_valid_stac(items: list[dict[str, Any]], folder: Path) -> list[str]:
    """Every item valid against STAC 1.1 and each extension it declares; returns the extension
    schemas that were checked, so a caller can assert the ones it expects were among them."""
    lines = stac_validate(items, folder)
    summary = lines[-1]
    bad = [line for line in lines[:-1] if not line["valid"]]
    assert not bad and not summary["missing_schemas"], json.dumps(lines, indent=1)
    return [u for u in summary["schemas_served"] if "stac-extensions.github.io" in u]

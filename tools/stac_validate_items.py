"""Validate STAC Items (files or URLs) with stac-validator, offline, extensions included.

Run it with the validator's own virtual environment (``make validator``)::

    .venv-validator/bin/python tools/stac_validate_items.py \\
        --extension-schemas tests/data/stac-extension-schemas item.json http://…/items/X

Core schemas come from pystac's bundled copies and extension schemas from the folder given
(``<name>/<version>/schema.json``), through the same offline table ``stac_validate.py`` uses:
nothing is fetched from the web, and an extension schema that is not there is an error, never a
silent skip. Each input is validated with its extensions (stac-validator's default mode). Prints
one JSON line per input, then a summary line.

Exit status: 0 every input valid, 1 some input invalid or a schema missing, 3 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stac_validate import (
    EXIT_ERRORS,
    EXIT_PASS,
    EXIT_USAGE,
    OfflineSchemas,
    Run,
    _serve_schemas_offline,
)


def _validate(target: str, headers: dict[str, str]) -> dict[str, Any]:
    from stac_validator.validate import StacValidate

    validator = StacValidate(stac_file=target, headers=headers)
    valid = bool(validator.run())
    message = validator.message[-1] if validator.message else {}
    return {"input": target, "valid": valid, **{k: v for k, v in message.items() if k != "path"}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("inputs", nargs="+", help="STAC Item files or URLs")
    p.add_argument(
        "--extension-schemas",
        type=Path,
        action="append",
        default=[],
        help="folder of extension schemas as <name>/<version>/schema.json (repeatable)",
    )
    p.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        schemas = OfflineSchemas(args.extension_schemas)
    except ImportError as exc:
        print(f"stac_validate_items.py must run with the validator's venv: {exc}")
        return EXIT_USAGE
    headers = {}
    for h in args.header:
        key, _, value = h.partition(":")
        headers[key.strip()] = value.strip()
    run = Run()
    _serve_schemas_offline(run, schemas, skip_extensions=False)
    results = [_validate(target, headers) for target in args.inputs]
    for result in results:
        print(json.dumps(result))
    invalid = [r["input"] for r in results if not r["valid"]]
    print(
        json.dumps(
            {
                "summary": True,
                "inputs": len(results),
                "invalid": invalid,
                "missing_schemas": sorted(run.missing_schemas),
                "schemas_served": sorted(schemas.served),
            }
        )
    )
    return EXIT_ERRORS if invalid or run.missing_schemas else EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())

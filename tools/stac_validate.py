"""Run ``stac-api-validator`` offline against a STAC API and decide pass/fail from its report.

Run it with the validator's own virtual environment (``make validator`` creates it)::

    .venv-validator/bin/python tools/stac_validate.py --root-url http://127.0.0.1:8000/stac \\
        --conformance core --conformance item-search ... --collection sentinel-1-slc

Why a wrapper instead of the ``stac-api-validator`` command:

* The validator (and the stac-validator, stac-check and pystac libraries it drives) fetches STAC
  and JSON Schema documents from the web. This machine has no web access, so the wrapper serves
  every schema it can from the copies that pystac bundles (pystac's own URL -> schema table,
  ``pystac.validation.local_validator.get_local_schema_cache``) plus the JSON Schema meta-schemas
  that ``jsonschema-specifications`` ships. A schema that is not bundled is never fetched: asking
  for it fails, and that failure is an error in the report like any other, unless the caller
  passes ``--skip-unavailable-extension-schemas`` (see below).
* Outbound connections are limited to the API under test (its host, and loopback): asset and link
  URLs in the sample data point at real archives, which must not be contacted from here.
* ``stac-api-validator`` exits 0 when it crashes (its ``main`` returns 1 from a click command,
  which click ignores), and returns early *without an error* when it lacks a parameter it needs
  (it only logs at FATAL level). So the verdict here comes from the report itself: the
  ``(warnings, errors)`` that ``validate_api`` returns, the "Errors:" section it prints, fatal log
  records, tracebacks and crashes. Any of those fails the run.

``--skip-unavailable-extension-schemas``: stac-validator has a supported mode that validates the
core schema without extension schemas (``stac-validator --core``); pystac's validator returns
``None`` for an extension it did not validate. With this flag the wrapper uses that, for exactly
the extension schemas that are not available offline and only for them, and lists every skipped
schema URL in the summary: those schemas were *not* checked. Without the flag a missing schema
fails the run.

Exit status: 0 pass, 1 the validator reported errors, 2 the validator crashed or its report could
not be read, 3 bad usage or the API could not be prepared.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import inspect
import io
import ipaddress
import json
import logging
import socket
import sys
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urldefrag, urlsplit

#: the classes stac-api-validator 0.6.x accepts for ``--conformance``
VALIDATOR_CLASSES = (
    "core",
    "browseable",
    "item-search",
    "features",
    "collections",
    "children",
    "filter",
    "item-search#sort",
    "item-search#fields",
    "item-search#query",
    "features#sort",
    "features#fields",
    "features#query",
    "transaction",
)

#: the id of the Item that stac-api-validator's Transaction checks create, replace, patch and
#: delete; it starts with "DELETE the item if it exists" and requires 204 for that DELETE
VALIDATOR_TXN_ITEM_ID = "S2A_47XNF_20230423_0_L2A"

EXIT_PASS, EXIT_ERRORS, EXIT_CRASH, EXIT_USAGE = 0, 1, 2, 3


class SchemaUnavailableOffline(Exception):
    """A JSON schema that is not bundled locally was asked for; it is never fetched."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"schema {url} is not available offline (pystac does not bundle it) and "
            "tools/stac_validate.py does not fetch schemas from the web"
        )
        self.url = url


def _norm(url: str) -> str:
    """Schema URLs are compared without fragment and without a trailing '#'."""
    return urldefrag(url)[0].rstrip("#")


class OfflineSchemas:
    """URL -> JSON schema, from pystac's bundled copies and jsonschema's meta-schemas."""

    def __init__(self, extension_dirs: list[Path] | None = None) -> None:
        from jsonschema_specifications import REGISTRY
        from pystac.validation.local_validator import get_local_schema_cache

        self._by_url: dict[str, dict[str, Any]] = {}
        for url in REGISTRY:
            contents = REGISTRY.contents(url)
            if isinstance(contents, dict):
                self._by_url[_norm(url)] = contents
        for url, schema in get_local_schema_cache().items():
            self._by_url[_norm(url)] = schema
        for folder in extension_dirs or []:
            self.add_extensions(folder)
        self.served: Counter[str] = Counter()

    def add_extensions(self, folder: Path) -> None:
        """Serve STAC extension schemas kept as ``<folder>/<name>/<version>/schema.json`` (the
        copies in ``tests/data/stac-extension-schemas``, taken from the extensions' release
        tags) under their published URLs, keyed by folder rather than ``$id``: some releases
        carry the previous version's ``$id``."""
        for path in sorted(folder.glob("*/*/schema.json")):
            name, version = path.parent.parent.name, path.parent.name
            url = f"https://stac-extensions.github.io/{name}/{version}/schema.json"
            self._by_url[_norm(url)] = json.loads(path.read_text())

    def urls(self) -> list[str]:
        return sorted(self._by_url)

    def has(self, url: str) -> bool:
        return _norm(url) in self._by_url

    def get(self, url: str) -> dict[str, Any]:
        key = _norm(url)
        if key not in self._by_url:
            raise SchemaUnavailableOffline(url)
        self.served[key] += 1
        return copy.deepcopy(self._by_url[key])


@dataclass
class Run:
    """What the instrumented validator did; the summary and the verdict are built from it."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    blocked_hosts: Counter[str] = field(default_factory=Counter)
    stac_validator_runs: int = 0
    pystac_validations: int = 0
    stac_check_lints: int = 0
    skipped_extensions: Counter[str] = field(default_factory=Counter)
    missing_schemas: Counter[str] = field(default_factory=Counter)
    validate_api_called: bool = False
    result: tuple[list[str], list[str]] | None = None
    crash: str | None = None
    fatal_logs: list[str] = field(default_factory=list)
    error_logs: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)


class _Tee(io.TextIOBase):
    """Write to the real stream and keep a copy: the report is printed and then read."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.buffer_text = io.StringIO()

    def write(self, s: str) -> int:
        self._stream.write(s)
        self.buffer_text.write(s)
        return len(s)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False  # click then strips colour codes from what it prints


class _Capture(logging.Handler):
    """Keep the log records that matter for the verdict (fatal ones, 'not yet supported')."""

    def __init__(self, run: Run) -> None:
        super().__init__(level=logging.INFO)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if record.levelno >= logging.CRITICAL:
            self.run.fatal_logs.append(f"{record.name}: {msg}")
        elif record.levelno >= logging.ERROR:
            self.run.error_logs.append(f"{record.name}: {msg}")
        elif "is not yet supported" in msg:
            self.run.not_checked.append(msg)


# ---------------------------------------------------------------------------- patches


def _guard_network(run: Run, allowed_hosts: set[str]) -> None:
    """Refuse name resolution for any host but the API under test and loopback."""
    real_getaddrinfo = socket.getaddrinfo

    def allowed(host: str) -> bool:
        if host.lower() in allowed_hosts or host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:
            return False

    def guarded(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or allowed(str(name)):
            return real_getaddrinfo(host, port, *args, **kwargs)
        run.blocked_hosts[str(name)] += 1
        raise socket.gaierror(
            socket.EAI_NONAME, f"{name}: outbound access blocked by stac_validate.py (offline run)"
        )

    socket.getaddrinfo = guarded  # type: ignore[assignment]


def _count_requests(run: Run) -> None:
    """Count the HTTP requests the validator (and stac-check, pystac-client) send via requests."""
    import requests

    real_send = requests.Session.send

    def send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        run.requests[str(request.method)] += 1
        resp = real_send(self, request, **kwargs)
        run.statuses[resp.status_code] += 1
        return resp

    requests.Session.send = send  # type: ignore[method-assign]


def _serve_schemas_offline(run: Run, schemas: OfflineSchemas, skip_extensions: bool) -> None:
    """Point stac-validator's and pystac's schema loading at the bundled copies, never the web."""
    import pystac.validation.stac_validator as pv
    import stac_validator.utilities as svu
    from stac_validator.validate import StacValidate

    real_fetch = svu.fetch_and_parse_schema

    def fetch_and_parse_schema(input_path: str) -> dict[str, Any]:
        if not svu.is_url(input_path):
            return real_fetch(input_path)  # a local file: stac-validator reads it itself
        if not schemas.has(input_path):
            run.missing_schemas[_norm(input_path)] += 1
        return schemas.get(input_path)

    # every caller looks this name up in the module at call time
    svu.fetch_and_parse_schema = fetch_and_parse_schema

    def get_schema(self: Any, schema_uri: str) -> dict[str, Any]:
        if schema_uri not in self.schema_cache:
            if not schemas.has(schema_uri):
                run.missing_schemas[_norm(schema_uri)] += 1
            try:
                self.schema_cache[schema_uri] = schemas.get(schema_uri)
            except SchemaUnavailableOffline as exc:
                raise pv.GetSchemaError(schema_uri, exc) from exc
        return self.schema_cache[schema_uri]  # type: ignore[no-any-return]

    pv.JsonSchemaSTACValidator._get_schema = get_schema  # type: ignore[method-assign]

    real_stac_run = StacValidate.run

    def stac_run(self: StacValidate) -> bool:
        run.stac_validator_runs += 1
        return real_stac_run(self)

    StacValidate.run = stac_run  # type: ignore[method-assign]

    real_validate = pv.JsonSchemaSTACValidator.validate

    def pystac_validate(self: Any, *args: Any, **kwargs: Any) -> Any:
        run.pystac_validations += 1
        return real_validate(self, *args, **kwargs)

    pv.JsonSchemaSTACValidator.validate = pystac_validate  # type: ignore[method-assign]

    if not skip_extensions:
        return

    real_extensions_validator = StacValidate.extensions_validator

    def extensions_validator(self: StacValidate, stac_type: str) -> dict[str, Any]:
        exts = self.stac_content.get("stac_extensions")
        if not isinstance(exts, list):
            return real_extensions_validator(self, stac_type)  # type: ignore[no-any-return]
        missing = [e for e in exts if isinstance(e, str) and svu.is_url(e) and not schemas.has(e)]
        if not missing:
            return real_extensions_validator(self, stac_type)  # type: ignore[no-any-return]
        for url in missing:
            run.skipped_extensions[_norm(url)] += 1
        self.stac_content["stac_extensions"] = [e for e in exts if e not in missing]
        try:
            return real_extensions_validator(self, stac_type)  # type: ignore[no-any-return]
        finally:
            self.stac_content["stac_extensions"] = exts

    StacValidate.extensions_validator = extensions_validator  # type: ignore[method-assign]

    real_validate_extension = pv.JsonSchemaSTACValidator.validate_extension

    def validate_extension(
        self: Any,
        stac_dict: dict[str, Any],
        stac_object_type: Any,
        stac_version: str,
        extension_id: str,
        href: str | None = None,
    ) -> Any:
        import pystac.utils

        uri = pystac.utils.make_absolute_href(extension_id, href)
        if not schemas.has(uri):
            run.skipped_extensions[_norm(uri)] += 1
            return None  # pystac's own value for "no validation occurred"
        return real_validate_extension(
            self, stac_dict, stac_object_type, stac_version, extension_id, href
        )

    pv.JsonSchemaSTACValidator.validate_extension = validate_extension  # type: ignore[method-assign]


def _count_stac_check(run: Run) -> None:
    import stac_check.lint as lint

    real_post_init = lint.Linter.__post_init__

    def post_init(self: Any) -> None:
        run.stac_check_lints += 1
        real_post_init(self)

    lint.Linter.__post_init__ = post_init  # type: ignore[method-assign]


def _capture_validate_api(run: Run) -> None:
    """Keep what ``validate_api`` returned or raised; the CLI prints it but exits 0 on a crash."""
    import stac_api_validator.__main__ as cli

    real_validate_api = cli.validate_api

    def validate_api(*args: Any, **kwargs: Any) -> Any:
        run.validate_api_called = True
        try:
            warnings, errors = real_validate_api(*args, **kwargs)
        except BaseException:
            run.crash = traceback.format_exc()
            raise
        run.result = (list(warnings), list(errors))
        return warnings, errors

    cli.validate_api = validate_api


# ---------------------------------------------------------------------------- preparation


def _prepare(
    root_url: str, classes: list[str], collection_id: str, headers: dict[str, str]
) -> list[str]:
    """Give stac-api-validator's checks the catalogue state they assume, and say what was done.

    * Transaction: the checks write into an existing collection (``collection_id``, created here
      when missing) and begin with "DELETE the item if it exists", requiring 204. The STAC
      Transaction extension lets a server answer 404 for an Item that did not exist (OGC API -
      Features - Part 4 requires it), so that item is created first: the opening DELETE then
      deletes a real item, and the check is still made.
    * Filter: the LIKE checks filter on ``mission`` (a STAC common-metadata field). An API must
      refuse a filter on a term that is not a queryable (OGC API - Features - Part 3; the STAC
      Filter extension allows otherwise only with ``additionalProperties: true``), and queryables
      derived from data have no ``mission`` unless an item carries it: one fixture item that does
      is added to ``collection_id``.
    """
    import requests
    from stac_api_validator import filters, validations

    notes: list[str] = []
    session = requests.Session()
    session.headers.update(headers)
    landing = session.get(root_url, timeout=30)
    landing.raise_for_status()
    data = next(
        (ln["href"] for ln in landing.json().get("links", []) if ln.get("rel") == "data"), None
    )
    if not data:
        raise RuntimeError(f"{root_url} has no Link[rel=data]; cannot prepare {collection_id}")
    coll_url = f"{data}/{collection_id}"
    if session.get(coll_url, timeout=30).status_code == 404:
        r = session.post(
            data,
            json={
                "type": "Collection",
                "stac_version": "1.1.0",
                "stac_extensions": [],
                "id": collection_id,
                "title": "stac-api-validator scratch collection",
                "description": "Written to by stac-api-validator's Transaction checks "
                "(created by tools/stac_validate.py).",
                "license": "CC0-1.0",
                "extent": {
                    "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
                    "temporal": {"interval": [[None, None]]},
                },
                "links": [],
            },
            timeout=30,
        )
        if r.status_code not in (200, 201):
            raise RuntimeError(f"creating collection {coll_url}: {r.status_code} {r.text}")
        notes.append(f"created collection {coll_url}")

    def ensure_item(item_id: str, properties: dict[str, Any], why: str) -> None:
        item_url = f"{coll_url}/items/{item_id}"
        if session.get(item_url, timeout=30).status_code != 404:
            return
        r = session.post(
            f"{coll_url}/items",
            json={
                "type": "Feature",
                "stac_version": "1.1.0",
                "stac_extensions": [],
                "id": item_id,
                "collection": collection_id,
                "geometry": {"type": "Point", "coordinates": [101.0, 77.0]},
                "bbox": [101.0, 77.0, 101.0, 77.0],
                "properties": properties,
                "assets": {},
                "links": [],
            },
            timeout=30,
        )
        if r.status_code not in (200, 201):
            raise RuntimeError(f"creating {item_url}: {r.status_code} {r.text}")
        notes.append(f"created item {item_url} ({why})")

    if "transaction" in classes:
        if VALIDATOR_TXN_ITEM_ID in inspect.getsource(validations.validate_transaction):
            ensure_item(
                VALIDATOR_TXN_ITEM_ID,
                {"datetime": "2023-04-23T06:47:03.048Z"},
                "for the Transaction checks' opening 'DELETE the item if it exists'",
            )
        else:
            notes.append(
                f"WARNING: this stac-api-validator no longer writes item "
                f"{VALIDATOR_TXN_ITEM_ID}; none created"
            )
    if "filter" in classes and "'mission'" in repr(filters.cql2_json_like):
        ensure_item(
            "stac-api-validator-fixture",
            {"datetime": "2000-01-01T00:00:00Z", "mission": "stac-api-validator fixture"},
            "so that 'mission', used by the Filter checks, is a queryable",
        )
    return notes


# ---------------------------------------------------------------------------- verdict


def _report_errors(text: str) -> list[str] | None:
    """The '- ...' lines under 'Errors:' in the printed report; None when there is no section."""
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("Errors: none"):
            return []
        if lines[i].rstrip() == "Errors:":
            out = []
            for line in lines[i + 1 :]:
                if line.startswith("- "):
                    out.append(line[2:])
                elif line.strip():
                    break
            return out
    return None


def _verdict(run: Run, report: str, exit_code: int | None) -> tuple[int, list[str]]:
    reasons: list[str] = []
    crash = False
    if run.crash or "Failed.\nError" in report:
        reasons.append("the validator crashed:\n" + (run.crash or report[-4000:]))
        crash = True
    if not run.validate_api_called:
        reasons.append("validate_api was never called (bad arguments?)")
        crash = True
    if "Traceback (most recent call last)" in report:
        reasons.append("a traceback was printed during the run")
        crash = True
    if run.fatal_logs:
        reasons.append(
            "fatal log records (the validator stops early on these, reporting no "
            "error): " + "; ".join(run.fatal_logs)
        )
        crash = True
    printed = _report_errors(report)
    if run.result is not None:
        if run.result[1]:
            reasons.append(f"{len(run.result[1])} error(s) reported")
        if printed is None:
            reasons.append("the report has no 'Errors:' section")
            crash = True
        elif len(printed) != len(run.result[1]):
            reasons.append(
                f"the printed report lists {len(printed)} error(s) but validate_api "
                f"returned {len(run.result[1])}"
            )
            crash = True
    if run.error_logs:
        reasons.append("error log records: " + "; ".join(run.error_logs[:20]))
    if exit_code not in (0, None) and not reasons:
        reasons.append(f"the validator exited with status {exit_code}")
    if run.missing_schemas and not run.skipped_extensions:
        reasons.append(
            "schemas not available offline were needed: " + ", ".join(sorted(run.missing_schemas))
        )
    if not reasons:
        return EXIT_PASS, reasons
    return (EXIT_CRASH if crash else EXIT_ERRORS), reasons


def _summary(
    args: argparse.Namespace,
    run: Run,
    schemas: OfflineSchemas,
    notes: list[str],
    status: int,
    reasons: list[str],
) -> str:
    warnings, errors = run.result if run.result else ([], [])
    out = [
        "",
        "=" * 78,
        "stac_validate.py summary",
        "=" * 78,
        f"root URL:            {args.root_url}",
        f"classes requested:   {', '.join(args.conformance)}",
    ]
    if run.not_checked:
        out.append("NOT CHECKED by this stac-api-validator (it only logs 'not yet supported'):")
        out += [f"  - {m}" for m in run.not_checked]
    out += [f"prepared:            {n}" for n in notes]
    total = sum(run.requests.values())
    per_method = ", ".join(f"{m} {n}" for m, n in sorted(run.requests.items()))
    per_status = ", ".join(f"{s}: {n}" for s, n in sorted(run.statuses.items()))
    out += [
        f"HTTP requests:       {total} ({per_method}); statuses {per_status}",
        f"schema validations:  stac-validator {run.stac_validator_runs}, "
        f"pystac {run.pystac_validations}; stac-check lints {run.stac_check_lints}",
        f"schemas served offline: {len(schemas.served)} bundled schema(s), "
        f"{sum(schemas.served.values())} load(s)",
    ]
    out += [f"  - {u}" for u in sorted(schemas.served)]
    if run.blocked_hosts:
        out.append(
            "outbound hosts blocked (links/assets pointing off the API): "
            + ", ".join(f"{h} x{n}" for h, n in sorted(run.blocked_hosts.items()))
        )
    if run.skipped_extensions:
        out.append(
            "EXTENSION SCHEMAS NOT VALIDATED (not available offline; "
            "--skip-unavailable-extension-schemas):"
        )
        out += [f"  - {u} ({n} time(s))" for u, n in sorted(run.skipped_extensions.items())]
    elif run.missing_schemas:
        out.append(
            "schemas needed but not available offline: " + ", ".join(sorted(run.missing_schemas))
        )
    out.append(f"warnings:            {len(warnings)}")
    out.append(f"errors:              {len(errors)}")
    out += [f"  - {e[:600]}" for e in errors]
    verdict = {
        EXIT_PASS: "PASS",
        EXIT_ERRORS: "FAIL (errors reported)",
        EXIT_CRASH: "FAIL (validator crashed or report unreadable)",
    }[status]
    out.append(f"RESULT:              {verdict}")
    out += [f"  because {r}" for r in reasons]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- main


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Any other option (e.g. --validate-pagination, --fields-nested-property P, "
        "-H 'Name: value') is passed to stac-api-validator unchanged.",
    )
    p.add_argument("--root-url", required=True, help="the STAC API landing page")
    p.add_argument(
        "--conformance",
        action="append",
        required=True,
        choices=VALIDATOR_CLASSES,
        metavar="CLASS",
        help="a class to validate (repeatable): " + ", ".join(VALIDATOR_CLASSES),
    )
    p.add_argument("--collection", help="collection for the collections/features/search checks")
    p.add_argument("--geometry", help="GeoJSON geometry intersecting items of --collection")
    p.add_argument("--transaction-collection", help="collection the Transaction checks write to")
    p.add_argument("--log-level", default="INFO", help="printed log level (default INFO)")
    p.add_argument(
        "--skip-unavailable-extension-schemas",
        action="store_true",
        help="do not validate extension schemas that are not available offline; "
        "each one skipped is listed in the summary",
    )
    p.add_argument(
        "--no-prepare",
        action="store_true",
        help="do not create --transaction-collection and its fixture items (see "
        "_prepare: the state the validator's checks assume)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        help="another host the run may contact (default: only the API's host)",
    )
    return p.parse_known_args(argv)


def _headers_from(extra: list[str]) -> dict[str, str]:
    """The ``-H 'Name: value'`` pass-through options, as the validator itself parses them."""
    headers: dict[str, str] = {}
    it = iter(range(len(extra)))
    for i in it:
        if extra[i] in ("-H", "--headers") and i + 1 < len(extra):
            key, _, value = extra[i + 1].partition(":")
            headers[key.strip()] = value.strip()
            next(it, None)
    return headers


@contextlib.contextmanager
def _stdout_tee() -> Iterator[_Tee]:
    real = sys.stdout
    tee = _Tee(real)
    sys.stdout = tee  # type: ignore[assignment]
    try:
        yield tee
    finally:
        sys.stdout = real


def main(argv: list[str] | None = None) -> int:
    args, extra = _parse(sys.argv[1:] if argv is None else argv)
    headers = _headers_from(extra)
    run = Run()
    try:
        schemas = OfflineSchemas()
    except ImportError as exc:
        print(f"stac_validate.py must run with the validator's venv (.venv-validator): {exc}")
        return EXIT_USAGE

    host = (urlsplit(args.root_url).hostname or "").lower()
    _guard_network(run, {host, *(h.lower() for h in args.allow_host)})
    notes: list[str] = []
    if args.transaction_collection and not args.no_prepare:
        try:
            notes = _prepare(args.root_url, args.conformance, args.transaction_collection, headers)
        except Exception as exc:
            print(f"stac_validate.py: cannot prepare {args.transaction_collection}: {exc}")
            return EXIT_USAGE

    _count_requests(run)
    _serve_schemas_offline(run, schemas, args.skip_unavailable_extension_schemas)
    _count_stac_check(run)
    _capture_validate_api(run)

    import stac_api_validator.__main__ as cli

    cli_args = ["--root-url", args.root_url, "--log-level", args.log_level]
    for cc in args.conformance:
        cli_args += ["--conformance", cc]
    for opt, value in (
        ("--collection", args.collection),
        ("--geometry", args.geometry),
        ("--transaction-collection", args.transaction_collection),
    ):
        if value:
            cli_args += [opt, value]
    cli_args += extra

    exit_code: int | None = None
    with _stdout_tee() as tee:
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        printer = logging.StreamHandler(tee)
        printer.setLevel(args.log_level.upper())
        printer.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
        root.addHandler(printer)  # the validator's own logging.basicConfig is then a no-op
        root.addHandler(_Capture(run))
        try:
            rv = cli.main.main(args=cli_args, prog_name="stac-api-validator", standalone_mode=False)
            exit_code = rv if isinstance(rv, int) else 0
        except SystemExit as exc:
            exit_code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:
            run.crash = run.crash or traceback.format_exc()
            print(run.crash)
    report = tee.buffer_text.getvalue()
    status, reasons = _verdict(run, report, exit_code)
    print(_summary(args, run, schemas, notes, status, reasons), end="")
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())

"""The source kinds, and the checks a source configuration passes before it is stored."""

from __future__ import annotations

import importlib
import re
from typing import Any

from gep.core.errors import InvalidInput
from gep.harvest.base import HarvestError, Source, SourceConfig
from gep.harvest.http import Fetcher

#: kind -> "module:class"; imported on use so one kind's dependencies never block another
SOURCE_KINDS: dict[str, str] = {
    "stac": "gep.harvest.stac_api:StacApiSource",
    "opensearch": "gep.harvest.opensearch:OpenSearchSource",
    "odata": "gep.harvest.odata:ODataSource",
    "asf": "gep.harvest.asf:ASFSource",
    "usgs": "gep.harvest.usgs:UsgsEventSource",
    "safe": "gep.harvest.safe_folder:SafeFolderSource",
    "eof": "gep.harvest.safe_folder:OrbitFolderSource",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_FETCH_KEYS = {"min_interval_s", "max_attempts", "backoff_s", "timeout_s"}


def source_class(kind: str) -> type[Source]:
    try:
        module, cls = SOURCE_KINDS[kind].split(":")
    except KeyError:
        raise InvalidInput(
            f"unknown harvest source kind '{kind}'; one of: {', '.join(sorted(SOURCE_KINDS))}",
            field="kind",
        ) from None
    found: type[Source] = getattr(importlib.import_module(module), cls)
    return found


def check_config(config: SourceConfig) -> None:
    """Refuse a configuration that cannot work, before it is stored or run."""
    if not _NAME.match(config.name):
        raise InvalidInput(
            f"source name '{config.name}' must be 1-64 letters, digits, '.', '_' or '-'",
            field="name",
        )
    source_class(config.kind)
    if config.kind in ("safe", "eof"):
        from gep.harvest.safe_folder import folder_of

        try:
            folder = folder_of(config.url)
        except Exception as exc:  # HarvestError: a scheme we cannot list
            raise InvalidInput(str(exc), field="url") from exc
        if not folder.is_dir():
            raise InvalidInput(f"{config.url} is not a folder on this machine", field="url")
    elif not re.match(r"^https?://[^/\s]+", config.url):
        raise InvalidInput(
            f"'{config.url}' is not an http(s) URL; a {config.kind} source needs the "
            "archive's endpoint",
            field="url",
        )
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", config.collection):
        raise InvalidInput(f"'{config.collection}' is not a collection id", field="collection")
    if not isinstance(config.params, dict):
        raise InvalidInput("params must be a JSON object", field="params")
    for key in _FETCH_KEYS & set(config.params):
        value = config.params[key]
        if not isinstance(value, int | float) or value < 0:
            raise InvalidInput(f"params.{key} must be a non-negative number", field="params")
    try:
        make_source(config).check()
    except HarvestError as exc:  # a source that checks its answer may blame the URL
        raise InvalidInput(str(exc), field=exc.field) from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidInput(str(exc), field="params") from exc


def make_source(config: SourceConfig, fetcher: Fetcher | None = None) -> Source:
    """The source object, with a fetcher honouring the source's own rate limit and retries."""
    p: dict[str, Any] = config.params
    if fetcher is None:
        fetcher = Fetcher(
            timeout_s=float(p.get("timeout_s", 30.0)),
            max_attempts=int(p.get("max_attempts", 5)),
            backoff_s=float(p.get("backoff_s", 1.0)),
            min_interval_s=float(p.get("min_interval_s", 0.0)),
        )
    return source_class(config.kind)(config, fetcher)

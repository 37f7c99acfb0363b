"""What every harvesting source implements, and the objects the runner passes around.

A source turns a remote archive's listing into STAC items, one *page* at a time. The runner
(:mod:`gep.harvest.runner`) owns everything else — checkpoints, upserts, events, logs — so a
source is only a query builder and a mapper. A page's ``next`` cursor is plain JSON: the
runner stores it after the page is committed, so a harvest cut off midway resumes at the page
it had not finished instead of starting over or skipping records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from gep.harvest.http import Fetcher


class HarvestError(Exception):
    """A source failed in a way a retry will not fix (bad URL, unreadable answer)."""

    #: the configuration field to blame when this refuses a source being added (the
    #: ``InvalidInput`` field :func:`gep.harvest.sources.check_config` raises)
    field: ClassVar[str] = "params"


class WrongAnswerError(HarvestError):
    """The endpoint answered, but not with what the source reads (an HTML page, JSON of
    another shape, a 404): the URL is what is wrong, not the query parameters."""

    field = "url"


@dataclass
class SourceConfig:
    """One configured source, as ``gep harvest add`` stores it."""

    #: name of the source (unique); used in logs, checkpoints and the items' provenance
    name: str
    #: ``stac``, ``opensearch``, ``odata``, ``asf``, ``usgs``, ``safe`` or ``eof``
    kind: str
    #: the endpoint: STAC API root, OpenSearch search URL, OData ``…/Products`` URL, ASF search
    #: URL (or CMR's ``granules.umm_json`` with ``params.api = "cmr"``), USGS ComCat's FDSN
    #: event query URL (``…/fdsnws/event/1/query``) or one of its GeoJSON summary feeds
    #: (``…/summary/all_day.geojson``), or the folder (path or fsspec URL) of SAFE products
    url: str
    #: the GEP collection the items go into
    collection: str
    #: source-specific query parameters (remote collections / product type, bbox, page size, …)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Page:
    """One page of a remote listing, already mapped to STAC."""

    items: list[dict[str, Any]]
    #: one line per remote record that could not be mapped (it is skipped, not half-ingested)
    errors: list[str] = field(default_factory=list)
    #: JSON cursor of the next page; ``None`` when this was the last one
    next: dict[str, Any] | None = None


class Source(ABC):
    """A remote archive the harvester can page through."""

    kind: ClassVar[str]

    def __init__(self, config: SourceConfig, fetcher: Fetcher) -> None:
        self.config = config
        self.fetcher = fetcher

    @abstractmethod
    def start(self, since: datetime | None) -> dict[str, Any]:
        """The cursor of the first page of records acquired (or published) at or after
        ``since`` (everything when ``None``), oldest first where the archive can sort."""

    @abstractmethod
    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        """The page a cursor points to. Transient failures are retried by the fetcher; what
        still fails raises :class:`gep.harvest.http.FetchError` or :class:`HarvestError`."""

    def check(self) -> None:
        """Refuse parameters the source cannot use (HarvestError, ValueError), before the
        configuration is stored: building the first query checks most of them."""
        self.start(None)

    def stac_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """Final touches every source shares: the target collection and the provenance."""
        item["collection"] = self.config.collection
        props = item.setdefault("properties", {})
        props["gep:harvest_source"] = self.config.name
        return item

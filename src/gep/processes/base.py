"""What a GEP processing service is: typed inputs and outputs, a description, ``execute``.

A service is a plain class; its inputs and outputs are pydantic models, so their JSON Schema (the
OGC API - Processes description) and the validation of a request come from one definition and
cannot drift apart.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from gep.core.access import Viewer

#: JSON Schema ``format`` of an input that names a catalogue item: the API checks that the item
#: (and an asset input marked ``x-gep-asset-of``) exists before the job is queued
ITEM_REF = "stac-item-ref"


class ProcessContext(Protocol):
    """What a running service may use; the job engine provides it."""

    #: the job's private folder for intermediate files (removed when the job ends)
    scratch: Path
    #: where the job's results are written (kept in storage, published with the job)
    output_dir: Path
    logger: logging.Logger
    #: the job's owner, whose permissions the job runs with
    viewer: Viewer

    def progress(self, percent: int, message: str = "") -> None:
        """Report progress (0-100); shown on ``/jobs/{id}`` within a second."""

    def stage(self, item: Any, asset: str | None = None) -> tuple[dict[str, Any], Path | None]:
        """Fetch a catalogue item (reference or id) and, if named, one of its assets into the
        scratch folder; returns the item and the asset's local path."""

    def add_asset(
        self, key: str, path: Path, media_type: str, roles: list[str], title: str = ""
    ) -> str:
        """Declare a result file (under ``output_dir``) to publish; returns its href."""

    def set_footprint(self, geometry: dict[str, Any]) -> None:
        """The area the results cover (GeoJSON, lon/lat), for the published item."""

    def publish_item(self, item: dict[str, Any]) -> str:
        """Publish one more STAC item (e.g. from a result's STAC catalogue) with the job's
        lineage; returns its catalogue id."""

    def search(self, params: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
        """Catalogue items matching a STAC search body (``collections``, ``bbox`` or
        ``intersects``, ``datetime``, ``filter``...) that the job's owner may see, in the
        catalogue's order, at most ``limit`` (for services that take "a collection over an
        area and a period" rather than a list of items)."""


class Process:
    """Base class of built-in and deployed services."""

    id: ClassVar[str]
    version: ClassVar[str] = "1.0.0"
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    keywords: ClassVar[list[str]] = []
    Inputs: ClassVar[type[BaseModel]]
    Outputs: ClassVar[type[BaseModel]]
    #: OGC job control options this service supports
    job_control: ClassVar[list[str]] = ["sync-execute", "async-execute"]

    def preflight(self, inputs: Any, items: dict[str, dict[str, Any]]) -> None:
        """Checks that need the catalogue, run by the API before a job is queued.

        ``items`` maps each item-reference input to its STAC item. A service raises
        :class:`gep.core.errors.InvalidInput` with the reason (a pair from two tracks, an area
        outside the scene...) so the user hears it at once, not from a failed job.
        """

    def execute(self, ctx: ProcessContext, inputs: Any) -> BaseModel:
        raise NotImplementedError

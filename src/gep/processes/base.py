"""What a GEP processing service is: typed inputs and outputs, a description, ``execute``.

A service is a plain class; its inputs and outputs are pydantic models, so their JSON Schema (the
OGC API - Processes description) and the validation of a request come from one definition and
cannot drift apart.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol
from urllib.parse import unquote, urlparse

from pydantic import BaseModel

from gep.core.access import Viewer
from gep.core.errors import InvalidInput
from gep.core.render import RenderHint
from gep.io.ranged import RangedFile

#: JSON Schema ``format`` of an input that names a catalogue item: the job service checks that
#: the item (and an asset input marked ``x-gep-asset-of``) exists before the job is queued
ITEM_REF = "stac-item-ref"
#: JSON Schema mark of an input holding a network ``{"pairs": [{"reference", "secondary"}]}``
#: whose members name catalogue items (as ``sbas``'s ``network``)
ITEM_PAIRS = "x-gep-item-pairs"
#: JSON Schema mark of an input naming an asset of the item input it gives the name of
ASSET_OF = "x-gep-asset-of"
#: the members of a network's pair that name products
PAIR_ROLES = ("reference", "secondary")


@dataclass(frozen=True, slots=True)
class ItemRef:
    """One place in a request's inputs that names a catalogue item."""

    #: where it sits, as errors name it: ``name``, ``name[k]``, ``name.pairs[k].reference``
    path: str
    #: the reference as the request gave it (see :func:`parse_item_ref`)
    ref: Any
    #: the input it belongs to
    input: str
    #: a single item input, one entry of a list of them, or a member of a network's pair
    kind: Literal["item", "list", "pair"]
    #: the inputs that name an asset of this item (``x-gep-asset-of``; single items only)
    asset_inputs: tuple[str, ...] = ()


@functools.lru_cache(maxsize=512)
def input_properties(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema ``properties`` of an inputs model, made once per model: generating it
    costs a millisecond, and every submission (a subscription's thousands) walks it twice.
    Callers must not change what it returns."""
    props: dict[str, Any] = model.model_json_schema().get("properties", {})
    return props


def item_refs(process: Process, inputs: dict[str, Any]) -> Iterator[ItemRef]:
    """Every input value of ``process`` that names a catalogue item, in a fixed order: single
    item inputs, then the entries of lists of them, then the members of networks' pairs (an
    input marked ``x-gep-item-pairs``), each in the order the process declares its inputs.

    The one reading of the inputs' schema that says which values are products: the job
    service resolves and checks what this yields before a job exists (and hands it to the
    service's ``preflight``), and pricing counts it, so the two cannot disagree. Values the
    inputs' model refuses anyway (a pair that is not an object, a missing member) are skipped.
    """
    props = input_properties(process.Inputs)
    for name, schema in props.items():
        if schema.get("format") == ITEM_REF and inputs.get(name) is not None:
            assets = tuple(o for o, s in props.items() if s.get(ASSET_OF) == name)
            yield ItemRef(name, inputs[name], name, "item", assets)
    for name, schema in props.items():
        refs = inputs.get(name)
        if (schema.get("items") or {}).get("format") == ITEM_REF and isinstance(refs, list):
            for k, ref in enumerate(refs):
                yield ItemRef(f"{name}[{k}]", ref, name, "list")
    for name, schema in props.items():
        value = inputs.get(name)
        pairs = value.get("pairs") if isinstance(value, dict) else None
        if not schema.get(ITEM_PAIRS) or not isinstance(pairs, list):
            continue
        for k, pair in enumerate(pairs):
            for role in PAIR_ROLES:
                if isinstance(pair, dict) and pair.get(role) is not None:
                    yield ItemRef(f"{name}.pairs[{k}].{role}", pair[role], name, "pair")


def parse_item_ref(ref: Any) -> tuple[str, str]:
    """``{"href": ".../collections/C/items/I"}``, ``".../collections/C/items/I"`` or ``"C/I"``."""
    text = ref.get("href") if isinstance(ref, dict) else ref
    if not isinstance(text, str) or not text:
        raise InvalidInput(
            'an item reference is {"href": ".../collections/C/items/I"} or "C/I"', field="inputs"
        )
    parts = [p for p in urlparse(text).path.split("/") if p]
    if "items" in parts and "collections" in parts:
        i = parts.index("collections")
        if len(parts) >= i + 4 and parts[i + 2] == "items":
            return unquote(parts[i + 1]), unquote(parts[i + 3])
    if len(parts) == 2:
        return parts[0], parts[1]
    raise InvalidInput(
        f"'{text}' is not an item reference (.../collections/C/items/I or C/I)", field="inputs"
    )


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

    def open_ranged(self, item: Any, asset: str) -> tuple[dict[str, Any], Path | RangedFile | None]:
        """An asset to read by ranges where it lies, not staged whole (a local path, or an
        object of GEP's storage); None for an HTTP(S) asset, which ``stage`` must fetch."""

    def count_read(self, item: Any, asset: str, n: int) -> None:
        """Account ``n`` bytes read from an asset opened with ``open_ranged``."""

    def add_asset(
        self, key: str, path: Path, media_type: str, roles: list[str], title: str = ""
    ) -> str:
        """Declare a result file (under ``output_dir``) to publish; returns its href."""

    def stored_href(self, path: Path) -> str:
        """The href a result file or folder (under ``output_dir``) has once stored."""

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
    #: the outputs that are files, by output name, with their media type: declared in the
    #: process description (``contentMediaType``, ``format``) and returned as links
    #: ``{"href", "type"}`` in the job's results (``gep.processes.registry.describe``)
    output_formats: ClassVar[Mapping[str, str]] = {}
    #: how each raster output is drawn, by asset key; a key may be a glob (``mask_*``) for
    #: outputs named per date or scene. Publication turns these into the item's STAC
    #: ``renders``, ``raster:bands`` and ``classification:classes`` (``gep.jobs.asset_meta``).
    renders: ClassVar[Mapping[str, RenderHint]] = {}

    @classmethod
    def render_for(cls, key: str) -> RenderHint | None:
        """The declared hint of an asset: its exact key first, then the first glob that
        matches, in declaration order."""
        if key in cls.renders:
            return cls.renders[key]
        for pattern, hint in cls.renders.items():
            if any(c in pattern for c in "*?[") and fnmatchcase(key, pattern):
                return hint
        return None

    def preflight(self, inputs: Any, items: dict[str, dict[str, Any]]) -> None:
        """Checks that need the catalogue, run by the job service before a job is queued.

        ``items`` maps the path of each value that names an item (:func:`item_refs`: ``name``,
        ``name[k]``, ``name.pairs[k].reference``) to its STAC item. A service raises
        :class:`gep.core.errors.InvalidInput` with the reason (a pair from two tracks, an area
        outside the scene...) so the user hears it at once, not from a failed job.
        """

    def execute(self, ctx: ProcessContext, inputs: Any) -> BaseModel:
        raise NotImplementedError

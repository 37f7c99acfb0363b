"""Build GEP's sample catalogue (``src/gep/catalog/samples/``) from real recorded records.

Why: ``gep demo seed`` and the tests need a catalogue that looks like production data -
real Sentinel-1 stacks with orbit data for InSAR pair search, real Sentinel-2 and Landsat
items for optical searches - without any network access. The records come from the
recorded API responses and fixtures listed in ``../shared/data/MANIFEST.md``; this script
converts them to STAC 1.1 once, and the package ships the result.

Usage::

    .venv/bin/python tools/build_samples.py [SOURCE_ROOT]

``SOURCE_ROOT`` defaults to ``../shared/data`` next to the repository. The output is
deterministic: running the script twice gives byte-identical files.

Output:

* ``<collection-id>.ndjson``: one compact STAC 1.1 item per line, sorted by time then id;
* ``collections.json``: a JSON list of STAC 1.1 Collections whose extents and summaries
  are computed from the items;
* ``ATTRIBUTION.md``: source repository @ commit and licence per file, and the data
  licences (Copernicus, USGS, ...).

What is changed on the way (and why):

* ASF records go through :func:`gep.io.crosswalk.asf.asf_to_stac_item` (the bulky CMR UMM record
  is not copied);
* other items get ``stac_version`` 1.1.0 (STAC 1.0 items are valid 1.1 items; only
  1.0.0-beta items go through pystac's migration, which fixes their short extension ids
  and ``eo:platform``-style fields);
* links are dropped (the API makes its own);
* collection ids are mapped to GEP's (``sentinel-s2-l2a-cogs`` and ``PEPS_S2_L1C`` are
  not collection names a user should have to know);
* ``platform``/``constellation``/``instruments``/``sat:orbit_state`` are lower-cased
  (``Sentinel-2B``, ``S2A``, ``LANDSAT_8`` and ``Descending`` all occur);
* fields that are wrong for the item are dropped or fixed: a ``sar:instrument_mode`` on
  an optical item, a ``proj:bbox`` string, a ``sci:doi`` that is not a DOI, eodag's
  search AOI, ``processing:level: S2MSI1C`` (→ ``L1C``), and GEODES' ``datetime`` that is
  the ingestion time (it becomes ``published``; ``datetime`` becomes the acquisition);
* extension URIs whose fields are no longer present are removed;
* assets are kept as they are;
* items with the same id in the same collection are kept once (the richer record wins);
* records that cannot be mapped are skipped and reported (an ASF record with a broken
  footprint, a DEA annual composite that is not an acquisition).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pystac
import yaml
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon, mapping, shape
from shapely.validation import make_valid

REPO = Path(__file__).resolve().parents[1]
try:
    from gep.io.crosswalk.asf import asf_stack_reference, asf_to_stac_item
    from gep.io.crosswalk.asf_records import load_asf_records
except ImportError:  # the package is not installed: use the source tree
    sys.path.insert(0, str(REPO / "src"))
    from gep.io.crosswalk.asf import asf_stack_reference, asf_to_stac_item
    from gep.io.crosswalk.asf_records import load_asf_records

Json = dict[str, Any]

DEFAULT_SOURCE_ROOT = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "src" / "gep" / "catalog" / "samples"
STAC_VERSION = "1.1.0"
SENTINEL_LEGAL_NOTICE = (
    "https://sentinel.esa.int/documents/247904/690755/Sentinel_Data_Legal_Notice"
)
USGS_DATA_POLICY = "https://www.usgs.gov/core-science-systems/hdds/data-policy"


@dataclass(frozen=True)
class Source:
    """Where one folder of ``SOURCE_ROOT`` came from (copied from MANIFEST.md)."""

    repo: str
    commit: str
    licence: str


SOURCES: dict[str, Source] = {
    "asf-search": Source(
        "asfadmin/Discovery-asf_search", "220eb187fe262b5d1de451d7899fab762a60023f", "BSD-3-Clause"
    ),
    "pystac-client": Source(
        "stac-utils/pystac-client", "85f29a66bb64463767de12052c88011b020a2374", "Apache-2.0"
    ),
    "eodag": Source("CS-SI/eodag", "c8082108834159c83b21fda94048ddcc952dc4b7", "Apache-2.0"),
    "odc-stac": Source(
        "opendatacube/odc-stac", "e8692baef853833e1b4766d6d652ea3d25afdb08", "Apache-2.0"
    ),
}

# Source collection id -> GEP collection id. Anything not listed is skipped (and reported).
COLLECTION_MAP: dict[str, str] = {
    "sentinel-1-grd": "sentinel-1-grd",
    "sentinel-2-l2a": "sentinel-2-l2a",
    "sentinel-s2-l2a-cogs": "sentinel-2-l2a",
    "sentinel-2-l1c": "sentinel-2-l1c",
    "PEPS_S2_L1C": "sentinel-2-l1c",
    "S2_MSI_L1C": "sentinel-2-l1c",
    "sentinel-2-c1-l2a": "sentinel-2-c1-l2a",
    "landsat-c2-l2": "landsat-c2-l2",
    "landsat-c2l2-sr": "landsat-c2-l2",
    "ga_ls8c_ard_3": "ga_ls8c_ard_3",
}

# The STAC-shaped eodag files (the others are OData, OpenSearch Atom, resto or S3 listings).
EODAG_STAC_FILES = (
    "provider_responses/earth_search_search.json",
    "provider_responses/geodes_search.json",
    "eodag_search_result_cop_dataspace.geojson",
)


@dataclass(frozen=True)
class Provider:
    """A STAC provider; ``attribution`` is filled in per collection."""

    name: str
    roles: tuple[str, ...]
    url: str


ESA = Provider("ESA", ("producer", "licensor"), "https://sentinels.copernicus.eu")
ASF = Provider("ASF DAAC", ("host",), "https://asf.alaska.edu")
JPL = Provider("NASA JPL", ("producer", "processor"), "https://www.jpl.nasa.gov")
JAXA = Provider("JAXA", ("producer", "licensor"), "https://global.jaxa.jp")
USGS = Provider(
    "USGS", ("producer", "processor", "licensor"), "https://www.usgs.gov/landsat-missions"
)
GA = Provider(
    "Geoscience Australia",
    ("producer", "processor", "licensor", "host"),
    "https://www.dea.ga.gov.au",
)
# Hosts by the source file an item came from.
HOSTS: dict[str, Provider] = {
    "earth-search": Provider(
        "Element 84 Earth Search", ("host",), "https://earth-search.aws.element84.com/v1"
    ),
    "planetary-computer": Provider(
        "Microsoft Planetary Computer", ("host",), "https://planetarycomputer.microsoft.com"
    ),
    "usgs": Provider("USGS LandsatLook", ("host",), "https://landsatlook.usgs.gov"),
    "geodes": Provider("CNES GEODES", ("host",), "https://geodes-portal.cnes.fr"),
    "cdse": Provider(
        "Copernicus Data Space Ecosystem", ("host",), "https://dataspace.copernicus.eu"
    ),
    "asf": ASF,
}


@dataclass(frozen=True)
class CollectionInfo:
    """Hand-written parts of a collection: the rest is computed from its items."""

    title: str
    description: str
    keywords: tuple[str, ...]
    producers: tuple[Provider, ...]
    license: str
    license_link: tuple[str, str] | None  # (href, title)
    copernicus: bool  # "Contains modified Copernicus Sentinel data <years>"


_S1 = ("sentinel-1", "copernicus", "sar", "c-band", "esa")
_NASA = "Free and open (NASA Earth science data policy); contains modified Copernicus data"
COLLECTIONS: dict[str, CollectionInfo] = {
    "sentinel-1-slc": CollectionInfo(
        "Sentinel-1 SLC",
        "Sentinel-1 Level-1 Single Look Complex (SLC) frames, from ASF DAAC search and stack "
        "results. Items keep ASF's two orbit state vectors, the ascending node time and, for "
        "stack members, ASF's perpendicular and temporal baselines (gep:* fields), so that "
        "interferometric pairs and stacks can be searched without downloading products.",
        (*_S1, "slc", "insar", "interferometry"),
        (ESA,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "sentinel-1-grd": CollectionInfo(
        "Sentinel-1 GRD",
        "Sentinel-1 Level-1 Ground Range Detected (GRD) scenes, from ASF DAAC search results "
        "and Element 84 Earth Search.",
        (*_S1, "grd", "backscatter"),
        (ESA,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "sentinel-1-burst": CollectionInfo(
        "Sentinel-1 SLC bursts",
        "Single Sentinel-1 IW SLC bursts as served by ASF's burst extractor, with ESA burst "
        "ids (gep:burst), orbit state vectors and ASF stack baselines, for burst-based "
        "interferometry.",
        (*_S1, "slc", "burst", "insar", "interferometry"),
        (ESA,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "alos-palsar": CollectionInfo(
        "ALOS PALSAR",
        "ALOS-1 PALSAR L-band scenes from the ASF DAAC archive. ASF's pre-computed InSAR "
        "baseline and stack id are kept in gep:asf_baseline.",
        ("alos", "palsar", "sar", "l-band", "jaxa", "insar"),
        (JAXA,),
        "other",
        None,
        False,
    ),
    "aria-s1-gunw": CollectionInfo(
        "ARIA Sentinel-1 Geocoded Unwrapped Interferograms",
        "NASA JPL ARIA standard product: geocoded unwrapped interferograms (GUNW, netCDF) "
        "made from Sentinel-1 IW SLC pairs, distributed by ASF DAAC. The item's interval "
        "spans both acquisitions; gep:input_granules names the SLCs.",
        (*_S1, "insar", "interferogram", "unwrapped", "aria", "nasa"),
        (JPL,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "opera-rtc-s1": CollectionInfo(
        "OPERA Radiometric Terrain Corrected backscatter from Sentinel-1",
        "NASA JPL OPERA L2 RTC-S1: burst-based radiometric terrain corrected backscatter, "
        "distributed by ASF DAAC.",
        (*_S1, "rtc", "backscatter", "opera", "nasa"),
        (JPL,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "opera-rtc-s1-static": CollectionInfo(
        "OPERA RTC-S1 static layers",
        "NASA JPL OPERA L2 RTC-S1 static layers (incidence angle, layover/shadow mask, ...) "
        "per burst, distributed by ASF DAAC.",
        (*_S1, "rtc", "static-layers", "opera", "nasa"),
        (JPL,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "opera-cslc-s1": CollectionInfo(
        "OPERA Coregistered SLC from Sentinel-1",
        "NASA JPL OPERA L2 CSLC-S1: burst-based coregistered, geocoded single look complex "
        "images, distributed by ASF DAAC.",
        (*_S1, "cslc", "slc", "insar", "opera", "nasa"),
        (JPL,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "opera-cslc-s1-static": CollectionInfo(
        "OPERA CSLC-S1 static layers",
        "NASA JPL OPERA L2 CSLC-S1 static layers (line-of-sight vectors, layover/shadow "
        "mask, ...) per burst, distributed by ASF DAAC.",
        (*_S1, "cslc", "static-layers", "los", "opera", "nasa"),
        (JPL,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "sentinel-2-l2a": CollectionInfo(
        "Sentinel-2 Level-2A",
        "Sentinel-2 MSI Level-2A bottom-of-atmosphere reflectance tiles (Earth Search and "
        "Microsoft Planetary Computer records).",
        ("sentinel-2", "copernicus", "msi", "optical", "l2a", "reflectance", "esa"),
        (ESA,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "sentinel-2-c1-l2a": CollectionInfo(
        "Sentinel-2 Collection 1 Level-2A",
        "Sentinel-2 MSI Collection 1 (reprocessed) Level-2A tiles, as catalogued by Element 84 "
        "Earth Search.",
        ("sentinel-2", "copernicus", "msi", "optical", "l2a", "reflectance", "esa"),
        (ESA,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "sentinel-2-l1c": CollectionInfo(
        "Sentinel-2 Level-1C",
        "Sentinel-2 MSI Level-1C top-of-atmosphere reflectance tiles (Earth Search, CNES "
        "GEODES and Copernicus Data Space records).",
        ("sentinel-2", "copernicus", "msi", "optical", "l1c", "esa"),
        (ESA,),
        "other",
        (SENTINEL_LEGAL_NOTICE, "Sentinel Data Legal Notice"),
        True,
    ),
    "landsat-c2-l2": CollectionInfo(
        "Landsat Collection 2 Level-2",
        "Landsat 7/8/9 Collection 2 Level-2 surface reflectance and surface temperature scenes "
        "(USGS, Earth Search and Planetary Computer records).",
        ("landsat", "usgs", "optical", "thermal", "surface-reflectance"),
        (USGS,),
        "other",
        (USGS_DATA_POLICY, "Public Domain"),
        False,
    ),
    "ga_ls8c_ard_3": CollectionInfo(
        "Geoscience Australia Landsat 8 ARD (collection 3)",
        "Digital Earth Australia Landsat 8 analysis ready data (NBART/NBAR reflectance, fmask).",
        ("landsat", "dea", "australia", "optical", "ard"),
        (GA,),
        "CC-BY-4.0",
        ("https://creativecommons.org/licenses/by/4.0/", "CC-BY-4.0"),
        False,
    ),
}

SUMMARY_LISTS = (
    "platform",
    "constellation",
    "instruments",
    "gsd",
    "sar:instrument_mode",
    "sar:frequency_band",
    "sar:center_frequency",
    "sar:polarizations",
    "sar:product_type",
    "sar:observation_direction",
    "sat:orbit_state",
    "sat:relative_orbit",
    "sat:platform_international_designator",
    "processing:level",
)
SUMMARY_RANGES = ("sat:absolute_orbit", "eo:cloud_cover", "view:off_nadir", "view:sun_elevation")

# Extension name (from its schema URI) -> field prefix, where they differ.
EXTENSION_PREFIX = {
    "projection": "proj",
    "scientific": "sci",
    "sentinel-2": "s2",
    "sentinel-1": "s1",
    "alternate-assets": "alternate",
    "landsat-extension": "landsat",
}
# Extensions whose fields have no prefix: never pruned.
UNPREFIXED_EXTENSIONS = frozenset({"timestamps", "version"})


@dataclass
class Record:
    """One converted item with where it came from (for attribution and dedup)."""

    item: Json
    source: str  # short-name folder in SOURCE_ROOT
    path: str  # file path relative to SOURCE_ROOT
    host: str  # key in HOSTS
    priority: int = 0  # higher wins among duplicates


@dataclass
class Report:
    """What was skipped, for the console."""

    skipped: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- sources


def asf_records(root: Path, report: Report) -> Iterator[Record]:
    """Every ASF record in ``asf-search/Resources/*.yml``, mapped with gep.io.crosswalk.asf."""
    for path in sorted((root / "asf-search" / "Resources").glob("*.yml")):
        records = load_asf_records(path)
        reference = asf_stack_reference(records) if len(records) > 1 else None
        for rec in records:
            try:
                item = asf_to_stac_item(rec, stack_reference=reference)
            except ValueError as exc:  # a broken record: report it, keep the others
                report.skipped.append(f"{path.relative_to(root)}: {exc}")
                continue
            # Stack results carry ASF's baselines: prefer them over plain search results.
            priority = 1 if "reference" in item["properties"].get("gep:asf_baseline", {}) else 0
            yield Record(item, "asf-search", str(path.relative_to(root)), "asf", priority)


def _features(doc: Any) -> Iterator[Json]:
    """STAC items in a parsed document: a Feature or a FeatureCollection's features."""
    if not isinstance(doc, Mapping):
        return
    if doc.get("type") == "FeatureCollection":
        for feat in doc.get("features") or []:
            if isinstance(feat, Mapping) and feat.get("type") == "Feature":
                yield dict(feat)
    elif doc.get("type") == "Feature":
        yield dict(doc)


def _host_for(text: str) -> str:
    """Which service served a record, from its request URL, links or asset hrefs."""
    text = text.lower()
    for needles, host in (
        (("earth-search", "sentinel-s2-l2a-cogs", "sentinel-cogs"), "earth-search"),
        (("planetarycomputer",), "planetary-computer"),
        (("landsatlook",), "usgs"),
        (("geodes",), "geodes"),
        (("cop_dataspace", "dataspace.copernicus"), "cdse"),
        (("dea.ga.gov.au", "dea-public-data"), "dea"),
    ):
        if any(n in text for n in needles):
            return host
    return "unknown"


def cassette_records(root: Path) -> Iterator[Record]:
    """Items inside the pystac-client VCR cassettes (HTTP response bodies are JSON)."""
    for path in sorted((root / "pystac-client" / "cassettes").glob("*.yaml")):
        cassette = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        for interaction in cassette.get("interactions") or []:
            body = (interaction.get("response") or {}).get("body") or {}
            text = body.get("string") if isinstance(body, Mapping) else body
            if not isinstance(text, str | bytes):
                continue
            try:
                doc = json.loads(text)
            except ValueError:
                continue
            host = _host_for(str((interaction.get("request") or {}).get("uri", "")))
            for feat in _features(doc):
                yield Record(feat, "pystac-client", str(path.relative_to(root)), host)


def odc_records(root: Path) -> Iterator[Record]:
    """odc-stac's single items and FeatureCollections (Collection documents skipped)."""
    folder = root / "odc-stac"
    for path in sorted([*folder.glob("*.json"), *folder.glob("*.geojson")]):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for feat in _features(doc):
            hrefs = [str(link.get("href", "")) for link in feat.get("links") or []]
            hrefs += [str(a.get("href", "")) for a in (feat.get("assets") or {}).values()]
            yield Record(feat, "odc-stac", str(path.relative_to(root)), _host_for(" ".join(hrefs)))


def eodag_records(root: Path) -> Iterator[Record]:
    """The STAC-shaped eodag provider responses (Earth Search, GEODES, CDSE via eodag)."""
    for rel in EODAG_STAC_FILES:
        path = root / "eodag" / rel
        if not path.exists():
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        host = _host_for(path.name)
        for feat in _features(doc):
            yield Record(feat, "eodag", str(path.relative_to(root)), host)


# --------------------------------------------------------------------------- normalising


def _collection_of(item: Mapping[str, Any]) -> str | None:
    props = item.get("properties") or {}
    return item.get("collection") or props.get("collection") or props.get("odc:product")


def _platform(value: str) -> str:
    """``S2A`` / ``Sentinel-2B`` / ``LANDSAT_8`` → ``sentinel-2a`` / ... / ``landsat-8``."""
    name = value.strip().lower().replace("_", "-").replace(" ", "-")
    if m := re.fullmatch(r"s([123])([a-d])", name):
        return f"sentinel-{m.group(1)}{m.group(2)}"
    return name


def _constellation(platform: str) -> str | None:
    if m := re.fullmatch(r"(sentinel-[123])[a-d]", platform):
        return m.group(1)
    if platform.startswith("landsat-"):
        return "landsat"
    return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    dt = datetime.fromisoformat(value)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _fix_fields(item: Json, collection: str) -> None:
    """Repair fields that are wrong for the item (see the module docstring)."""
    props: Json = item["properties"]
    props.pop("collection", None)  # STAC 1.0.0-beta put it there
    for old, new in (
        ("eo:platform", "platform"),
        ("eo:gsd", "gsd"),
        ("eo:sun_azimuth", "view:sun_azimuth"),
        ("eo:sun_elevation", "view:sun_elevation"),
        ("eo:off_nadir", "view:off_nadir"),
    ):
        if old in props:
            props.setdefault(new, props[old])
            del props[old]
    optical = not collection.startswith(("sentinel-1", "alos", "aria", "opera"))
    if optical:
        for key in [k for k in props if k.startswith("sar:")]:
            del props[key]  # GEODES puts the S2 datatake type in sar:instrument_mode
    if "proj:bbox" in props and not isinstance(props["proj:bbox"], list):
        del props["proj:bbox"]
    doi = props.get("sci:doi")
    if doi is not None and not (isinstance(doi, str) and doi.startswith("10.")):
        del props["sci:doi"]
    props.pop("eodag:search_intersection", None)  # the search AOI, not product metadata
    if isinstance(props.get("platform"), str):
        props["platform"] = _platform(props["platform"])
        if (const := _constellation(props["platform"])) is not None:
            props["constellation"] = const
    elif isinstance(props.get("constellation"), str):
        props["constellation"] = props["constellation"].lower()
    if isinstance(props.get("sat:orbit_state"), str):
        props["sat:orbit_state"] = props["sat:orbit_state"].lower()  # GEODES: "Descending"
    level = props.get("processing:level")
    if isinstance(level, str) and (m := re.fullmatch(r"S2MSI(\d[A-C])", level)):
        props["processing:level"] = f"L{m.group(1)}"  # eodag puts the product type there
    if "instruments" not in props and isinstance(props.get("instrument"), str):
        props["instruments"] = [props["instrument"]]  # GEODES: a single "instrument"
    if isinstance(props.get("instruments"), list):
        props["instruments"] = [str(i).lower() for i in props["instruments"]]
    # GEODES: datetime is the ingestion time, after the acquisition interval.
    start, end = _parse_time(props.get("start_datetime")), _parse_time(props.get("end_datetime"))
    when = _parse_time(props.get("datetime"))
    if when is not None and start is not None and end is not None and not start <= when <= end:
        props.setdefault("published", props["datetime"])
        props["datetime"] = props["start_datetime"]


def _fix_geometry(item: Json) -> None:
    """Valid geometry (shapely make_valid only when invalid) and the bbox of that geometry."""
    geom = item.get("geometry")
    if geom is None:
        return
    shp = shape(geom)
    if not shp.is_valid:
        fixed = make_valid(shp)
        if isinstance(fixed, GeometryCollection):
            polys = [g for g in fixed.geoms if isinstance(g, Polygon | MultiPolygon)]
            fixed = (
                polys[0]
                if len(polys) == 1
                else MultiPolygon(
                    [p for g in polys for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
                )
            )
        item["geometry"] = json.loads(json.dumps(mapping(fixed)))
        item["bbox"] = list(fixed.bounds)
        return
    bbox = item.get("bbox")
    crosses_antimeridian = isinstance(bbox, list) and len(bbox) == 4 and bbox[0] > bbox[2]
    if not crosses_antimeridian:
        # USGS/PC Landsat bboxes are the WRS scene's, a little larger than the footprint.
        item["bbox"] = [float(v) for v in shp.bounds]


def _prune_extensions(item: Json) -> None:
    """Drop extension URIs none of whose fields the item still uses."""
    used = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, sub in value.items():
                if ":" in key:
                    used.add(key.split(":", 1)[0])
                walk(sub)
        elif isinstance(value, list):
            for sub in value:
                walk(sub)

    walk(item.get("properties"))
    walk(item.get("assets"))
    kept = []
    for uri in item.get("stac_extensions") or []:
        m = re.search(r"/([a-z0-9-]+)/(?:v[\d.]+[^/]*/)?schema\.json$", uri)
        name = m.group(1) if m else None
        prefix = EXTENSION_PREFIX.get(name or "", name)
        if name is None or name in UNPREFIXED_EXTENSIONS or prefix in used:
            kept.append(uri)
    item["stac_extensions"] = sorted(set(kept))


def normalise(record: Record, report: Report) -> Record | None:
    """A foreign STAC item as a GEP STAC 1.1 item, or None when it has no GEP collection."""
    raw = record.item
    source_collection = _collection_of(raw)
    collection = COLLECTION_MAP.get(str(source_collection))
    if collection is None:
        report.skipped.append(
            f"{record.path}: {raw.get('id')} (collection {source_collection!r} is not sampled)"
        )
        return None
    raw = json.loads(json.dumps(raw))  # never mutate the parsed source
    props = raw.setdefault("properties", {})
    if str(raw.get("id", "")).startswith("URN:FEATURE:DATA:") and props.get("identifier"):
        raw["id"] = props["identifier"]  # GEODES: use the ESA product name as the id
    props.pop("collection", None)
    raw["links"] = []
    if re.fullmatch(r"1\.\d+\.\d+", str(raw.get("stac_version", ""))):
        item = raw  # 1.0 items are valid 1.1 items: keep their fields and assets as they are
    else:  # 1.0.0-beta items: short extension ids, eo:platform, ... need pystac's migration
        item = pystac.Item.from_dict(raw, migrate=True, preserve_dict=False).to_dict(
            include_self_link=False, transform_hrefs=False
        )
    item["collection"] = collection
    item["stac_version"] = STAC_VERSION
    item["links"] = []
    _fix_fields(item, collection)
    _fix_geometry(item)
    _prune_extensions(item)
    if not _item_interval(item):
        report.skipped.append(f"{record.path}: {item['id']} (no datetime)")
        return None
    ordered = {
        k: item[k]
        for k in (
            "type",
            "stac_version",
            "stac_extensions",
            "id",
            "collection",
            "geometry",
            "bbox",
            "properties",
            "links",
            "assets",
        )
        if k in item
    }
    ordered.update({k: v for k, v in item.items() if k not in ordered})
    return Record(ordered, record.source, record.path, record.host, record.priority)


def _item_interval(item: Mapping[str, Any]) -> tuple[str, str] | None:
    props = item.get("properties") or {}
    start = props.get("start_datetime") or props.get("datetime")
    end = props.get("end_datetime") or props.get("datetime")
    return (start, end) if start and end else None


def _start(item: Mapping[str, Any]) -> str:
    """The item's start as normalised RFC 3339 (the sort key; items without one are skipped)."""
    interval = _item_interval(item)
    if interval is None:
        raise ValueError(f"item {item.get('id')}: no datetime")
    return _norm_time(interval[0])


def _norm_time(value: str) -> str:
    """RFC 3339 in UTC with ``Z``, so that times from different sources sort correctly."""
    dt = _parse_time(value)
    if dt is None:
        raise ValueError(f"time {value!r}: expected RFC 3339")
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- building


def gather(root: Path, report: Report) -> dict[str, list[Record]]:
    """All items by GEP collection, deduplicated, sorted by time then id."""
    chosen: dict[tuple[str, str], Record] = {}
    foreign: Iterable[Record] = (
        r for src in (cassette_records(root), odc_records(root), eodag_records(root)) for r in src
    )
    for rec in [*asf_records(root, report), *filter(None, (normalise(r, report) for r in foreign))]:
        key = (rec.item["collection"], rec.item["id"])
        old = chosen.get(key)
        if old is None or _better(rec, old):
            chosen[key] = rec
    by_collection: dict[str, list[Record]] = defaultdict(list)
    for (collection, _), rec in chosen.items():
        by_collection[collection].append(rec)
    for recs in by_collection.values():
        recs.sort(key=lambda r: (_start(r.item), r.item["id"]))
    return dict(sorted(by_collection.items()))


def _better(new: Record, old: Record) -> bool:
    """Among duplicates the richer record wins; ties keep the first seen."""
    if new.priority != old.priority:
        return new.priority > old.priority
    return len(orjson.dumps(new.item)) > len(orjson.dumps(old.item))


def _summaries(items: list[Json]) -> Json:
    values: dict[str, set[Any]] = defaultdict(set)
    for item in items:
        props = item["properties"]
        for key in (*SUMMARY_LISTS, *SUMMARY_RANGES):
            value = props.get(key)
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str | int | float) and not isinstance(v, bool):
                    values[key].add(v)
    out: Json = {}
    for key in SUMMARY_LISTS:
        if values.get(key):
            out[key] = sorted(values[key], key=lambda v: (str(type(v)), v))
    for key in SUMMARY_RANGES:
        if values.get(key):
            out[key] = {"minimum": min(values[key]), "maximum": max(values[key])}
    return out


def _years(items: list[Json]) -> str:
    """``2014-2021`` (or ``2008``): the years the items' acquisitions span."""
    intervals = [iv for iv in (_item_interval(i) for i in items) if iv is not None]
    years = sorted({int(t[:4]) for iv in intervals for t in iv})
    return str(years[0]) if years[0] == years[-1] else f"{years[0]}-{years[-1]}"


def _attribution(collection: str, items: list[Json]) -> str:
    info = COLLECTIONS[collection]
    if info.copernicus:
        return f"Contains modified Copernicus Sentinel data {_years(items)}"
    if collection == "landsat-c2-l2":
        return "Landsat data courtesy of the U.S. Geological Survey (public domain)"
    if collection == "alos-palsar":
        return f"© JAXA/METI ALOS PALSAR {_years(items)}. Accessed through ASF DAAC"
    if collection == "ga_ls8c_ard_3":
        return "© Commonwealth of Australia (Geoscience Australia), CC-BY-4.0"
    return ""


def build_collection(collection: str, records: list[Record]) -> Json:
    """A STAC 1.1 Collection for the sampled items (extent and summaries computed)."""
    info = COLLECTIONS[collection]
    items = [r.item for r in records]
    bboxes = [
        (b[0], b[1], b[-3], b[-2]) if len(b) == 6 else tuple(b) for b in (i["bbox"] for i in items)
    ]
    south = min(b[1] for b in bboxes)
    north = max(b[3] for b in bboxes)
    if any(b[0] > b[2] for b in bboxes):  # an item crosses the antimeridian
        west, east = -180.0, 180.0
    else:
        west, east = min(b[0] for b in bboxes), max(b[2] for b in bboxes)
    intervals = [_item_interval(i) for i in items]
    start = min(_norm_time(iv[0]) for iv in intervals if iv)
    end = max(_norm_time(iv[1]) for iv in intervals if iv)
    attribution = _attribution(collection, items)
    providers: list[Json] = []
    for p in info.producers:
        providers.append(
            {
                "name": p.name,
                "roles": list(p.roles),
                "url": p.url,
                **({"description": attribution} if attribution else {}),
            }
        )
    for host in sorted({r.host for r in records}):
        hosting = HOSTS.get(host)
        if hosting is not None and hosting.name not in {q["name"] for q in providers}:
            providers.append(
                {"name": hosting.name, "roles": list(hosting.roles), "url": hosting.url}
            )
    links = []
    if info.license_link:
        links.append(
            {"rel": "license", "href": info.license_link[0], "title": info.license_link[1]}
        )
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": collection,
        "title": info.title,
        "description": info.description + (f" {attribution}." if attribution else ""),
        "keywords": list(info.keywords),
        "license": info.license,
        "providers": providers,
        "extent": {
            "spatial": {"bbox": [[west, south, east, north]]},
            "temporal": {"interval": [[start, end]]},
        },
        "summaries": _summaries(items),
        "links": links,
    }


def attribution_markdown(collections: dict[str, list[Record]], root_label: str) -> str:
    """ATTRIBUTION.md: per sample file, the source files, their repo @ commit and licence."""
    lines = [
        "# Sample catalogue: sources and attribution",
        "",
        "Generated by `tools/build_samples.py` from real recorded records (see "
        f"`{root_label}/MANIFEST.md`). Do not edit by hand: re-run the script.",
        "",
        "The items were converted to STAC 1.1 (fields normalised, links dropped, extension "
        "lists pruned); the underlying metadata are the providers'.",
        "",
        "Data licences:",
        "",
        "- Copernicus Sentinel data: free, full and open (Sentinel Data Legal Notice, "
        f"{SENTINEL_LEGAL_NOTICE}). Products derived from it (ARIA, OPERA) are NASA products "
        "distributed by ASF DAAC without restriction.",
        f"- Landsat: USGS, public domain ({USGS_DATA_POLICY}).",
        "- ALOS PALSAR: © JAXA/METI, distributed by ASF DAAC.",
        "- Digital Earth Australia: © Commonwealth of Australia (Geoscience Australia), CC-BY-4.0.",
        "",
        "The source files' repositories and licences (the licence of the repository that "
        "ships the recorded file):",
        "",
    ]
    for name, src in sorted(SOURCES.items()):
        lines.append(f"- `{name}/`: {src.repo} @ {src.commit} ({src.licence})")
    lines.append("")
    for collection, records in collections.items():
        items = [r.item for r in records]
        lines += [f"## `{collection}.ndjson` ({len(records)} items)", ""]
        attribution = _attribution(collection, items)
        if attribution:
            lines += [f"{attribution}.", ""]
        by_file: dict[str, int] = defaultdict(int)
        for r in records:
            by_file[r.path] += 1
        for path, n in sorted(by_file.items()):
            src = SOURCES[path.split("/", 1)[0]]
            lines.append(f"- `{path}` ({n}): {src.repo} @ {src.commit[:12]}, {src.licence}")
        lines.append("")
    lines += [
        "## `collections.json`",
        "",
        "Written by the script; extents and summaries computed from the items above.",
        "",
    ]
    return "\n".join(lines)


def write(out: Path, collections: dict[str, list[Record]], root_label: str) -> dict[str, int]:
    """Write the ndjson files, collections.json and ATTRIBUTION.md; return item counts."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.ndjson"):
        if stale.stem not in collections:
            stale.unlink()
    counts: dict[str, int] = {}
    for collection, records in collections.items():
        with open(out / f"{collection}.ndjson", "wb") as fh:
            for rec in records:
                fh.write(orjson.dumps(rec.item) + b"\n")
        counts[collection] = len(records)
    docs = [build_collection(c, recs) for c, recs in collections.items()]
    (out / "collections.json").write_bytes(orjson.dumps(docs, option=orjson.OPT_INDENT_2) + b"\n")
    (out / "ATTRIBUTION.md").write_text(
        attribution_markdown(collections, root_label), encoding="utf-8"
    )
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "source_root",
        nargs="?",
        type=Path,
        default=DEFAULT_SOURCE_ROOT,
        help="folder holding asf-search/, pystac-client/, odc-stac/, eodag/ "
        "(default: ../shared/data next to the repository)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output folder (default: src/gep/catalog/samples)",
    )
    args = parser.parse_args(argv)
    root: Path = args.source_root.resolve()
    if not (root / "asf-search").is_dir():
        parser.error(f"{root}: no asf-search/ folder; pass the shared data folder")
    report = Report()
    collections = gather(root, report)
    unknown = sorted(set(collections) - set(COLLECTIONS))
    if unknown:
        parser.error(f"no CollectionInfo for {unknown}; add them to COLLECTIONS")
    counts = write(args.out, collections, "shared/data")
    total = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    for collection, n in counts.items():
        print(f"{collection:24s} {n:4d} items")
    print(f"total {sum(counts.values())} items, {total / 1e6:.2f} MB in {args.out}")
    for line in report.skipped:
        print(f"skipped {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Map Alaska Satellite Facility (ASF) records to STAC 1.1 items.

Why this module exists: ASF's search API (and the ``asf_search`` library) is the most
complete public catalogue of SAR acquisitions, and its records carry exactly what an
interferometric search needs: relative orbit, orbit direction, burst identifiers, two
orbit state vectors per scene and ASF's own baselines. GEP stores STAC items, so this
module turns one ASF record (a GeoJSON ``Feature`` with ``properties``, ``baseline`` and
``umm``) into one STAC 1.1 item dict; :mod:`gep.io.crosswalk.asf_records` reads the other
shapes ASF answers in (jsonlite, CMR UMM-G) and recorded files into such records. It is pure:
no network, no database; callers (``gep demo seed``, the ASF harvester,
``tools/build_samples.py``) decide where records come from and where items go.

The ASF records are messy in ways that matter (all seen in the recorded responses):
null values come as ``None``, ``"None"``, ``"NULL"`` or ``"NA"``; ``flightDirection`` may
be null while the CMR UMM record still says ``ASCENDING``; times have 0, 3 or 6
fractional digits with or without ``Z`` (read by the crosswalk's one time parser); the
footprint follows the crosswalk's one rule (:mod:`gep.io.crosswalk.footprint`), with ASF's
width bound; ``processingDate`` is often the acquisition
start rather than the processing date (the UMM ``PROCESSING_DATE`` attribute is the real
one); ``platform`` is ``Sentinel-1B`` in scene records and ``SENTINEL-1B`` in burst records.
The mapping normalises all of these. The bulky UMM record itself is never copied into the
item.

Standard STAC fields written (extensions sat v1.0.0, sar v1.0.0, processing v1.2.0,
view v1.0.0): ``platform`` (lower case, e.g. ``sentinel-1a``), ``constellation``,
``instruments``, ``datetime`` (the acquisition start, as ASF reports it),
``start_datetime``/``end_datetime``, ``sat:orbit_state``, ``sat:relative_orbit``,
``sat:absolute_orbit``, ``sat:anx_datetime``, ``sat:platform_international_designator``,
``sar:instrument_mode``, ``sar:frequency_band``, ``sar:center_frequency`` (GHz),
``sar:polarizations``, ``sar:product_type``, ``sar:observation_direction``,
``processing:level``, ``processing:facility``, ``processing:datetime``,
``processing:software``, ``view:off_nadir`` (ALOS).

GEP-specific orbit and burst data (``gep:`` prefix), kept because the InSAR pair and
stack search needs them and no STAC extension carries them in this form:

``gep:state_vectors``
    list of ``{"time": RFC 3339, "position": [x, y, z], "velocity": [vx, vy, vz]}``
    in ECEF metres and metres per second, sorted by time, from ASF's
    ``baseline.stateVectors`` pre/post pair (or the UMM ``SV_*`` attributes). These are
    the two vectors ASF's approximate baseline method uses; their timestamps are whole
    seconds and do not line up with annotation or POEORB state vectors, so never mix
    the two sources.
``gep:ascending_node_time``
    RFC 3339 time of the ascending node crossing that starts the orbit (same value as
    ``sat:anx_datetime``; kept under its ASF name for the baseline code).
``gep:frame_number``
    ASF frame number (an ``int``; for ARIA products, the ARIA frame).
``gep:burst``
    for Sentinel-1 burst products (ASF ``BURST`` and OPERA burst-based products):
    ``{"id": "174_372326_IW3", "swath": "IW3", "relative_burst_id": 372326,
    "absolute_burst_id": 26364401, "burst_index": 5, "samples_per_burst": 24229,
    "lines_per_burst": 1519, "azimuth_time": RFC 3339, "azimuth_anx_time": seconds}``
    (keys present only when the record has them; OPERA records have no absolute id).
``gep:input_granules``
    scene names a derived product was made from (burst → its SLC, ARIA GUNW → its
    SLCs, OPERA → its SLC).
``gep:asf_baseline``
    ASF's own baseline values, kept as references to check GEP's computation against:
    ``{"perpendicular": metres, "temporal": days, "reference": scene id}`` for stack
    results (``reference`` only when the caller names the stack's reference scene), or
    ``{"insar_baseline": metres, "insar_stack_id": str}`` for ALOS pre-computed stacks,
    where the baseline between two scenes of one stack is the difference of their values.
    ASF rounds S1 perpendicular baselines to whole metres; treat them as +/-3 m.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shapely.geometry import shape

from gep.core.timeutil import format_rfc3339
from gep.io.crosswalk.asf_records import as_int, as_num, umm_attr, umm_attributes
from gep.io.crosswalk.footprint import json_lists, normalise_footprint
from gep.io.crosswalk.times import parse_time
from gep.io.crosswalk.values import clean, media_type, polarisations

__all__ = [
    "PROCESSING_EXTENSION",
    "SAR_EXTENSION",
    "SAT_EXTENSION",
    "STAC_VERSION",
    "VIEW_EXTENSION",
    "asf_collection_id",
    "asf_stack_reference",
    "asf_to_stac_item",
]

STAC_VERSION = "1.1.0"
SAT_EXTENSION = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"
SAR_EXTENSION = "https://stac-extensions.github.io/sar/v1.0.0/schema.json"
PROCESSING_EXTENSION = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
VIEW_EXTENSION = "https://stac-extensions.github.io/view/v1.0.0/schema.json"

_Json = dict[str, Any]


@dataclass(frozen=True)
class _Mission:
    """What a platform name implies that the ASF record does not always state."""

    constellation: str | None
    instrument: str
    frequency_band: str
    center_frequency_ghz: float
    international_designator: str | None
    facility: str


def _sentinel_1(designator: str | None) -> _Mission:
    """Sentinel-1 units differ only by their COSPAR designator."""
    return _Mission(
        constellation="sentinel-1",
        instrument="c-sar",
        frequency_band="C",
        center_frequency_ghz=5.405,
        international_designator=designator,
        facility="ESA",
    )


_MISSIONS: dict[str, _Mission] = {
    "sentinel-1a": _sentinel_1("2014-016A"),
    "sentinel-1b": _sentinel_1("2016-025A"),
    "sentinel-1c": _sentinel_1(None),
    "alos": _Mission(
        constellation=None,
        instrument="palsar",
        frequency_band="L",
        center_frequency_ghz=1.27,
        international_designator="2006-002A",
        facility="JAXA",
    ),
}

# Wider than any SAR product ASF serves (ScanSAR swaths are ~400-500 km, ARIA frames
# ~250 km across): a footprint wider than this is a broken record.
# Wider than any SAR product ASF serves (ScanSAR swaths are ~400-500 km, ARIA frames
# ~250 km across): a footprint wider than this is a broken record.
MAX_WIDTH_KM = 2000.0

_SCENE_TIMES = re.compile(r"_(\d{8}T\d{6})_(\d{8}T\d{6})_")
_OPERA_BURST = re.compile(r"^T?(\d{1,3})[_-](\d{1,6})[_-](IW[1-3]|EW[1-5])$", re.IGNORECASE)


# --------------------------------------------------------------------------- stacks


def asf_stack_reference(features: Iterable[Mapping[str, Any]]) -> str | None:
    """Return the id of the stack's reference scene, or None when it is not a stack.

    ASF stack results give every product its baselines relative to one reference scene
    but never name it; it is the product with temporal and perpendicular baseline 0.
    """
    for feature in features:
        props = feature.get("properties") or {}
        if as_num(props.get("temporalBaseline")) == 0 and as_num(
            props.get("perpendicularBaseline")
        ) in (0, None):
            return _item_id(feature)
    return None


# --------------------------------------------------------------------------- mapping


def asf_collection_id(feature: Mapping[str, Any]) -> str:
    """Return GEP's collection id for an ASF record.

    One collection per product family, because searches (and the InSAR pairing rules)
    are per product type: ``sentinel-1-slc``, ``sentinel-1-grd``, ``sentinel-1-burst``,
    ``sentinel-1-raw``, ``sentinel-1-ocn``, ``alos-palsar``, ``aria-s1-gunw`` and
    ``opera-<product>`` (e.g. ``opera-rtc-s1``, ``opera-cslc-s1-static``).
    """
    props = feature.get("properties") or {}
    attrs = umm_attributes(feature)
    scene = str(clean(props.get("sceneName")) or clean(props.get("fileID")) or "")
    short_name = _umm_collection_name(feature).upper()
    if scene.startswith("OPERA_L") or short_name.startswith("OPERA_"):
        parts = scene.split("_")
        if len(parts) < 3:
            raise ValueError(f"OPERA record {scene!r}: cannot read the product from the name")
        return "opera-" + parts[2].lower()
    if scene.startswith("S1-GUNW") or "GUNW" in short_name:
        return "aria-s1-gunw"
    platform = _platform(feature)
    if platform == "alos":
        return "alos-palsar"
    if platform is not None and platform.startswith("sentinel-1"):
        ptype = _product_type(props, attrs)
        if ptype is not None:
            if ptype == "BURST":
                return "sentinel-1-burst"
            if ptype.startswith("GRD"):
                return "sentinel-1-grd"
            if ptype in {"SLC", "RAW", "OCN"}:
                return f"sentinel-1-{ptype.lower()}"
    raise ValueError(
        f"ASF record {scene or '?'}: no GEP collection for platform {platform!r} and "
        f"processingLevel {props.get('processingLevel')!r}; accepted: Sentinel-1 "
        "SLC/GRD*/BURST/RAW/OCN, ALOS, ARIA S1 GUNW, OPERA"
    )


def asf_to_stac_item(feature: Mapping[str, Any], *, stack_reference: str | None = None) -> _Json:
    """Map one ASF record to a STAC 1.1 Item dict (see the module docstring for fields).

    ``stack_reference`` names the reference scene of the stack the record came from
    (see :func:`asf_stack_reference`); it is stored with ASF's baselines so that they
    can be interpreted later. Raises ValueError when the record lacks an id, a time or
    a geometry.
    """
    props: Mapping[str, Any] = feature.get("properties") or {}
    attrs = umm_attributes(feature)
    item_id = _item_id(feature)
    if item_id is None:
        raise ValueError("ASF record has neither 'sceneName' nor 'fileID'")
    collection = asf_collection_id(feature)
    platform = _platform(feature)
    mission = _MISSIONS.get(platform or "")
    geometry, bbox = _geometry(feature.get("geometry"), item_id)

    out: _Json = {}
    _add_times(out, feature, props, attrs, collection, item_id)
    if platform:
        out["platform"] = platform
    if mission is not None:
        if mission.constellation:
            out["constellation"] = mission.constellation
        out["instruments"] = [mission.instrument]
    elif sensor := clean(props.get("sensor")):
        out["instruments"] = [str(sensor).lower()]
    extensions = {SAR_EXTENSION, SAT_EXTENSION, PROCESSING_EXTENSION}
    _add_sar(out, props, attrs, feature, mission, collection)
    _add_sat(out, feature, props, attrs, mission)
    _add_processing(out, feature, props, attrs, mission, collection)
    if (off_nadir := as_num(props.get("offNadirAngle"))) is not None:
        out["view:off_nadir"] = off_nadir
        extensions.add(VIEW_EXTENSION)
    _add_gep(out, feature, props, attrs, collection, stack_reference)

    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": sorted(extensions),
        "id": item_id,
        "collection": collection,
        "geometry": geometry,
        "bbox": bbox,
        "properties": out,
        "links": [],
        "assets": _assets(props, attrs, item_id),
    }


# --------------------------------------------------------------------------- sections


def _add_times(
    out: _Json,
    feature: Mapping[str, Any],
    props: Mapping[str, Any],
    attrs: Mapping[str, list[Any]],
    collection: str,
    item_id: str,
) -> None:
    """Set datetime/start_datetime/end_datetime.

    ASF's stack results round start and stop down to whole seconds while the UMM keeps
    the microseconds: the UMM time wins when both name the same second. Static OPERA
    layers have no acquisition time, only a validity start: that becomes ``datetime``.
    ARIA interferograms span two acquisitions, so their interval runs from the earliest
    input SLC to the latest while ``datetime`` stays ASF's (reference) time.
    """
    umm_range = (feature.get("umm") or {}).get("TemporalExtent") or {}
    rng = umm_range.get("RangeDateTime") or {}
    start = _precise(parse_time(props.get("startTime")), parse_time(rng.get("BeginningDateTime")))
    stop = _precise(parse_time(props.get("stopTime")), parse_time(rng.get("EndingDateTime")))
    if start is None:
        single = parse_time(umm_range.get("SingleDateTime"))
        start = parse_time(props.get("validityStartDate")) or single
        if start is None:
            start = parse_time(rng.get("BeginningDateTime"))
            stop = stop or parse_time(rng.get("EndingDateTime"))
    if start is None:
        raise ValueError(f"ASF record {item_id}: no startTime, validityStartDate or UMM time")
    first, last = start, stop
    if collection == "aria-s1-gunw":
        for name in _input_granules(feature, props):
            if m := _SCENE_TIMES.search(name):
                t0 = parse_time(m.group(1))
                t1 = parse_time(m.group(2))
                if t0 is not None:
                    first = min(first, t0)
                if t1 is not None:
                    last = max(last, t1) if last is not None else t1
    out["datetime"] = format_rfc3339(start)
    if last is not None:
        out["start_datetime"] = format_rfc3339(first)
        out["end_datetime"] = format_rfc3339(max(last, first))


def _add_sar(
    out: _Json,
    props: Mapping[str, Any],
    attrs: Mapping[str, list[Any]],
    feature: Mapping[str, Any],
    mission: _Mission | None,
    collection: str,
) -> None:
    """SAR extension fields: mode, band, frequency, polarisations, product type."""
    mode = (
        clean(props.get("beamModeType"))
        or clean(props.get("beamMode"))
        or umm_attr(attrs, "BEAM_MODE_TYPE", "BEAM_MODE")
    )
    if mode:
        out["sar:instrument_mode"] = str(mode).upper()
    if mission is not None:
        out["sar:frequency_band"] = mission.frequency_band
        out["sar:center_frequency"] = mission.center_frequency_ghz
    pols = polarisations(props.get("polarization"))
    if not pols:
        pols = polarisations(attrs.get("POLARIZATION"))
    if pols:
        out["sar:polarizations"] = pols
    if ptype := _sar_product_type(props, attrs, collection):
        out["sar:product_type"] = ptype
    look = umm_attr(attrs, "LOOK_DIRECTION") or _umm_look_direction(feature)
    if look:
        out["sar:observation_direction"] = "left" if str(look).upper()[0] == "L" else "right"
    elif mission is not None:
        out["sar:observation_direction"] = "right"  # S1 and ALOS PALSAR look right


def _add_sat(
    out: _Json,
    feature: Mapping[str, Any],
    props: Mapping[str, Any],
    attrs: Mapping[str, list[Any]],
    mission: _Mission | None,
) -> None:
    """Satellite extension fields: orbit direction and numbers, ascending node time."""
    direction = clean(props.get("flightDirection")) or umm_attr(attrs, "ASCENDING_DESCENDING")
    if direction:
        state = str(direction).strip().lower()
        if state not in {"ascending", "descending"}:
            raise ValueError(f"flightDirection {direction!r}: expected ascending or descending")
        out["sat:orbit_state"] = state
    if (path := as_int(props.get("pathNumber"))) is not None:
        out["sat:relative_orbit"] = path
    orbit = props.get("orbit")
    if isinstance(orbit, list):  # ARIA: [reference orbit, secondary orbit]
        orbit = orbit[0] if orbit else None
    if (absolute := as_int(orbit)) is not None:
        out["sat:absolute_orbit"] = absolute
    if anx := _ascending_node_time(feature, attrs):
        out["sat:anx_datetime"] = anx
    if mission is not None and mission.international_designator:
        out["sat:platform_international_designator"] = mission.international_designator


def _add_processing(
    out: _Json,
    feature: Mapping[str, Any],
    props: Mapping[str, Any],
    attrs: Mapping[str, list[Any]],
    mission: _Mission | None,
    collection: str,
) -> None:
    """Processing extension fields: level, facility, processing time, software."""
    level = umm_attr(attrs, "PROCESSING_LEVEL")
    if collection.startswith("opera-") or collection == "aria-s1-gunw":
        level = "L2"
    if level:
        out["processing:level"] = str(level)
    if collection.startswith("opera-"):
        out["processing:facility"] = "NASA JPL OPERA"
    elif collection == "aria-s1-gunw":
        out["processing:facility"] = "NASA JPL ARIA"
    elif collection == "sentinel-1-burst":
        out["processing:facility"] = "ASF"  # ASF cuts bursts out of ESA's SLCs on demand
    elif mission is not None:
        out["processing:facility"] = mission.facility
    # UMM PROCESSING_DATE is the real processing time; ASF's processingDate is often
    # the acquisition start (Sentinel-1 SLC and GRD records).
    when = parse_time(umm_attr(attrs, "PROCESSING_DATE")) or parse_time(props.get("processingDate"))
    if when is not None:
        out["processing:datetime"] = format_rfc3339(when)
    pge = (feature.get("umm") or {}).get("PGEVersionClass") or {}
    name = clean(pge.get("PGEName"))
    version = clean(pge.get("PGEVersion")) or clean(props.get("pgeVersion"))
    if collection == "aria-s1-gunw":
        name = name or "ARIA S1 GUNW"
        version = version or clean(props.get("ariaVersion"))
    if (
        name is None
        and version is not None
        and mission is not None
        and collection.startswith("sentinel-1")
    ):
        name = "Sentinel-1 IPF"
    if name and version:
        out["processing:software"] = {str(name): str(version)}


def _add_gep(
    out: _Json,
    feature: Mapping[str, Any],
    props: Mapping[str, Any],
    attrs: Mapping[str, list[Any]],
    collection: str,
    stack_reference: str | None,
) -> None:
    """GEP orbit/burst/baseline fields (documented in the module docstring)."""
    vectors = _state_vectors(feature, attrs)
    if vectors:
        out["gep:state_vectors"] = vectors
    if anx := _ascending_node_time(feature, attrs):
        out["gep:ascending_node_time"] = anx
    if (frame := as_int(props.get("frameNumber"))) is not None:
        out["gep:frame_number"] = frame
    burst = _burst(props, attrs)
    if burst:
        out["gep:burst"] = burst
    if collection not in {"sentinel-1-slc", "sentinel-1-grd"}:
        granules = _input_granules(feature, props)
        if granules:
            out["gep:input_granules"] = granules
    baseline: _Json = {}
    perp = as_num(props.get("perpendicularBaseline"))
    temporal = as_num(props.get("temporalBaseline"))
    if temporal is None and collection == "aria-s1-gunw":
        temporal = as_num(umm_attr(attrs, "TEMPORAL_BASELINE_DAYS"))
    if perp is not None:
        baseline["perpendicular"] = perp
    if temporal is not None:
        baseline["temporal"] = temporal
    if baseline and stack_reference is not None:
        baseline["reference"] = stack_reference
    asf_baseline = feature.get("baseline") or {}
    if (insar := as_num(asf_baseline.get("insarBaseline"))) is not None:
        baseline["insar_baseline"] = insar
        if stack_id := clean(props.get("insarStackId")):
            baseline["insar_stack_id"] = str(stack_id)
    if baseline:
        out["gep:asf_baseline"] = baseline


def _assets(props: Mapping[str, Any], attrs: Mapping[str, list[Any]], item_id: str) -> _Json:
    """Assets: ``data`` (the download), extra files, ``thumbnail`` and ``overview``."""
    assets: _Json = {}
    url = clean(props.get("url"))
    if url:
        assets["data"] = {"href": str(url), "type": media_type(str(url)), "roles": ["data"]}
    extra = props.get("additionalUrls")
    for href in extra if isinstance(extra, list) else []:
        href = clean(href)
        if not href or href == url or not str(href).startswith("http"):
            continue
        key, roles = _extra_asset_key(str(href), item_id)
        if key in assets:
            continue
        assets[key] = {"href": str(href), "type": media_type(str(href)), "roles": roles}
    browse = props.get("browse")
    browse_urls = [
        str(b)
        for b in (browse if isinstance(browse, list) else [browse])
        if clean(b) and str(b).startswith("http")
    ]
    thumb = umm_attr(attrs, "THUMBNAIL_URL")
    full = [b for b in browse_urls if "thumbnail" not in b.lower() and "low-res" not in b]
    small = [b for b in browse_urls if "thumbnail" in b.lower()]
    if not thumb and small:
        thumb = small[0]
    if thumb and str(thumb).startswith("http"):
        assets["thumbnail"] = {
            "href": str(thumb),
            "type": media_type(str(thumb)),
            "roles": ["thumbnail"],
        }
    if full:
        assets["overview"] = {"href": full[0], "type": media_type(full[0]), "roles": ["overview"]}
    return assets


# --------------------------------------------------------------------------- helpers


def _item_id(feature: Mapping[str, Any]) -> str | None:
    """The sceneName (the fileID for bursts, whose fileID is the burst product name)."""
    props = feature.get("properties") or {}
    if str(clean(props.get("processingLevel")) or "").upper() == "BURST":
        value = clean(props.get("fileID")) or clean(props.get("sceneName"))
    else:
        value = clean(props.get("sceneName")) or clean(props.get("fileID"))
    return str(value) if value else None


def _umm_collection_name(feature: Mapping[str, Any]) -> str:
    """CMR collection short name (``SENTINEL-1_BURSTS``, ``ARIA_S1_GUNW``), or ``""``."""
    ref = (feature.get("umm") or {}).get("CollectionReference") or {}
    return str(ref.get("ShortName") or ref.get("EntryTitle") or "")


def _umm_look_direction(feature: Mapping[str, Any]) -> str | None:
    """UMM-JSON records put the look direction in the instrument characteristics."""
    for platform in (feature.get("umm") or {}).get("Platforms") or []:
        for instrument in platform.get("Instruments") or []:
            for char in instrument.get("Characteristics") or []:
                if char.get("Name") == "LookDirection" and clean(char.get("Value")):
                    return str(char["Value"])
    return None


def _platform(feature: Mapping[str, Any]) -> str | None:
    """Lower-case platform name (``sentinel-1a``, ``alos``)."""
    props = feature.get("properties") or {}
    name = clean(props.get("platform"))
    if name is None:
        attrs = umm_attributes(feature)
        name = umm_attr(attrs, "ASF_PLATFORM")
    if name is None:
        platforms = (feature.get("umm") or {}).get("Platforms") or []
        name = platforms[0].get("ShortName") if platforms else None
    return str(name).strip().lower().replace("_", "-").replace(" ", "-") if name else None


def _product_type(props: Mapping[str, Any], attrs: Mapping[str, list[Any]]) -> str | None:
    """ASF's processing level (``SLC``, ``GRD_HD``, ``BURST``, ...), upper case."""
    value = clean(props.get("processingLevel")) or umm_attr(attrs, "PROCESSING_TYPE")
    return str(value).upper() if value else None


def _sar_product_type(
    props: Mapping[str, Any], attrs: Mapping[str, list[Any]], collection: str
) -> str | None:
    """ESA-style product type: SLC, GRD, BURST, ...; ALOS keeps ASF's (``L1.0``)."""
    if collection == "aria-s1-gunw":
        return "GUNW"
    ptype = _product_type(props, attrs)
    if ptype is None:
        return None
    if collection == "sentinel-1-grd":
        return "GRD"
    return ptype


def _ascending_node_time(feature: Mapping[str, Any], attrs: Mapping[str, list[Any]]) -> str | None:
    """ANX time; the UMM's when it agrees to the second (ASF's stacks truncate theirs)."""
    baseline = feature.get("baseline") or {}
    umm = parse_time(umm_attr(attrs, "ASC_NODE_TIME"))
    when = _precise(parse_time(baseline.get("ascendingNodeTime")), umm) or umm
    return format_rfc3339(when) if when is not None else None


def _precise(value: datetime | None, umm: datetime | None) -> datetime | None:
    """``umm`` when it is ``value`` with the sub-second digits ``value`` lost, else ``value``."""
    if value is None or umm is None:
        return value
    return umm if abs((umm - value).total_seconds()) < 1.0 else value


def _vector(value: Any) -> list[float] | None:
    """Three floats, or None when ASF wrote ``"None"`` or something else."""
    value = clean(value)
    if not isinstance(value, list | tuple) or len(value) != 3:
        return None
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        return None


def _state_vectors(feature: Mapping[str, Any], attrs: Mapping[str, list[Any]]) -> list[_Json]:
    """The pre/post state vectors, from ``baseline.stateVectors`` or the UMM ``SV_*``."""
    found: dict[str, _Json] = {}
    sv = (feature.get("baseline") or {}).get("stateVectors") or {}
    positions = sv.get("positions") or {}
    velocities = sv.get("velocities") or {}
    for which in ("pre", "post"):
        pos = _vector(positions.get(f"{which}Position"))
        vel = _vector(velocities.get(f"{which}Velocity"))
        when = parse_time(positions.get(f"{which}PositionTime"))
        if pos is not None and vel is not None and when is not None:
            stamp = format_rfc3339(when)
            found[stamp] = {"time": stamp, "position": pos, "velocity": vel}
    if not found:
        for which in ("PRE", "POST"):
            pos_t = _split_sv(umm_attr(attrs, f"SV_POSITION_{which}"))
            vel_t = _split_sv(umm_attr(attrs, f"SV_VELOCITY_{which}"))
            if pos_t is not None and vel_t is not None:
                stamp = format_rfc3339(pos_t[1])
                found[stamp] = {"time": stamp, "position": pos_t[0], "velocity": vel_t[0]}
    return [found[k] for k in sorted(found)]


def _split_sv(value: Any) -> tuple[list[float], datetime] | None:
    """UMM ``"x,y,z,time"`` → ([x, y, z], time)."""
    value = clean(value)
    if value is None:
        return None
    parts = str(value).split(",")
    if len(parts) != 4:
        return None
    when = parse_time(parts[3])
    vec = _vector(parts[:3])
    return (vec, when) if vec is not None and when is not None else None


def _burst(props: Mapping[str, Any], attrs: Mapping[str, list[Any]]) -> _Json:
    """``gep:burst`` from ASF's ``burst`` block, the UMM, or an OPERA burst id."""
    block = props.get("burst")
    raw: Mapping[str, Any] = block if isinstance(block, Mapping) else {}
    burst: _Json = {}
    full = clean(raw.get("fullBurstID")) or umm_attr(attrs, "BURST_ID_FULL")
    swath = clean(raw.get("subswath")) or umm_attr(attrs, "SUBSWATH_NAME")
    relative = as_int(raw.get("relativeBurstID")) or as_int(umm_attr(attrs, "BURST_ID_RELATIVE"))
    absolute = as_int(raw.get("absoluteBurstID")) or as_int(umm_attr(attrs, "BURST_ID_ABSOLUTE"))
    opera = clean(props.get("operaBurstID")) or umm_attr(attrs, "OPERA_BURST_ID")
    if full is None and opera is not None and (m := _OPERA_BURST.match(str(opera))):
        track, number, sub = int(m.group(1)), int(m.group(2)), m.group(3).upper()
        full = f"{track:03d}_{number:06d}_{sub}"
        relative = relative or number
        swath = swath or sub
    if full is None:
        return {}
    burst["id"] = str(full)
    if swath:
        burst["swath"] = str(swath).upper()
    elif (parts := str(full).split("_")) and len(parts) == 3:
        burst["swath"] = parts[2].upper()
    if relative is None and len(parts := str(full).split("_")) == 3:
        relative = as_int(parts[1])
    if relative is not None:
        burst["relative_burst_id"] = relative
    if absolute is not None:
        burst["absolute_burst_id"] = absolute
    index = as_int(raw.get("burstIndex")) or as_int(umm_attr(attrs, "BURST_INDEX"))
    if index is not None:
        burst["burst_index"] = index
    samples = as_int(raw.get("samplesPerBurst")) or as_int(umm_attr(attrs, "SAMPLES_PER_BURST"))
    if samples is not None:
        burst["samples_per_burst"] = samples
    if (lines := as_int(umm_attr(attrs, "LINES_PER_BURST"))) is not None:
        burst["lines_per_burst"] = lines
    az = parse_time(raw.get("azimuthTime")) or parse_time(umm_attr(attrs, "AZIMUTH_TIME"))
    if az is not None:
        burst["azimuth_time"] = format_rfc3339(az)
    anx = as_num(raw.get("azimuthAnxTime")) or as_num(umm_attr(attrs, "AZIMUTH_ANX_TIME"))
    if anx is not None:
        burst["azimuth_anx_time"] = float(anx)
    return burst


def _input_granules(feature: Mapping[str, Any], props: Mapping[str, Any]) -> list[str]:
    """Source scene names, without CMR's ``-SLC`` style suffix."""
    names = props.get("inputGranules")
    if not isinstance(names, list) or not names:
        names = (feature.get("umm") or {}).get("InputGranules") or []
    out: list[str] = []
    for name in names:
        name = clean(name)
        if not name:
            continue
        text = re.sub(r"-(SLC|GRD_HD|GRD_HS|RAW)$", "", str(name))
        if text not in out:
            out.append(text)
    return out


def _extra_asset_key(href: str, item_id: str) -> tuple[str, list[str]]:
    """Asset key and roles for an ``additionalUrls`` entry.

    OPERA files are ``<id>_VV.tif``, ``<id>_mask.tif``, ``<id>.h5``, ``<id>.iso.xml``: the
    part after the id names the asset. Burst ``<n>.xml`` is the burst's annotation.
    """
    name = href.rsplit("/", 1)[-1]
    rest = name[len(item_id) :] if name.startswith(item_id) else ""
    if rest.startswith("_"):
        key = rest[1:].split(".", 1)[0]
    elif rest.startswith("."):
        key = rest[1:].replace(".", "-")
    else:
        key = "metadata" if name.lower().endswith(".xml") else name.rsplit(".", 1)[0]
    roles = ["metadata"] if name.lower().endswith((".xml", ".h5")) else ["data"]
    return key, roles


def _geometry(value: Any, item_id: str) -> tuple[_Json, list[float]]:
    """Closed, valid GeoJSON geometry and its bbox, by the crosswalk's one footprint rule
    (:func:`~gep.io.crosswalk.footprint.normalise_footprint`) with ASF's width bound: a
    footprint wider than any SAR swath however it is read is a broken record (CMR holds bogus
    antimeridian "splits" of footprints near the Greenwich meridian); it would match every
    search at its latitude. Rings the record leaves open are closed first.
    """
    if not isinstance(value, Mapping) or "coordinates" not in value:
        raise ValueError(f"ASF record {item_id}: no GeoJSON geometry")
    geom = {"type": value["type"], "coordinates": _close_rings(value["type"], value["coordinates"])}
    try:
        return normalise_footprint(shape(geom), max_width_km=MAX_WIDTH_KM)
    except ValueError as exc:
        raise ValueError(f"ASF record {item_id}: {exc}") from None


def _close_rings(kind: str, coords: Any) -> Any:
    """Copy coordinates as lists, closing any ring whose last point is not its first."""

    def ring(r: Any) -> list[list[float]]:
        pts = [[float(c) for c in p] for p in r]
        if pts and pts[0] != pts[-1]:
            pts.append(list(pts[0]))
        return pts

    if kind == "Polygon":
        return [ring(r) for r in coords]
    if kind == "MultiPolygon":
        return [[ring(r) for r in poly] for poly in coords]
    return json_lists(coords)

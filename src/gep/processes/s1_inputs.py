"""Sentinel-1 IW SLC products (SAFE zips or folders) as inputs of the SAR services.

A SAFE item (:func:`gep.io.sentinel1_stac.safe_item`: harvested, uploaded or mirrored) carries
the manifest's facts only — track, pass, polarisations, sub-swaths, times, footprint — not a
processing geometry the way a GEP SLC item does. So the pair is checked from those facts
before a job exists (:func:`check_safe_pair`), and its bursts, orbits and baselines are read
from the products when the job runs (:func:`load_safe_pair`), only the windows over the area.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shapely.geometry.base import BaseGeometry

from gep.algorithms.sar.geometry import Dem
from gep.algorithms.sar.pair import PairBaseline, check_pair
from gep.algorithms.sar.tops_chain import BurstPair, BurstPlan, plan_burst_pairs
from gep.core.errors import InvalidInput
from gep.core.sar import TopsBurst
from gep.io.ranged import RangedFile
from gep.io.sentinel1_stac import SAFE_FOLDER, ZIP
from gep.io.slc_product import COLLECTION as SLC_COLLECTION
from gep.processes.sar_common import check_area, check_order, stage_dem

if TYPE_CHECKING:
    from gep.processes.base import ProcessContext
    from gep.processes.sar_common import PairInputs

#: the asset of a SAFE item (:func:`gep.io.sentinel1_stac.safe_item`)
PRODUCT_ASSET = "product"
SAFE_TYPES = (ZIP, SAFE_FOLDER)
#: the collection searched for orbit files (items with an ``.EOF`` asset, their validity as
#: start/end_datetime) when a job asks for ``orbit: precise``
ORBIT_COLLECTION = "sentinel-1-orbits"
ROLES = ("reference", "secondary")
ACCEPTED = (
    f"items of the '{SLC_COLLECTION}' collection, or Sentinel-1 IW SLC SAFE products (an asset "
    f"'{PRODUCT_ASSET}' of type {ZIP} or {SAFE_FOLDER}, as harvested or uploaded)"
)


def is_safe_item(item: dict[str, Any]) -> bool:
    """Whether ``item``'s asset ``product`` is a SAFE zip or folder (by type, else by name)."""
    asset = (item.get("assets") or {}).get(PRODUCT_ASSET)
    if not isinstance(asset, dict):
        return False
    kind = str(asset.get("type") or "").split(";")[0].strip().lower()
    if kind:
        return kind in SAFE_TYPES
    href = str(asset.get("href") or "").rstrip("/").lower()
    return href.endswith((".zip", ".safe"))


def is_slc_item(item: dict[str, Any]) -> bool:
    """Whether ``item`` is a GEP SLC product (its whole geometry in ``gep:swath_geometry``)."""
    return isinstance((item.get("properties") or {}).get("gep:swath_geometry"), dict)


def pair_kind(items: dict[str, dict[str, Any]]) -> Literal["safe", "gep-slc"]:
    """Which of the two kinds of pair ``items`` (reference, secondary) is; 400 otherwise."""
    kinds: dict[str, str] = {}
    for role in ROLES:
        item = items[role]
        if is_safe_item(item):
            kinds[role] = "safe"
        elif is_slc_item(item):
            kinds[role] = "gep-slc"
        else:
            raise InvalidInput(
                f"inputs.{role}: item '{item.get('id')}' is not a GEP SLC product (no "
                f"gep:swath_geometry) nor a Sentinel-1 SAFE product; use {ACCEPTED}",
                field=f"inputs.{role}",
            )
    if kinds["reference"] != kinds["secondary"]:
        name = {"safe": "a Sentinel-1 SAFE product", "gep-slc": "a GEP SLC product"}
        raise InvalidInput(
            f"inputs.secondary: the reference is {name[kinds['reference']]} and the secondary "
            f"{name[kinds['secondary']]}; a pair is two GEP SLC products ('{SLC_COLLECTION}') "
            "or two Sentinel-1 SAFE products",
            field="inputs.secondary",
        )
    return "safe" if kinds["reference"] == "safe" else "gep-slc"


# -- preflight: from the catalogue items alone --------------------------------------------------


@dataclass(frozen=True)
class SafePair:
    """What the checks of a SAFE pair decided: the polarisation, and the area to process."""

    polarisation: str
    area: BaseGeometry
    swaths: tuple[str, ...]
    temporal_days: float


def _props(item: dict[str, Any]) -> dict[str, Any]:
    return dict(item.get("properties") or {})


def _check_iw_slc(role: str, item: dict[str, Any]) -> None:
    p = _props(item)
    mode, kind = p.get("sar:instrument_mode"), p.get("sar:product_type")
    if mode != "IW" or kind != "SLC":
        raise InvalidInput(
            f"inputs.{role}: item '{item.get('id')}' is a Sentinel-1 {mode or '?'} {kind or '?'} "
            "product; the SAR services take IW SLC products (sar:instrument_mode IW, "
            "sar:product_type SLC)",
            field=f"inputs.{role}",
        )


def _same(what: str, key: str, ref: dict[str, Any], sec: dict[str, Any], hint: str) -> None:
    a, b = _props(ref).get(key), _props(sec).get(key)
    if a != b:
        raise InvalidInput(
            f"inputs.secondary: the reference '{ref.get('id')}' is on {what} {a} and the "
            f"secondary '{sec.get('id')}' on {what} {b}; an interferogram needs two "
            f"acquisitions of one track: {hint}",
            field="inputs.secondary",
        )


def choose_polarisation(
    wanted: str | None, reference: dict[str, Any], secondary: dict[str, Any]
) -> str:
    """The polarisation to process: ``wanted`` if both have it, else VV if both have it,
    else the first (in the reference's order) they share."""
    ref_pols = list(_props(reference).get("sar:polarizations") or [])
    sec_pols = list(_props(secondary).get("sar:polarizations") or [])
    if not ref_pols or not sec_pols:  # not catalogued: the products are asked at job time
        known = ref_pols or sec_pols
        return wanted or ("VV" if not known or "VV" in known else known[0])
    common = [p for p in ref_pols if p in sec_pols]
    if wanted is not None and wanted not in common:
        raise InvalidInput(
            f"inputs.polarisation {wanted}: the reference has {', '.join(ref_pols)} and the "
            f"secondary {', '.join(sec_pols)}; "
            + (f"choose {' or '.join(common)}" if common else "they share no polarisation"),
            field="inputs.polarisation",
        )
    if not common:
        raise InvalidInput(
            f"inputs.secondary: the reference has polarisations {', '.join(ref_pols)} and the "
            f"secondary {', '.join(sec_pols)}: no common polarisation to interfere; choose a "
            f"secondary with {' or '.join(ref_pols)}",
            field="inputs.secondary",
        )
    return wanted or ("VV" if "VV" in common else common[0])


def _start(item: dict[str, Any], role: str) -> datetime:
    p = _props(item)
    text = p.get("start_datetime") or p.get("datetime")
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"inputs.{role}: item '{item.get('id')}' has no acquisition time "
            "(start_datetime or datetime)",
            field=f"inputs.{role}",
        ) from None


def acquisition_day(item: dict[str, Any]) -> str:
    """A SAFE product's acquisition date (UTC), as dinsar tags its interferograms."""
    return _start(item, "reference").date().isoformat()


def _swaths(ref: dict[str, Any], sec: dict[str, Any]) -> tuple[str, ...]:
    a = list(_props(ref).get("s1:swaths") or [])
    b = list(_props(sec).get("s1:swaths") or [])
    if a and b:
        common = tuple(s for s in a if s in b)
        if not common:
            raise InvalidInput(
                f"inputs.secondary: the reference has sub-swaths {', '.join(a)} and the "
                f"secondary {', '.join(b)}: none in common",
                field="inputs.secondary",
            )
        return common
    return tuple(a or b)


def check_safe_pair(inputs: PairInputs, items: dict[str, dict[str, Any]]) -> SafePair:
    """Every check a pair of Sentinel-1 SAFE items can fail before a job exists.

    Both IW SLC, one track (relative orbit and pass), a common polarisation (``inputs``'s if
    given), the secondary later, the footprints overlapping, the aoi over the overlap and the
    DEM over the area (the last three shared with GEP SLC pairs: ``check_area``).
    """
    ref, sec = items["reference"], items["secondary"]
    for role in ROLES:
        _check_iw_slc(role, items[role])
    ref = _with_slices(ref, "reference", slice_items(items, "reference"))
    sec = _with_slices(sec, "secondary", slice_items(items, "secondary"))
    ref_track = _props(ref).get("sat:relative_orbit")
    _same("track", "sat:relative_orbit", ref, sec, f"choose a secondary of track {ref_track}")
    _same("pass", "sat:orbit_state", ref, sec, "choose a secondary of the same pass")
    polarisation = choose_polarisation(inputs.polarisation, ref, sec)
    swaths = _swaths(ref, sec)
    if inputs.coherence_window is not None:
        raise InvalidInput(
            "inputs.coherence_window is not available for Sentinel-1 SAFE pairs yet (their "
            "coherence is estimated over each looks window); leave it out",
            field="inputs.coherence_window",
        )
    days = (_start(sec, "secondary") - _start(ref, "reference")).total_seconds() / 86400.0
    check_order(days)
    area = check_area(inputs, ref, sec, items.get("dem"))
    return SafePair(polarisation, area, swaths, days)


def slice_items(items: dict[str, dict[str, Any]], role: str) -> list[tuple[str, dict[str, Any]]]:
    """The items of ``<role>_slices`` (by their place in the inputs: ``<role>_slices[k]``)."""
    prefix = f"{role}_slices["
    return sorted(((k, v) for k, v in items.items() if k.startswith(prefix)), key=lambda kv: kv[0])


#: how far apart two slices of one data take may start (a take lasts up to ~25 minutes)
MAX_SLICE_GAP_S = 30 * 60


def _with_slices(
    item: dict[str, Any], role: str, slices: Sequence[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    """``item`` with its slices' footprints added, once each slice is shown to be of the same
    pass: a SAFE IW SLC of the same track, pass and data take, minutes apart."""
    if not slices:
        return item
    from shapely.geometry import mapping, shape
    from shapely.ops import unary_union

    start = _start(item, role)
    take = _props(item).get("s1:datatake_id")
    for path, other in slices:
        where = f"inputs.{path}"
        if not is_safe_item(other):
            raise InvalidInput(
                f"{where}: not a Sentinel-1 SAFE product; use {ACCEPTED}", field=where
            )
        _check_iw_slc(path, other)
        for key, what in (("sat:relative_orbit", "track"), ("sat:orbit_state", "pass")):
            if _props(other).get(key) != _props(item).get(key):
                raise InvalidInput(
                    f"{where}: '{other.get('id')}' is on {what} {_props(other).get(key)}, the "
                    f"{role} on {_props(item).get(key)}: slices continue one pass",
                    field=where,
                )
        other_take = _props(other).get("s1:datatake_id")
        gap = abs((_start(other, path) - start).total_seconds())
        if (take and other_take and take != other_take) or gap > MAX_SLICE_GAP_S:
            raise InvalidInput(
                f"{where}: '{other.get('id')}' is not a slice of the {role}'s data take "
                f"(data take {other_take} against {take}, {gap / 60:.0f} minutes apart)",
                field=where,
            )
    footprint = unary_union([shape(item["geometry"])] + [shape(o["geometry"]) for _, o in slices])
    return {**item, "geometry": mapping(footprint)}


# -- job time: the products' bursts over the area -----------------------------------------------


@dataclass
class SafePairInfo:
    """What loading a SAFE pair found, for the job's log and outputs."""

    polarisation: str
    area: BaseGeometry
    baseline: PairBaseline
    #: the orbits the bursts were given: "annotation", or "precise" (the catalogue's orbit
    #: files; which kinds, POEORB or RESORB, is in the job's log)
    orbit: str
    #: bytes read from each product's measurement files, by product name
    bytes_read: dict[str, int] = field(default_factory=dict)
    plans: list[BurstPlan] = field(default_factory=list)

    @property
    def total_bytes_read(self) -> int:
        return sum(self.bytes_read.values())


def _name(item: dict[str, Any], path: Path | None) -> str:
    return str(item.get("id") or (path.name if path else "?"))


def _failure(role: str, product: str, what: str, exc: Exception) -> InvalidInput:
    reason = exc.message if isinstance(exc, InvalidInput) else f"{type(exc).__name__}: {exc}"
    return InvalidInput(f"inputs.{role}: {product}: {what}: {reason}", field=f"inputs.{role}")


#: what a damaged or incomplete product raises while it is read
_READ_ERRORS = (InvalidInput, OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError)


def orbit_files_for(ctx: ProcessContext, item: dict[str, Any], role: str) -> list[Path]:
    """The catalogue's orbit files (:data:`ORBIT_COLLECTION`) for one acquisition, staged;
    a clear failure naming the product when none covers it."""
    from gep.io.orbit_files import read_orbit_file, select_orbit

    p = _props(item)
    start, stop = p.get("start_datetime") or p.get("datetime"), p.get("end_datetime")
    mission = "S1" + str(p.get("platform", "sentinel-1?"))[-1:].upper()
    found = ctx.search(
        {"collections": [ORBIT_COLLECTION], "datetime": f"{start}/{stop or start}"}, limit=50
    )
    paths: list[Path] = []
    for orbit_item in found:
        assets = orbit_item.get("assets") or {}
        key = next(
            (k for k, a in assets.items() if str(a.get("href", "")).upper().endswith(".EOF")),
            next(iter(assets), None),
        )
        if key is None:
            continue
        _, path = ctx.stage(f"{orbit_item.get('collection')}/{orbit_item.get('id')}", key)
        if path is not None:
            paths.append(path)
    product = str(item.get("id"))
    if not paths:
        raise InvalidInput(
            f"inputs.orbit: no orbit file of the '{ORBIT_COLLECTION}' collection covers "
            f"{product} ({start} .. {stop}); add its POEORB/RESORB file or use orbit "
            "'annotation'",
            field="inputs.orbit",
        )
    try:
        select_orbit(paths, str(start).rstrip("Z"), str(stop or start).rstrip("Z"), mission)
        parsed = [read_orbit_file(path) for path in paths]
    except InvalidInput as exc:
        raise InvalidInput(f"inputs.orbit: {product}: {exc.message}", field="inputs.orbit") from exc
    mine = [f for f in parsed if f.mission == mission]  # another satellite's orbit looks valid
    kinds = sorted({f.kind for f in mine})
    ctx.logger.info("%s %s: orbit files %s", role, product, ", ".join(kinds))
    return [f.path for f in mine]


def product_bursts(
    product: Path,
    name: str,
    role: str,
    swaths: Sequence[str],
    polarisation: str,
    orbit_files: Sequence[Path] = (),
) -> list[TopsBurst]:
    """Every burst of the sub-swaths ``swaths`` (all when empty) of one product that have
    ``polarisation``; a failure naming the product and what it has otherwise."""
    from gep.io.sentinel1 import list_swaths
    from gep.io.sentinel1_bursts import tops_bursts

    try:
        present = list_swaths(product)
    except _READ_ERRORS as exc:
        raise _failure(role, name, "not a readable SAFE product", exc) from exc
    usable = [s for s, p in present if p == polarisation and (not swaths or s in swaths)]
    if not usable:
        have = ", ".join(f"{s}/{p}" for s, p in present) or "none"
        raise InvalidInput(
            f"inputs.{role}: {name} has no {polarisation} sub-swath "
            f"{'among ' + ', '.join(swaths) + ' ' if swaths else ''}(it has: {have})",
            field=f"inputs.{role}",
        )
    out: list[TopsBurst] = []
    for swath in usable:
        try:
            out += tops_bursts(product, swath, polarisation, orbit_files=orbit_files)
        except _READ_ERRORS as exc:
            raise _failure(role, name, f"bursts of {swath}/{polarisation}", exc) from exc
    return out


def _read(
    product: Path | RangedFile,
    name: str,
    role: str,
    burst: TopsBurst,
    window: tuple[int, int, int, int],
    counter: Any,
) -> Any:
    from gep.io.sentinel1_bursts import read_burst

    try:
        return read_burst(product, burst, window=window, counter=counter)
    except _READ_ERRORS as exc:
        what = f"burst {burst.burst_id or burst.index} of {burst.geometry.swath}"
        raise _failure(role, name, what, exc) from exc


def load_safe_pair(
    ctx: ProcessContext, inputs: PairInputs
) -> tuple[list[BurstPair], Dem | float, SafePairInfo]:
    """Stage both products (and the DEM, and orbit files for ``orbit: precise``), check the
    pair again, plan the bursts over the area and read only their windows.

    Every failure (a truncated zip, a missing measurement, no burst over the area) is an
    :class:`InvalidInput` naming the product, which fails the job with that message.
    """
    with tempfile.TemporaryDirectory(prefix="gep-safe-") as scratch:
        return _load_safe_pair(ctx, inputs, Path(scratch))


def _open_product_asset(
    ctx: ProcessContext, ref: Any, key: str, scratch: Path, counter: Any
) -> tuple[dict[str, Any], Path, Path | RangedFile, bool]:
    """(item, what the annotations are read from, what the pixels are read from, whether the
    bytes read are to be counted by the caller): a product read where it lies — a local path,
    or a zip of GEP's storage whose manifest and annotations are fetched by ranges — or, for
    an HTTP(S) asset, staged whole by the gateway (which counts it)."""
    from gep.io.sentinel1_bursts import extract_metadata

    item, where = ctx.open_ranged(ref, PRODUCT_ASSET)
    if where is None:
        item, staged = ctx.stage(ref, PRODUCT_ASSET)
        assert staged is not None
        return item, staged, staged, False
    if isinstance(where, RangedFile):
        try:
            meta = extract_metadata(
                where, scratch / key.replace("[", "_").replace("]", ""), counter
            )
        except _READ_ERRORS as exc:
            raise _failure(key, where.name, "not a readable SAFE zip", exc) from exc
        return item, meta, where, True
    return item, where, where, True


def _load_safe_pair(
    ctx: ProcessContext, inputs: PairInputs, scratch: Path
) -> tuple[list[BurstPair], Dem | float, SafePairInfo]:
    from gep.io.sentinel1_bursts import ByteCounter

    items: dict[str, dict[str, Any]] = {}
    paths: dict[str, Path] = {}
    pixels: dict[str, Path | RangedFile] = {}
    refs: dict[str, Any] = {}
    counted: dict[str, bool] = {}
    counters: dict[str, Any] = {}
    for role in ROLES:
        keyed = [(role, getattr(inputs, role))] + [
            (f"{role}_slices[{k}]", ref)
            for k, ref in enumerate(getattr(inputs, f"{role}_slices") or [])
        ]
        for key, ref in keyed:
            counters[key] = ByteCounter()
            items[key], paths[key], pixels[key], counted[key] = _open_product_asset(
                ctx, ref, key, scratch, counters[key]
            )
            refs[key] = ref
    dem = stage_dem(ctx, inputs, items)
    checked = check_safe_pair(inputs, items)
    names = {key: _name(items[key], paths[key]) for key in items if key in paths}
    bursts: dict[str, list[TopsBurst]] = {}
    #: which product (inputs key) each burst was read from
    source: dict[int, str] = {}
    orbit = "annotation"
    for role in ROLES:
        bursts[role] = []
        for key in [role, *(k for k, _ in slice_items(items, role))]:
            orbit_files: list[Path] = []
            if inputs.orbit == "precise":
                orbit_files = orbit_files_for(ctx, items[key], key)
                orbit = "precise"
            found = product_bursts(
                paths[key], names[key], key, checked.swaths, checked.polarisation, orbit_files
            )
            source.update({id(b): key for b in found})
            bursts[role] += found
            ctx.logger.info(
                "%s %s: %d bursts (%s, %s)", key, names[key], len(found),
                "/".join(sorted({b.geometry.swath for b in found})), checked.polarisation,
            )  # fmt: skip
    try:
        plans = plan_burst_pairs(bursts["reference"], bursts["secondary"], checked.area, dem)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{names['reference']} → {names['secondary']}: {exc.message}", field=exc.field
        ) from exc
    first = plans[0]
    try:
        baseline = check_pair(first.reference.geometry, first.secondary.geometry)
    except InvalidInput as exc:
        raise InvalidInput(f"inputs.secondary: {exc.message}", field="inputs.secondary") from exc
    check_order(baseline.temporal_days)
    pairs: list[BurstPair] = []
    for plan in plans:
        data = []
        for burst, window in (
            (plan.reference, plan.reference_window),
            (plan.secondary, plan.secondary_window),
        ):
            key = source[id(burst)]
            data.append(_read(pixels[key], names[key], key, burst, window, counters[key]))
        pairs.append(BurstPair(plan, data[0], data[1]))
    read = {names[key]: counters[key].bytes for key in paths}
    for key, ref in refs.items():  # what was read where it lies (a staged copy counted itself)
        if counted[key]:
            ctx.count_read(ref, PRODUCT_ASSET, counters[key].bytes)
    info = SafePairInfo(checked.polarisation, checked.area, baseline, orbit, read, plans)
    for product, n in read.items():
        ctx.logger.info("read %d bytes (%.1f MiB) of %s", n, n / 2**20, product)
    ctx.logger.info(
        "%d burst pair(s), %s; %d bytes read in total", len(plans), checked.polarisation,
        info.total_bytes_read,
    )  # fmt: skip
    return pairs, dem, info

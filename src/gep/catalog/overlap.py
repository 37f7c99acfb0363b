"""How much of a footprint each of many candidate footprints covers, as GEOS would say.

Pair search asks this of every candidate a track query returns: hundreds per search on a large
catalogue, most of them the neighbouring frames of the track, which touch the footprint and
overlap it by a few percent. GEOS's ``intersection`` costs some 25 µs a pair on this machine;
clipping convex rings against the (convex) footprint in numpy, all candidates at once, costs a
few µs for the lot. The clipped areas agree with GEOS to ~1e-12 of the footprint's area, so
GEOS is asked only where that could matter: for a figure within ``GUARD`` of ``min_overlap`` or
of a rounding boundary of the printed four decimals, and for every geometry the fast path does
not cover (holes, multi-polygons, non-convex rings or footprints, tiny footprints).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

F64 = NDArray[np.float64]

#: decimals the overlap is reported with
DECIMALS = 4
#: a clipped figure this close (in fractions of the footprint) to ``min_overlap`` or to a
#: rounding boundary is recomputed with GEOS; the two differ by ~1e-12 at most (double
#: precision on coordinates of a few degrees around the footprint's centre)
GUARD = 1e-9
#: footprints smaller than this (deg²) are left to GEOS: the clipping's error is absolute
CLIP_MIN_AREA = 1e-2
#: a bounding-box bound this far below ``min_overlap`` rules a candidate out (GEOS path)
BOUND_MARGIN = 1e-6


def overlap_fractions(
    footprint: BaseGeometry, geometries: Sequence[Any], min_overlap: float
) -> F64:
    """Each GeoJSON geometry's overlap with ``footprint`` as a fraction of the footprint's
    area, equal to ``footprint.intersection(shape(g)).area / footprint.area`` at
    ``DECIMALS`` and on either side of ``min_overlap``; NaN for one that certainly overlaps
    less than ``min_overlap`` (ask :func:`overlap_fraction` for its figure).

    A footprint without area overlaps nothing: every fraction is 0.
    """
    area = footprint.area
    n = len(geometries)
    if not n or not area:
        return np.zeros(n)
    out = np.full(n, np.nan)
    todo = np.ones(n, dtype=bool)  # left to GEOS
    clip = _convex_ring(footprint) if area >= CLIP_MIN_AREA else None
    if clip is not None:
        for group, ring in _single_rings(geometries):
            closed = np.all(ring[:, 0] == ring[:, -1], axis=1)
            for rows, xy in ((group[closed], ring[closed, :-1]), (group[~closed], ring[~closed])):
                convex = _is_convex(xy)
                todo[_decide(clip, rows[convex], xy[convex], area, min_overlap, out)] = False
    rest = np.flatnonzero(todo)
    if rest.size:
        out[rest] = _geos_fractions(footprint, [geometries[j] for j in rest.tolist()], min_overlap)
    return out


def _decide(
    clip: F64, rows: NDArray[np.intp], xy: F64, area: float, min_overlap: float, out: F64
) -> NDArray[np.intp]:
    """Clip the open convex rings ``xy`` and write to ``out[rows]`` the figures that are safe
    (NaN: below ``min_overlap``); returns the rows written."""
    est = _clipped_areas(clip, xy) / area
    below, above = settled(est, min_overlap)
    out[rows[above]] = est[above]
    return rows[below | above]


def settled(est: F64, min_overlap: float) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which clipped figures are certainly below ``min_overlap``, and which certainly above
    it and far enough from a rounding boundary to print as GEOS's would; the rest go to GEOS."""
    below = est < min_overlap - GUARD
    scaled = est * 10.0**DECIMALS
    far_from_rounding = np.abs(scaled - np.floor(scaled) - 0.5) > GUARD * 10.0**DECIMALS
    above = (est >= min_overlap + GUARD) & far_from_rounding
    return below, above


def overlap_fraction(footprint: BaseGeometry, geometry: Any) -> float:
    """One exact (GEOS) fraction, as :func:`overlap_fractions` would give it."""
    area = footprint.area
    return footprint.intersection(shape(geometry)).area / area if area else 0.0


def _geos_fractions(footprint: BaseGeometry, geometries: Sequence[Any], min_overlap: float) -> F64:
    """GEOS's figures in one vectorised call, for those whose bounding boxes do not rule them
    out (the intersection lies inside both boxes, so the boxes' common area bounds it)."""
    area = footprint.area
    shapes = _polygons(geometries)
    w, s, e, n = footprint.bounds
    b = shapely.bounds(shapes)
    dx = np.minimum(b[:, 2], e) - np.maximum(b[:, 0], w)
    dy = np.minimum(b[:, 3], n) - np.maximum(b[:, 1], s)
    bound = np.maximum(dx, 0.0) * np.maximum(dy, 0.0) / area
    need = ~(bound < min_overlap - BOUND_MARGIN)  # a NaN bound (empty geometry) is no bound
    out = np.full(len(shapes), np.nan)
    out[need] = shapely.area(shapely.intersection(footprint, shapes[need])) / area
    return out


def _polygons(geometries: Sequence[Any]) -> NDArray[np.object_]:
    """``shape(g)`` of each GeoJSON geometry; single-ring polygons built in one call per vertex
    count (the same coordinates into the same GEOS geometry)."""
    out = np.empty(len(geometries), dtype=object)
    done = np.zeros(len(geometries), dtype=bool)
    for group, xy in _single_rings(geometries, dims=(2, 3)):
        out[group] = shapely.polygons(xy)
        done[group] = True
    for j in np.flatnonzero(~done).tolist():  # whatever shape() makes of the rest, or its error
        out[j] = shape(geometries[j])
    return out


def _single_rings(
    geometries: Sequence[Any], dims: tuple[int, ...] = (2,)
) -> Iterator[tuple[NDArray[np.intp], F64]]:
    """(indices, (k, m, d) coordinates) of the polygons without holes, by vertex count ``m``;
    ``dims`` (2, 3) keeps Z, (2,) drops it (areas ignore it) and takes 3D rings too."""
    groups: dict[int, list[int]] = {}
    for j, g in enumerate(geometries):
        if type(g) is not dict or g.get("type") != "Polygon":  # parsed JSON; others: shape()
            continue
        coords = g.get("coordinates")
        if (
            isinstance(coords, list)
            and len(coords) == 1
            and isinstance(coords[0], list)
            and len(coords[0]) >= 4
        ):
            groups.setdefault(len(coords[0]), []).append(j)
    for group in groups.values():
        try:
            xy = np.array([geometries[j]["coordinates"][0] for j in group], dtype="float64")
        except (ValueError, TypeError):  # ragged or not numbers: left to shape()
            continue
        if xy.ndim != 3 or xy.shape[2] not in (2, 3):
            continue
        if dims == (2,):
            xy = xy[..., :2]
        elif xy.shape[2] not in dims:
            continue
        yield np.asarray(group, dtype=np.intp), xy


def _is_convex(rings: F64) -> NDArray[np.bool_]:
    """Open rings (k, m, 2) that bound a convex polygon: every turn the same way (collinear
    points allowed) and one turn around in all (a star, or a repeated point, is refused)."""
    e = np.roll(rings, -1, axis=1) - rings
    e_next = np.roll(e, -1, axis=1)
    cross = e[..., 0] * e_next[..., 1] - e[..., 1] * e_next[..., 0]
    dot = np.einsum("kmi,kmi->km", e, e_next)
    turning = np.arctan2(cross, dot).sum(axis=1)
    one_way = np.all(cross >= 0, axis=1) | np.all(cross <= 0, axis=1)
    return np.asarray(one_way & (np.abs(np.abs(turning) - 2 * np.pi) < 1e-6))


def _convex_ring(footprint: BaseGeometry) -> F64 | None:
    """The footprint's ring, anticlockwise and open, when it is one convex polygon."""
    if footprint.geom_type != "Polygon" or len(footprint.interiors):
        return None
    ring = np.asarray(footprint.exterior.coords, dtype="float64")[:-1, :2]
    if len(ring) < 3 or not _is_convex(ring[None])[0]:
        return None
    x, y = ring[:, 0], ring[:, 1]
    signed = np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    return ring if signed > 0 else ring[::-1].copy()


def _clipped_areas(clip: F64, rings: F64) -> F64:
    """Area of each ring (k, m, 2) clipped to the convex anticlockwise ring ``clip`` (c, 2):
    Sutherland-Hodgman, all rings at once, one half-plane of ``clip`` at a time.

    A clipped ring is kept as its first ``count`` vertices followed by copies of its first
    vertex, which add nothing to the shoelace sum and close the ring for the next half-plane.
    Coordinates are taken about the clip's centre to keep the products well conditioned.
    """
    if not len(rings):
        return np.zeros(0)
    origin = clip.mean(axis=0)
    corners = clip - origin
    p = rings - origin
    valid = np.ones(p.shape[:2], dtype=bool)
    k = len(p)
    for i in range(len(corners)):
        a, b = corners[i], corners[(i + 1) % len(corners)]
        side = (b[0] - a[0]) * (p[..., 1] - a[1]) - (b[1] - a[1]) * (p[..., 0] - a[0])
        inside = side >= 0
        nxt_p, nxt_side = np.roll(p, -1, axis=1), np.roll(side, -1, axis=1)
        crosses = valid & (inside != (nxt_side >= 0))
        # where an edge crosses the line; clipped to the edge so that an edge running along
        # the line (both sides ~0) gives a point on it
        t = np.clip(side / np.where(crosses, side - nxt_side, 1.0), 0.0, 1.0)
        q = p + t[..., None] * (nxt_p - p)
        pts = np.stack([p, q], axis=2).reshape(k, -1, 2)
        keep = np.stack([inside & valid, crosses], axis=2).reshape(k, -1)
        order = np.argsort(~keep, axis=1, kind="stable")
        count = int(keep.sum(axis=1).max(initial=0))
        order = order[:, : max(count, 1)]
        pts = np.take_along_axis(pts, order[..., None], axis=1)
        valid = np.take_along_axis(keep, order, axis=1)
        p = np.where(valid[..., None], pts, pts[:, :1])
    x, y = p[..., 0], p[..., 1]
    return np.asarray(
        0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))
    )

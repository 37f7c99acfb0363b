"""Bounding boxes as STAC and OGC API - Features define them.

A bbox whose west edge is greater than its east edge crosses the antimeridian; it is valid and is
split into two boxes for querying. 3-D boxes (six numbers) are accepted and their height ignored,
because spatial indexes here are 2-D.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gep.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Bbox:
    west: float
    south: float
    east: float
    north: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west > self.east

    def parts(self) -> list[tuple[float, float, float, float]]:
        """The box as one or two non-wrapping (minx, miny, maxx, maxy) boxes."""
        if self.crosses_antimeridian:
            return [
                (self.west, self.south, 180.0, self.north),
                (-180.0, self.south, self.east, self.north),
            ]
        return [(self.west, self.south, self.east, self.north)]

    def as_list(self) -> list[float]:
        return [self.west, self.south, self.east, self.north]


def parse_bbox(value: str | Sequence[float | int | str], field: str = "bbox") -> Bbox:
    """Parse ``"w,s,e,n"`` or ``"w,s,zmin,e,n,zmax"`` (string or list) into a :class:`Bbox`."""
    if isinstance(value, str):
        parts: list[str | float | int] = [p for p in value.split(",")]
    else:
        parts = list(value)
    if len(parts) not in (4, 6):
        raise InvalidInput(
            f"{field} needs 4 numbers (west,south,east,north) or 6 (with heights); "
            f"got {len(parts)}",
            field=field,
        )
    try:
        nums = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be numbers separated by commas", field=field) from None
    if any(n != n or n in (float("inf"), float("-inf")) for n in nums):
        raise InvalidInput(f"{field} values must be finite numbers", field=field)
    if len(nums) == 6:
        w, s, zmin, e, n, zmax = nums
        if zmin > zmax:
            raise InvalidInput(
                f"{field}: minimum height {zmin} exceeds maximum {zmax}", field=field
            )
    else:
        w, s, e, n = nums
    for name, lon in (("west", w), ("east", e)):
        if not -180.0 <= lon <= 180.0:
            raise InvalidInput(
                f"{field}: {name} longitude {lon} is outside [-180, 180]", field=field
            )
    for name, lat in (("south", s), ("north", n)):
        if not -90.0 <= lat <= 90.0:
            raise InvalidInput(f"{field}: {name} latitude {lat} is outside [-90, 90]", field=field)
    if s > n:
        raise InvalidInput(
            f"{field}: south ({s}) is greater than north ({n}); a bbox is west,south,east,north",
            field=field,
        )
    return Bbox(w, s, e, n)

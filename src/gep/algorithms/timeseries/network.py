"""The interferogram network of a small-baseline stack: dates, pairs, design matrices.

The inversion solves for the mean velocity of each interval between consecutive acquisitions
(Berardino et al. 2002): an interferogram spanning dates i → j is the sum of the interval
velocities from i to j times their durations. Written this way, a network split into
disconnected subsets still has a unique *minimum-norm* solution (the SVD pseudo-inverse),
which keeps the velocity continuous across the gaps instead of letting the subsets jump
against each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from gep.core.errors import InvalidInput

F64 = NDArray[np.float64]
#: days in a year for velocities (Julian year, as MintPy's decimal years use)
YEAR_DAYS = 365.25

DateLike = date | datetime | str | np.datetime64


def as_day(value: DateLike) -> np.datetime64:
    """A calendar day (``datetime64[D]``); times of day are dropped: an SBAS stack has one
    acquisition a day per track."""
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]")
    if isinstance(value, datetime):
        return np.datetime64(value.date(), "D")
    if isinstance(value, date):
        return np.datetime64(value, "D")
    text = str(value).strip()
    if len(text) == 8 and text.isdigit():  # 20180106
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        return np.datetime64(text[:10], "D")
    except ValueError:
        raise InvalidInput(
            f"'{value}' is not a date (YYYY-MM-DD or YYYYMMDD)", field="interferograms"
        ) from None


@dataclass(frozen=True)
class Network:
    """Acquisition dates (sorted, unique) and the interferograms as (earlier, later) indices."""

    dates: NDArray[np.datetime64]
    pairs: NDArray[np.int64]

    @classmethod
    def from_pairs(
        cls, pairs: Sequence[tuple[DateLike, DateLike]], *, field: str = "interferograms"
    ) -> Network:
        """Build and check a network from (reference date, secondary date) per interferogram.

        Refused with the reason: an interferogram whose secondary is not later than its
        reference, fewer than 3 acquisitions (no time series to speak of), the same pair twice.
        """
        days = [(as_day(a), as_day(b)) for a, b in pairs]
        for k, (a, b) in enumerate(days):
            if b <= a:
                raise InvalidInput(
                    f"{field}[{k}]: the secondary date {b} is not after the reference date {a}",
                    field=f"{field}[{k}]",
                )
        dates = np.unique(np.array([d for p in days for d in p], dtype="datetime64[D]"))
        if dates.size < 3:
            raise InvalidInput(
                f"an SBAS time series needs at least 3 acquisitions; these interferograms span "
                f"{dates.size} ({', '.join(str(d) for d in dates)})",
                field=field,
            )
        seen: dict[tuple[np.datetime64, np.datetime64], int] = {}
        for k, pair in enumerate(days):
            if pair in seen:
                raise InvalidInput(
                    f"{field}[{k}]: the pair {pair[0]}/{pair[1]} is already {field}[{seen[pair]}]",
                    field=f"{field}[{k}]",
                )
            seen[pair] = k
        index = {d: i for i, d in enumerate(dates.tolist())}
        ij = np.array([(index[a.tolist()], index[b.tolist()]) for a, b in days], dtype=np.int64)
        return cls(dates, ij)

    @property
    def n_dates(self) -> int:
        return int(self.dates.size)

    @property
    def n_ifgs(self) -> int:
        return int(self.pairs.shape[0])

    @cached_property
    def years(self) -> F64:
        """Each date in years since the first."""
        days = (self.dates - self.dates[0]).astype("timedelta64[D]").astype(np.float64)
        return days / YEAR_DAYS

    @cached_property
    def intervals(self) -> F64:
        """Durations (years) of the N − 1 intervals between consecutive dates."""
        return np.diff(self.years)

    @cached_property
    def velocity_design(self) -> F64:
        """B (M × N−1): row k has the durations of the intervals interferogram k spans, so
        B·v is the interferograms' phase for interval velocities v (Berardino et al. 2002)."""
        b = np.zeros((self.n_ifgs, self.n_dates - 1))
        for k, (i, j) in enumerate(self.pairs.tolist()):
            b[k, i:j] = self.intervals[i:j]
        return b

    @cached_property
    def displacement_design(self) -> F64:
        """A (M × N−1): +1 at the secondary, −1 at the reference, the first date's column
        removed (its displacement is zero by definition)."""
        a = np.zeros((self.n_ifgs, self.n_dates))
        rows = np.arange(self.n_ifgs)
        a[rows, self.pairs[:, 1]] = 1.0
        a[rows, self.pairs[:, 0]] = -1.0
        return a[:, 1:]

    def components(self, valid: NDArray[np.bool_] | None = None) -> list[list[int]]:
        """Date indices of each connected subset (largest first), using only the
        interferograms marked ``valid``."""
        parent = list(range(self.n_dates))

        def find(k: int) -> int:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        for k, (i, j) in enumerate(self.pairs.tolist()):
            if valid is None or valid[k]:
                parent[find(i)] = find(j)
        groups: dict[int, list[int]] = {}
        for k in range(self.n_dates):
            groups.setdefault(find(k), []).append(k)
        return sorted(groups.values(), key=len, reverse=True)

    def date_strings(self) -> list[str]:
        return [str(d) for d in self.dates]

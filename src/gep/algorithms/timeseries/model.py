"""A temporal model fitted to each pixel's displacement time series: the mean velocity.

``d(t) = c + v t [+ a cos 2πt + b sin 2πt] [+ Σ s_k H(t − t_k)] [+ (B⊥(t) / (R sin θ)) Δz]``

* ``v`` is the mean LOS velocity, reported with its standard error
  ``σ_v = sqrt(RSS / (N − p) · [(GᵀG)⁻¹]_vv)`` (ordinary least squares, residuals assumed white);
* the annual terms absorb seasonal motion (aquifers, thermal dilation), so that a partial year
  does not bias ``v``;
* the Heaviside steps absorb known events (an earthquake, an eruption);
* the last term is the residual topographic phase of a DEM error Δz (Fattahi & Amelung 2013):
  it grows with each date's perpendicular baseline, which is uncorrelated with time, so it can be
  told apart from motion and removed from the time series.

Every pixel has the same dates, so one pseudo-inverse of the design ``G`` serves them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class DemErrorGeometry:
    """What the DEM-error term needs: each date's perpendicular baseline (m, relative to any
    one date), the slant range (m) and the incidence angle (degrees) at the scene centre."""

    bperp: tuple[float, ...]
    slant_range: float
    incidence: float

    def factor(self) -> F64:
        """∂d/∂Δz of each date: B⊥ / (R sin θ)."""
        b = np.asarray(self.bperp, dtype=np.float64)
        return (b - b[0]) / (self.slant_range * np.sin(np.radians(self.incidence)))

    @classmethod
    def from_interferograms(
        cls,
        displacement_design: NDArray[np.floating],
        bperp: NDArray[np.floating] | list[float],
        slant_range: NDArray[np.floating] | list[float],
        incidence: NDArray[np.floating] | list[float],
    ) -> DemErrorGeometry:
        """The geometry from each interferogram's perpendicular baseline, slant range and
        incidence: interferograms carry baseline *differences*, so the per-date baselines are
        their least-squares fit through the network's design (the first date at 0); range and
        incidence are averaged (they vary by far less than the baselines between dates)."""
        per_ifg = np.asarray(bperp, dtype=np.float64)
        b = np.linalg.lstsq(displacement_design, per_ifg, rcond=None)[0]
        return cls(
            tuple([0.0, *b.tolist()]),
            float(np.mean(slant_range)),
            float(np.mean(incidence)),
        )


@dataclass(frozen=True)
class TemporalModel:
    """Which terms the fit has. ``steps`` are in years since the first date."""

    seasonal: bool = False
    steps: tuple[float, ...] = ()
    dem_error: DemErrorGeometry | None = None

    def design(self, years: F64) -> tuple[F64, list[str]]:
        cols = [np.ones_like(years), years]
        names = ["offset", "velocity"]
        if self.seasonal:
            cols += [np.cos(2 * np.pi * years), np.sin(2 * np.pi * years)]
            names += ["annual_cos", "annual_sin"]
        for k, t in enumerate(self.steps):
            cols.append((years >= t).astype(np.float64))
            names.append(f"step_{k}")
        if self.dem_error is not None:
            factor = self.dem_error.factor()
            if factor.size != years.size:
                raise ValueError(f"dem_error has {factor.size} baselines for {years.size} dates")
            cols.append(factor)
            names.append("dem_error")
        return np.stack(cols, axis=1), names


@dataclass
class Fit:
    """Per-pixel parameters of the model (each (P,), NaN where the series was NaN)."""

    names: list[str]
    params: dict[str, F32]
    velocity_std: F32
    design: F64 = field(repr=False)

    @property
    def velocity(self) -> F32:
        return self.params["velocity"]

    def seasonal_amplitude(self) -> F32 | None:
        if "annual_cos" not in self.params:
            return None
        return np.hypot(self.params["annual_cos"], self.params["annual_sin"]).astype(np.float32)

    def evaluate(self, columns: NDArray[np.intp] | None = None) -> F32:
        """The fitted model (N, P) at every date (for the pixels ``columns``, default all)."""
        coef = np.stack([self.params[n] for n in self.names])
        if columns is not None:
            coef = coef[:, columns]
        return (self.design @ coef).astype(np.float32)


def fit(years: F64, series: NDArray[np.floating], model: TemporalModel | None = None) -> Fit:
    """Least-squares fit of ``model`` to ``series`` (N dates × P pixels, any unit: the
    parameters come out in that unit per year)."""
    model = model or TemporalModel()
    g, names = model.design(np.asarray(years, dtype=np.float64))
    n, p = g.shape
    if n <= p:
        raise ValueError(f"{n} dates cannot fit a model of {p} terms ({', '.join(names)})")
    y = np.asarray(series, dtype=np.float64)
    finite = np.isfinite(y).all(axis=0)
    g_pinv = np.linalg.pinv(g)
    coef = np.full((p, y.shape[1]), np.nan)
    coef[:, finite] = g_pinv @ y[:, finite]
    resid = y - g @ np.nan_to_num(coef)
    rss = np.einsum("np,np->p", resid, resid)
    cov = np.linalg.pinv(g.T @ g)
    std = np.sqrt(rss / (n - p) * cov[1, 1])
    std[~finite] = np.nan
    return Fit(
        names=names,
        params={name: coef[k].astype(np.float32) for k, name in enumerate(names)},
        velocity_std=std.astype(np.float32),
        design=g,
    )

"""The peers' side of ``bench/sbas.py``: run MintPy's or dolphin's SBAS inversion on a stack
given as an ``.npz`` and write their time series, velocity and figures to another ``.npz``.

Runs inside the peer's own venv (``bench/.venv-mintpy``, ``bench/.venv-dolphin``), importing
nothing of GEP: the design matrices, the velocity fit and the per-pixel masking are the peers'
own. MintPy is called the way its ``ifgram_inversion.run_ifgram_inversion_patch`` calls it:
one ``estimate_timeseries`` for the pixels valid in every interferogram, then pixel by pixel
for the others; weighted inversion pixel by pixel.

    python sbas_peer.py MODE IN.npz OUT.npz [MODE IN.npz OUT.npz ...]

MODE is mintpy, mintpy-weighted or dolphin; several runs share one process (MintPy's imports
alone take seconds).

IN holds ``y`` (M × P phase, NaN = invalid), ``pairs`` (M × 2 date indices), ``dates``
(YYYYMMDD strings), optionally ``weight`` (M × P). OUT holds ``ts`` (N × P, radians),
``velocity`` (P, radians/yr), ``tcoh``, ``seconds``, ``peak_traced_mb``, ``peak_rss_mb``.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc

import numpy as np


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def mintpy(data: dict[str, np.ndarray], weighted: bool) -> dict[str, np.ndarray]:
    from mintpy.ifgram_inversion import estimate_timeseries
    from mintpy.objects import ifgramStack
    from mintpy.utils import time_func

    dates = [str(d) for d in data["dates"]]
    date12 = [f"{dates[i]}_{dates[j]}" for i, j in data["pairs"]]
    a, b = ifgramStack.get_design_matrix4timeseries(date12)[:2]
    years = np.array(
        [(np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}") - np.datetime64(
            f"{dates[0][:4]}-{dates[0][4:6]}-{dates[0][6:]}")).astype(int) for d in dates]
    ) / 365.25  # fmt: skip
    tbase_diff = np.diff(years).reshape(-1, 1)
    y = data["y"]
    n, p = len(dates), y.shape[1]
    ts = np.zeros((n, p), np.float32)
    tcoh = np.zeros(p, np.float32)
    kw = {"A": a, "B": b, "tbase_diff": tbase_diff, "min_norm_velocity": True, "print_msg": False}
    t0 = time.perf_counter()
    if weighted:
        wsqrt = np.sqrt(data["weight"])
        for j in range(p):
            tsi, q, _ = estimate_timeseries(y=y[:, j], weight_sqrt=wsqrt[:, j], **kw)
            ts[:, j], tcoh[j] = tsi.ravel(), q
    else:
        full = np.all(np.isfinite(y), axis=0)
        if full.any():
            tsi, q, _ = estimate_timeseries(y=y[:, full], weight_sqrt=None, **kw)
            ts[:, full], tcoh[full] = tsi, q
        for j in np.flatnonzero(~full):
            tsi, q, _ = estimate_timeseries(y=y[:, j], weight_sqrt=None, **kw)
            ts[:, j], tcoh[j] = tsi.ravel(), q
    seconds = time.perf_counter() - t0
    model = {"polynomial": 1}
    g = time_func.get_design_matrix4time_func(dates, model=model)
    velocity = np.linalg.lstsq(g, ts, rcond=None)[0][1]
    return {"ts": ts, "velocity": velocity, "tcoh": tcoh, "seconds": np.float64(seconds)}


def dolphin(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import jax
    import jax.numpy as jnp
    from dolphin import timeseries as dts

    dates = [str(d) for d in data["dates"]]
    pairs = [tuple(p) for p in data["pairs"].tolist()]
    a = dts.get_incidence_matrix(pairs, sar_idxs=list(range(len(dates))))
    y = np.nan_to_num(data["y"])  # dolphin takes every interferogram of every pixel
    m, p = y.shape
    side = int(np.sqrt(p))
    rows = p // side
    dphi = jnp.asarray(y[:, : rows * side].reshape(m, rows, side))
    ja = jnp.asarray(a)
    # unweighted (weights=None: one solve for all pixels); compiled once per shape, so warm up
    jax.block_until_ready(dts.invert_stack(ja, dphi))
    t0 = time.perf_counter()
    phase, _residuals = dts.invert_stack(ja, dphi)
    phase = jax.block_until_ready(phase)
    seconds = time.perf_counter() - t0
    ts = np.zeros((len(dates), p), np.float32)
    ts[1:, : rows * side] = np.asarray(phase).reshape(len(dates) - 1, -1)
    days = np.array([(np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}") - np.datetime64(
        f"{dates[0][:4]}-{dates[0][4:6]}-{dates[0][6:]}")).astype(int) for d in dates])  # fmt: skip
    g = np.column_stack([np.ones(len(days)), days / 365.25])
    velocity = np.linalg.lstsq(g, ts, rcond=None)[0][1]
    return {"ts": ts, "velocity": velocity, "tcoh": np.full(p, np.nan, np.float32),
            "seconds": np.float64(seconds)}  # fmt: skip


def main() -> None:
    args = sys.argv[1:]
    if not args or len(args) % 3:
        sys.exit(__doc__)
    for mode, src, dst in zip(args[::3], args[1::3], args[2::3], strict=True):
        data = dict(np.load(src))
        before = rss_mb()
        tracemalloc.start()
        if mode == "dolphin":
            out = dolphin(data)
        else:
            out = mintpy(data, weighted=mode == "mintpy-weighted")
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        out["peak_traced_mb"] = np.float64(peak)
        out["peak_rss_mb"] = np.float64(rss_mb() - before)
        np.savez(dst, **out)


if __name__ == "__main__":
    main()

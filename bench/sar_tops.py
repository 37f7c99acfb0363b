"""A real-layout Sentinel-1 IW pair end to end: SAFE zips in, a geocoded LOS layer out.

    .venv/bin/python bench/sar_tops.py [--samples 20000] [--bursts 3] [--workdir DIR]

Issue #18's figure: 3 bursts × 1 sub-swath of IW1 (the Rome annotation's real bursts, 1 501
lines each, ``--samples`` wide) processed end to end — reading the bursts from SAFE zips as ESA
distributes them, deramping, geometric coregistration, the cross-correlation refinement, ESD,
the interferogram, unwrapping and geocoding — target ≤ 30 s on this machine; printed beside
the debursted chain (``sar_dinsar``) on one burst-sized window of the same width.

The pair is simulated with the chain's own fast tools (its coarse-grid geometry and 8-tap
resampler in baseband, as :func:`gep.algorithms.simulate.scene.simulate_large_pair` does for the
debursted chain): it times the chain; accuracy is graded in the tests on exact scenes. It is
written with :func:`gep.io.safe_writer.write_safe` into two SAFE zips and read back burst by
burst with :func:`gep.io.sentinel1_bursts.read_burst`, so the bytes read are real.

``run(samples, bursts)`` returns the figures as a dict (``bench/sar.py`` uses it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from gep.algorithms.sar.coregistration import radar_geometry
from gep.algorithms.sar.geometry import crop_geometry, geolocation, radar_times, rdr2geo
from gep.algorithms.sar.kernels.resampling import resample
from gep.algorithms.sar.tops import deramping_phase
from gep.algorithms.sar.tops_chain import BurstPair, plan_burst_pairs, tops_dinsar
from gep.algorithms.simulate.phase import coherence_map
from gep.algorithms.simulate.scene import band_limited_speckle, baseline_orbit
from gep.algorithms.simulate.tops import crop_bursts, secondary_bursts
from gep.core.sar import TopsBurst
from gep.io.safe_writer import SafeSwath, write_safe
from gep.io.sentinel1_bursts import ByteCounter, read_burst, tops_bursts

ROOT = Path(__file__).resolve().parents[1]
SAFE = (
    ROOT / "tests/data/s1/S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
)
MISREGISTRATION = (0.0123, -0.23)
DEM_HEIGHT = 100.0


def _fast_burst(
    ref: TopsBurst, sec: TopsBurst, rng: np.random.Generator, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """One burst pair with the chain's fast geometry and resampler (see the module docstring)."""
    g, gs = ref.geometry, sec.geometry
    m = 32
    ext_r = crop_geometry(g, -m, -m, g.lines + 2 * m, g.samples + 2 * m)
    ext_s = crop_geometry(gs, -m, -m, gs.lines + 2 * m, gs.samples + 2 * m)
    geo = radar_geometry(ext_r, ext_s, DEM_HEIGHT, range_difference=False, wavelength=g.wavelength)
    assert geo.phase is not None
    ext = (ext_r.lines, ext_r.samples)
    ii = np.arange(ext[0], dtype="float64")[:, None] - m
    jj = np.arange(ext[1], dtype="float64")[None, :] - m
    daz, drg = MISREGISTRATION
    rho = -deramping_phase(ref, ii, jj)
    rho -= -deramping_phase(sec, ii + geo.azimuth_offset + daz, jj + geo.range_offset + drg)
    gamma = coherence_map(ext, low=0.4, high=0.95, correlation_px=10.0, seed=seed).astype("float32")
    a = band_limited_speckle(ext, rng)
    b = band_limited_speckle(ext, rng)
    # no troposphere: drawn burst by burst on the pixel grid it would differ between
    # overlapping bursts, which the ground does not (the tests' exact simulator draws it on
    # the ground)
    phase = (rho - geo.phase).astype("float32")
    del rho
    sec_on_ref = (gamma * a + np.sqrt(1 - gamma * gamma) * b) * np.exp(1j * phase)
    sec_on_ref = sec_on_ref.astype(np.complex64)
    del b, phase
    reference = (a * np.exp(-1j * deramping_phase(ref, ii, jj)))[m:-m, m:-m].astype(np.complex64)
    del a
    kk, ll = np.meshgrid(
        np.arange(gs.lines, dtype="float32"), np.arange(gs.samples, dtype="float32"), indexing="ij"
    )
    ri, rj = kk - daz, ll - drg
    for _ in range(2):
        coords = [ri + m, rj + m]
        ri = kk - daz - ndimage.map_coordinates(geo.azimuth_offset, coords, order=1)
        rj = ll - drg - ndimage.map_coordinates(geo.range_offset, coords, order=1)
    az = np.zeros(ext, "float32")
    rg = np.zeros(ext, "float32")
    az[m:-m, m:-m] = ri - kk
    rg[m:-m, m:-m] = rj - ll
    del ri, rj
    baseband = resample(sec_on_ref, az, rg)[m:-m, m:-m]
    secondary = baseband * np.exp(-1j * deramping_phase(sec, kk, ll))
    for burst, data in ((ref, reference), (sec, secondary)):
        mask = np.zeros(data.shape, bool)
        mask[
            burst.first_valid_line : burst.last_valid_line + 1,
            burst.first_valid_sample : burst.last_valid_sample + 1,
        ] = True
        data[~mask] = 0
    return reference, secondary.astype(np.complex64)


def simulate_safes(samples: int, bursts: int, workdir: Path) -> tuple[Path, Path, float]:
    """Two SAFE zips of ``bursts`` IW1 bursts, ``samples`` wide; seconds spent simulating."""
    ref = crop_bursts(tops_bursts(SAFE, "IW1", "VV"), 3, bursts, 1000, samples)
    mid = ref[len(ref) // 2].geometry
    t_c = float(radar_times(mid, mid.lines / 2))
    _, _, _, centre = rdr2geo(
        np.array([t_c]), np.array([mid.slant_range(mid.samples / 2)]), mid.orbit, DEM_HEIGHT
    )
    orbit = baseline_orbit(mid.orbit, centre[0], t_c, 100.0, 20.0, 12.0)
    sec = secondary_bursts(ref, orbit, 12.0, 0.37)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    data = [_fast_burst(r, s, rng, 10 + k) for k, (r, s) in enumerate(zip(ref, sec, strict=True))]
    simulate_s = time.perf_counter() - t0
    scale = 200.0  # digital numbers of a few hundred, as in real IW SLCs
    ref_zip = write_safe(
        SAFE, workdir, [SafeSwath("IW1", "VV", ref, [d[0] for d in data])],
        orbit=mid.orbit, geolocate=geolocation(DEM_HEIGHT), scale=scale, as_zip=True,
    )  # fmt: skip
    sec_zip = write_safe(
        SAFE, workdir, [SafeSwath("IW1", "VV", sec, [d[1] for d in data])],
        orbit=orbit, time_shift=np.timedelta64(12 * 86400, "s"),
        geolocate=geolocation(DEM_HEIGHT), scale=scale, as_zip=True,
    )  # fmt: skip
    return ref_zip, sec_zip, simulate_s


def process(ref_zip: Path, sec_zip: Path) -> dict[str, Any]:
    """The whole chain from the zips, each step timed."""
    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    ref_b = tops_bursts(ref_zip, "IW1", "VV")
    sec_b = tops_bursts(sec_zip, "IW1", "VV")
    plans = plan_burst_pairs(ref_b, sec_b, None, DEM_HEIGHT)
    counter = ByteCounter()
    pairs = [
        BurstPair(
            p,
            read_burst(ref_zip, p.reference, p.reference_window, counter),
            read_burst(sec_zip, p.secondary, p.secondary_window, counter),
        )
        for p in plans
    ]
    read_s = time.perf_counter() - start
    result = tops_dinsar(
        pairs, DEM_HEIGHT, looks=(4, 16), alpha=0.5,
        progress=lambda f, msg: marks.append((msg, time.perf_counter())),
    )  # fmt: skip
    total = time.perf_counter() - start
    # each progress message opens a step, which lasts until the next message
    merged = {"read the bursts (metadata + pixels)": read_s}
    for (msg, t), (_, t_next) in pairwise(marks):
        merged[msg] = t_next - t
    pixels = sum(p.reference_data.size for p in pairs)
    return {
        "bursts": len(pairs),
        "pixels": pixels,
        "bytes_read": counter.bytes,
        "zip_bytes": ref_zip.stat().st_size + sec_zip.stat().st_size,
        "total_s": total,
        "steps_s": merged,
        "azimuth_error_px": abs(result.refinement.azimuth + result.esd_shift - MISREGISTRATION[0]),
        "esd_shift_px": result.esd_shift,
        "overlap_phase_rad": [o.residual_phase for o in result.overlaps],
    }


def run(samples: int = 20000, bursts: int = 3, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        ref_zip, sec_zip, simulate_s = simulate_safes(samples, bursts, Path(tmp))
        process(ref_zip, sec_zip)  # warm-up: numba's caches load once per process
        figures = process(ref_zip, sec_zip)
    figures["simulate_s"] = simulate_s
    figures["samples"] = samples
    return figures


def print_report(r: dict[str, Any]) -> None:
    print(
        f"IW pair, {r['bursts']} bursts x 1 sub-swath, {r['samples']} samples "
        f"({r['pixels'] / 1e6:.1f} Mpixel per acquisition; simulated in {r['simulate_s']:.0f} s)"
    )
    for name, seconds in r["steps_s"].items():
        print(f"  {name[:60]:<60} {seconds:6.2f} s")
    print(f"  {'end to end (read .. geocode)':<60} {r['total_s']:6.2f} s (target <= 30 s)")
    print(
        f"  bytes read {r['bytes_read'] / 1e6:.0f} MB of {r['zip_bytes'] / 1e6:.0f} MB of zips; "
        f"azimuth misregistration error {r['azimuth_error_px']:.4f} px (ESD added "
        f"{r['esd_shift_px']:+.4f} px); overlap phase steps "
        + ", ".join(f"{p:+.3f}" for p in r["overlap_phase_rad"])
        + " rad"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--bursts", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--no-peer", action="store_true", help="skip the debursted chain")
    args = ap.parse_args(argv)
    r = run(args.samples, args.bursts, args.workdir)
    print_report(r)
    if not args.no_peer:
        import sar_dinsar

        d = sar_dinsar.run((1500, args.samples), repeats=1)
        print(
            f"debursted chain (sar_dinsar) on one 1500 x {args.samples} window: "
            f"{d['chain_s']:.2f} s without unwrapping/geocoding, "
            f"{d['with_unwrap_and_geocode_s']:.2f} s whole"
        )


if __name__ == "__main__":
    main()

"""Issue #4's SAR benchmark, in one run: kernels, unwrapping, Okada and the dinsar chain.

    .venv/bin/python bench/sar.py [--small] [--skip-snaphu] [--json out.json]

Sections (each also runs alone; see its module):

1. ``sar_kernels``: interferogram + multilook, coherence, Goldstein and resampling on a
   1 500 × 20 000 complex64 pair, each beside the memory-bandwidth bound measured in the same
   run and beside a straightforward numpy/scipy version (target: within 3× of the bound);
2. ``sar_unwrap``: unwrapping a 2048² simulated interferogram by GEP, whirlwind and SNAPHU,
   time and share of pixels off by 2πk (target: ≤ 15 s, ≤ 0.2 %);
3. ``sar_okada``: Okada evaluations/s by GEP and cutde (target: ≥ 10 M points/s);
4. ``sar_dinsar``: the dinsar chain end to end on a burst-sized pair (target: everything but
   unwrapping and geocoding ≤ 5 s);
5. ``sar_tops``: a real-layout IW pair — SAFE zips, 3 bursts × 1 sub-swath — end to end
   (read, deramp, coregister, ESD, interferogram, unwrap, geocode; target ≤ 30 s), beside the
   debursted chain of section 4.

``--small`` runs every section on small inputs (a smoke test of the script, not figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sar_dinsar
import sar_kernels
import sar_okada
import sar_tops
import sar_unwrap


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--small", action="store_true", help="small inputs: check the script runs")
    ap.add_argument("--skip-snaphu", action="store_true", help="SNAPHU takes minutes on 2048²")
    ap.add_argument("--json", type=Path, help="also write every figure to this file")
    args = ap.parse_args(argv)
    shape = (300, 2000) if args.small else (1500, 20000)
    size = 256 if args.small else 2048
    points = 100_000 if args.small else 4_000_000
    started = time.perf_counter()
    print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}\n")

    figures: dict[str, Any] = {"machine": machine()}
    print("== 1. kernels ==")
    kern = sar_kernels.run(shape)
    figures["kernels"] = kern
    sar_kernels.print_report(kern)

    print("\n== 2. unwrapping ==")
    unw = sar_unwrap.run(size, skip_snaphu=args.skip_snaphu)
    figures["unwrap"] = unw
    print(f"scene: {unw['scene']}")
    for method in ("gep", "whirlwind", "snaphu"):
        if method in unw:
            r = unw[method]
            t, wrong, load = r["time_s"], r["wrong_pct"], r["load_avg_1min"]
            print(f"  {method:<10} {t:8.2f} s  {wrong:7.3f} % wrong  (load {load:.2f})")

    print("\n== 3. Okada ==")
    oka = sar_okada.run(points)
    figures["okada"] = oka
    gep, npy, cut = (oka[f"{k}_points_per_s"] / 1e6 for k in ("gep", "numpy", "cutde"))
    print(
        f"  {points:,} points: GEP {gep:.1f} M/s, numpy {npy:.2f} M/s, cutde {cut:.2f} M/s "
        f"({numba_threads(oka)} threads); GEP vs cutde max rel. diff "
        f"{oka['gep_vs_cutde_max_rel']:.1e}"
    )

    print("\n== 4. dinsar chain ==")
    din = sar_dinsar.run(shape)
    figures["dinsar"] = din
    for name, seconds in din["steps_s"].items():
        print(f"  {name:<40} {seconds:6.2f} s")
    print(f"  {'everything but unwrapping and geocoding':<40} {din['chain_s']:6.2f} s")
    print(f"  {'whole chain':<40} {din['with_unwrap_and_geocode_s']:6.2f} s")

    print("\n== 5. real-layout IW pair (TOPS bursts from SAFE zips) ==")
    tops = sar_tops.run(samples=shape[1], bursts=3)
    figures["tops"] = tops
    sar_tops.print_report(tops)

    print("\n== targets ==")
    rows = [
        *[
            (f"{name} vs its bandwidth bound", k["gep_over_bound"], 3.0, "x")
            for name, k in kern["kernels"].items()
        ],
        ("unwrapping 2048², GEP time", unw["gep"]["time_s"], 15.0, "s"),
        ("unwrapping 2048², GEP wrong pixels", unw["gep"]["wrong_pct"], 0.2, "%"),
        ("Okada", oka["gep_points_per_s"] / 1e6, 10.0, "M points/s (at least)"),
        ("burst pair, all but unwrapping and geocoding", din["chain_s"], 5.0, "s"),
        ("IW pair, 3 bursts x 1 sub-swath, end to end", tops["total_s"], 30.0, "s"),
    ]
    for name, value, target, unit in rows:
        ok = value >= target if "at least" in unit else value <= target
        print(
            f"  {name:<46} {value:9.3f} {unit:<22} target {target:<6} {'met' if ok else 'MISSED'}"
        )
    elapsed = time.perf_counter() - started
    print(f"\n(total {elapsed:.0f} s; load average at end {os.getloadavg()[0]:.2f})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))


def numba_threads(oka: dict[str, Any]) -> int:
    return int(oka.get("threads", 0))


if __name__ == "__main__":
    main()

"""The CLI's start-up: wall time of ``gep --help`` and ``gep jobs --help``, and what
``import gep.cli.main`` costs, module by module.

    python bench/cli.py [--runs 15]

Each run is a fresh process (the installed ``gep`` executable beside this interpreter), as a
user's shell starts it. Prints the machine, the minimum and median of each command, and the
slowest imports of ``python -X importtime -c "import gep.cli.main"``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

GEP = str(Path(sys.executable).parent / "gep")


def wall(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([GEP, *args], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def slowest_imports(n: int = 8) -> list[tuple[int, str]]:
    """(cumulative µs, module) of the top-level modules ``gep.cli.main`` pulls in."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import gep.cli.main"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip())) // 2
            if depth <= 1:
                rows.append((int(parts[1]), name.strip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0]
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load {load:.1f}")  # fmt: skip
    for cmd in (["--help"], ["jobs", "--help"], ["jobs", "list", "--help"]):
        t = wall(cmd, args.runs)
        print(f"gep {' '.join(cmd):<16} min {min(t):.3f} s  median {statistics.median(t):.3f} s"
              f"  ({args.runs} runs)")  # fmt: skip
    print("slowest imports of gep.cli.main (cumulative):")
    for us, name in slowest_imports():
        print(f"  {us / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()

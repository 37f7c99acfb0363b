"""Job engine benchmark: submit→successful latency and queued throughput of a no-op process.

    python bench/jobs.py [--latency 200] [--throughput 1000] [--no-peer]

GEP: `gep serve` on its embedded SQLite database with the default LocalCluster (one worker
process, two threads), the `echo` service. The peer: pygeoapi's process manager on its
`hello-world` process (`pygeoapi_peer.py`, its own venv). Both are driven over HTTP the same
way: asynchronous execution (`Prefer: respond-async`), then polling `/jobs/{id}` every 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from gep_server import running_gep  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _job_url(base: str, r: httpx.Response) -> str:
    loc = r.headers.get("location")
    if loc:
        return loc
    return f"{base}/jobs/{r.json()['jobID']}"


def measure(
    base: str,
    process: str,
    inputs: dict[str, Any],
    n_latency: int,
    n_throughput: int,
    done: str = "successful",
) -> dict[str, Any]:
    """Latency of single jobs, then the throughput of ``n_throughput`` queued at once."""
    headers = {"Prefer": "respond-async"}
    body = {"inputs": inputs}
    with httpx.Client(timeout=60) as http:
        for _ in range(5):  # warm-up: the cluster starts on the first job
            r = http.post(f"{base}/processes/{process}/execution", json=body, headers=headers)
            url = _job_url(base, r)
            while http.get(url).json()["status"] != done:
                time.sleep(0.005)
        lat: list[float] = []
        for _ in range(n_latency):
            t0 = time.perf_counter()
            r = http.post(f"{base}/processes/{process}/execution", json=body, headers=headers)
            if r.status_code not in (200, 201):
                raise RuntimeError(f"submit: HTTP {r.status_code} {r.text[:200]}")
            url = _job_url(base, r)
            while True:
                status = http.get(url).json()["status"]
                if status == done:
                    break
                if status in ("failed", "dismissed"):
                    raise RuntimeError(f"job {url} {status}")
                time.sleep(0.005)
            lat.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        urls = []
        for _ in range(n_throughput):
            r = http.post(f"{base}/processes/{process}/execution", json=body, headers=headers)
            urls.append(_job_url(base, r))
        t_submitted = time.perf_counter() - t0
        pending = list(urls)
        while pending:
            still = []
            for url in pending:
                status = http.get(url).json()["status"]
                if status in ("failed", "dismissed"):
                    raise RuntimeError(f"job {url} {status}")
                if status != done:
                    still.append(url)
            pending = still
            if pending:
                time.sleep(0.05)
        total = time.perf_counter() - t0
    return {
        "latency_p50_ms": round(percentile(lat, 0.5), 1),
        "latency_p95_ms": round(percentile(lat, 0.95), 1),
        "latency_n": n_latency,
        "throughput_jobs_per_s": round(n_throughput / total, 1),
        "throughput_n": n_throughput,
        "submit_s": round(t_submitted, 2),
        "total_s": round(total, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=int, default=200, help="single jobs timed")
    ap.add_argument("--throughput", type=int, default=1000, help="jobs queued at once")
    ap.add_argument("--no-peer", action="store_true", help="skip pygeoapi")
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    results: dict[str, Any] = {"machine": f"{platform.machine()} {os.cpu_count()} cores"}
    home = tempfile.mkdtemp(prefix="gep-bench-jobs-")
    env = {"GEP_HOME": home, "GEP_DATABASE_URL": "", "GEP_DASK_SCHEDULER": ""}
    with running_gep(env, ready_path="/processes") as base:
        results["gep"] = measure(base, "echo", {"message": "x"}, args.latency, args.throughput)
    print("GEP (echo, LocalCluster):", json.dumps(results["gep"]))
    if not args.no_peer:
        # the peer is driven by its own harness, which polls it the way its TinyDB job store
        # copes with best (one /jobs listing per pass for throughput); same quantities
        from pygeoapi_peer import ensure_venv, running_pygeoapi
        from pygeoapi_peer import measure as measure_pygeoapi

        ensure_venv()
        with running_pygeoapi() as base:
            results["pygeoapi"] = measure_pygeoapi(base, args.latency, args.throughput)
        print("pygeoapi (hello-world):", json.dumps(results["pygeoapi"]))
        g, p = results["gep"], results["pygeoapi"]
        print(
            f"GEP / pygeoapi: latency p50 {g['latency_p50_ms'] / p['latency_p50_ms']:.2f}, "
            f"p95 {g['latency_p95_ms'] / p['latency_p95_ms']:.2f} (lower is better); "
            f"throughput {g['throughput_jobs_per_s'] / p['throughput_jobs_per_s']:.1f}x"
        )
    (OUT / "jobs.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

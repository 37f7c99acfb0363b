"""Catalogue benchmark: GEP (SQLite and PostGIS) beside stac-fastapi-pgstac on the same items.

    python bench/catalog.py N [--backends sqlite,postgis] [--no-peer] [--repeats R]

Generates N Sentinel-1-like items (``s1_items.py``), ingests them into each GEP backend (timed,
in-process through the store, as ``gep catalog ingest`` does), serves each with ``gep serve``
and measures the same queries over HTTP (``stac_client_bench.py``): (a) bbox + one month,
(b) (a) + CQL2 ``sat:relative_orbit = N``, (c) intersects, (d) walking 1 000 items by ``next``
links 100 per page, (e) ``numberMatched`` of a continent, (f) searches/s with 8 clients. Then
the peer: stac-fastapi-pgstac in its own venv, loaded with pypgstac (``pgstac_peer.py``).
Prints every figure and the GEP / pgstac ratios; writes them as JSON under ``bench/out/``.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from gep_server import running_gep  # noqa: E402
from s1_items import collection_dict, generate_items, query_set, write_ndjson  # noqa: E402
from stac_client_bench import print_table, ratios, run_benchmark  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "gep_bench"
GEP_PORT = 8093


def _gep_url(backend: str, n: int) -> str:
    if backend == "sqlite":
        return f"sqlite:///{OUT / f'gep-bench-{n}.db'}"
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_BENCH_DB}"


def _fresh(backend: str, n: int) -> None:
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            p = OUT / f"gep-bench-{n}.db{suffix}"
            if p.exists():
                p.unlink()
        return
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB}")
        conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")


def reuse(backend: str, n: int) -> dict[str, float] | None:
    """Keep a catalogue a previous run loaded (migrated to head); None when it is not there."""
    from gep.catalog.backends import open_store
    from gep.catalog.search import build_search

    if backend == "sqlite" and not (OUT / f"gep-bench-{n}.db").exists():
        return None
    try:
        store = open_store(_gep_url(backend, n))
        store.upgrade()
        page = store.search(build_search({"count": True, "limit": 1}, from_get=False))
    except Exception:
        return None
    held = page.number_matched
    if held != n:
        store.close()
        return None
    store.analyze()
    store.close()
    return {"ingest_s": float("nan"), "items_per_s": float("nan"), "with_analyze_s": float("nan")}


def ingest(backend: str, n: int) -> dict[str, float]:
    """Ingest through the store, in batches, the way ``gep catalog ingest`` does."""
    from gep.catalog.backends import open_store

    _fresh(backend, n)
    store = open_store(_gep_url(backend, n))
    store.upgrade()
    store.create_collection(collection_dict())
    items = list(generate_items(n))  # generation is not part of the ingest time
    t0 = time.perf_counter()
    report = store.write_items(items, atomic=False)
    t_write = time.perf_counter() - t0
    store.analyze()
    t_total = time.perf_counter() - t0
    store.close()
    if report.written != n or report.failed:
        raise RuntimeError(f"{backend}: wrote {report.written}/{n}, failures {report.failed[:3]}")
    return {"ingest_s": t_write, "items_per_s": n / t_write, "with_analyze_s": t_total}


def gep_env(backend: str, n: int) -> dict[str, str]:
    return {"GEP_DATABASE_URL": _gep_url(backend, n), "GEP_HOME": str(OUT / "gep-home")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="number of items")
    ap.add_argument("--backends", default="sqlite,postgis")
    ap.add_argument("--no-peer", action="store_true", help="skip stac-fastapi-pgstac")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers for each server")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of (f)")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="query GEP catalogues loaded by an earlier run instead of ingesting",
    )
    ap.add_argument(
        "--reuse-peer",
        action="store_true",
        help="query the pgstac database loaded by an earlier run",
    )
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    queries = query_set(0)
    results: dict[str, Any] = {
        "n": args.n,
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores",
        "python": platform.python_version(),
        "gep": {},
    }
    for backend in [b for b in args.backends.split(",") if b]:
        ing = reuse(backend, args.n) if args.reuse else None
        if ing is None:
            print(f"== GEP {backend}: ingesting {args.n} items", flush=True)
            ing = ingest(backend, args.n)
        else:
            print(f"== GEP {backend}: reusing the loaded catalogue", flush=True)
        print(
            f"   {ing['items_per_s']:.0f} items/s ({ing['ingest_s']:.1f} s; "
            f"+ANALYZE {ing['with_analyze_s']:.1f} s)",
            flush=True,
        )
        with running_gep(gep_env(backend, args.n), GEP_PORT, args.workers) as url:
            fig = run_benchmark(
                f"{url}/stac",
                queries,
                repeats=args.repeats,
                seconds=args.seconds,
                count_extra={"count": True},
                log=print,
            )
        fig["ingest"] = ing
        results["gep"][backend] = fig
        print_table(fig, f"GEP {backend}, {args.n} items")
    if not args.no_peer:
        from pgstac_peer import running_pgstac

        path = OUT / f"items-{args.n}.ndjson"
        if not path.exists():
            write_ndjson(path, generate_items(args.n))
        print(f"== stac-fastapi-pgstac: loading {args.n} items with pypgstac", flush=True)
        with running_pgstac(path, args.n, reuse=args.reuse_peer) as (url, load_s):
            fig = run_benchmark(
                url,
                queries,
                repeats=args.repeats,
                seconds=args.seconds,
                count_extra={"conf": {"context": "on"}},
                log=print,
            )
        fig["ingest"] = {"ingest_s": load_s, "items_per_s": args.n / load_s}
        results["pgstac"] = fig
        print_table(fig, f"stac-fastapi-pgstac, {args.n} items")
        for backend, ours in results["gep"].items():
            r = ratios(ours, fig)
            r["ingest_rate"] = round(
                ours["ingest"]["items_per_s"] / fig["ingest"]["items_per_s"], 3
            )
            results.setdefault("ratios", {})[backend] = r
            print(f"GEP {backend} / pgstac (latency < 1 and rates > 1 are better for GEP):")
            for k, v in r.items():
                print(f"   {k:>14}: {v}")
    out = OUT / f"catalog-{args.n}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reproducible stac-fastapi-pgstac peer for the catalogue benchmark.

Why a separate virtual environment: stac-fastapi-pgstac pins its own FastAPI, Starlette and
pydantic versions, which must not leak into GEP's environment (nor GEP's into it).  The peer is
installed from PyPI into ``bench/.venv-pgstac`` (git-ignored) at fixed minor versions:
``stac-fastapi-pgstac[server]==7.2.*`` (the ``server`` extra is what its Docker image runs:
uvicorn with uvloop and httptools) and ``pypgstac[psycopg]==0.10.*``.

It is given its best documented configuration, so that a ratio in GEP's favour means something:

* ``USE_API_HYDRATE=true`` (hydration in the API rather than in PostgreSQL: faster here);
* the queryable ``sat:relative_orbit`` registered as an integer for the collection with
  ``property_index_type = 'BTREE'``, so pgstac builds a btree index on
  ``to_int(content->'properties'->'sat:relative_orbit')`` in every partition and the CQL2 filter
  of query (b) can use it (without the registration the filter compares text and no index
  applies);
* ``ANALYZE`` after the load (timed separately from the load);
* the collection partitioned by year (``partition_trunc = 'year'``; pgstac's own default is one
  partition).  Measured at 200 000 items on this machine, against no partitioning: (a) p50
  12.9 -> 7.2 ms, (c) 20.9 -> 9.4 ms, walk 1 530 -> 1 358 ms, 132 -> 237 searches/s, but the
  count (e) 151 -> 287 ms and the load 11 200 -> 10 100 items/s; ``month`` was worse than
  ``year`` everywhere (load 5 250 items/s, count 1.7 s).  ``partition_trunc=None`` restores
  pgstac's default.

The load is timed around ``pypgstac load items`` alone (the ndjson file is written beforehand),
with the queryable index already in place, as it would be in a live catalogue.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-pgstac"
PACKAGES = ["stac-fastapi-pgstac[server]==7.2.*", "pypgstac[psycopg]==0.10.*"]
DBNAME = "gep_bench_pgstac"
PGHOST = os.environ.get("GEP_BENCH_PGHOST", "127.0.0.1")
PGPORT = int(os.environ.get("GEP_BENCH_PGPORT", "5432"))
PGUSER = os.environ.get("GEP_BENCH_PGUSER", "postgres")
PGPASSWORD = os.environ.get("GEP_BENCH_PGPASSWORD", "postgres")  # ignored under trust auth
PORT = 8082
COLLECTION_ID = "sentinel-1-slc"

#: Queryables registered for the collection: (name, JSON schema, index type or None).
QUERYABLES: list[tuple[str, dict[str, Any], str | None]] = [
    ("sat:relative_orbit", {"title": "Relative orbit", "type": "integer", "minimum": 1}, "BTREE"),
    ("sat:absolute_orbit", {"title": "Absolute orbit", "type": "integer", "minimum": 1}, None),
    (
        "sat:orbit_state",
        {"title": "Orbit state", "type": "string", "enum": ["ascending", "descending"]},
        None,
    ),
    ("sar:instrument_mode", {"title": "Instrument mode", "type": "string"}, None),
    ("platform", {"title": "Platform", "type": "string"}, None),
]


def log(msg: str) -> None:
    print(f"[pgstac-peer] {msg}", file=sys.stderr, flush=True)


def dsn(dbname: str = DBNAME) -> str:
    return f"postgresql://{PGUSER}:{PGPASSWORD}@{PGHOST}:{PGPORT}/{dbname}"


def ensure_venv(venv: Path = VENV) -> Path:
    """Create the peer's venv and install the pinned packages if it is absent; return its bin/."""
    bindir = venv / "bin"
    if not (bindir / "pypgstac").exists() or not (bindir / "uvicorn").exists():
        log(f"creating {venv} and installing {' '.join(PACKAGES)} (a minute or two)")
        # the system python3, not GEP's venv: the peer must not inherit GEP's packages
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(bindir / "pip"), "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(bindir / "pip"), "install", "-q", *PACKAGES], check=True)
    return bindir


def versions(bindir: Path | None = None) -> dict[str, str]:
    """Installed versions of the peer's packages, for the report."""
    bindir = bindir or VENV / "bin"
    code = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({p: m.version(p) for p in "
        "('stac-fastapi-pgstac', 'pypgstac', 'uvicorn', 'asyncpg')}))"
    )
    out = subprocess.run(
        [str(bindir / "python"), "-c", code], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout))


def create_database(dbname: str = DBNAME) -> None:
    """Drop and re-create ``dbname`` with PostGIS (pgstac's migrate needs the extension)."""
    with psycopg.connect(dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    with psycopg.connect(dsn(dbname), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def _pypgstac(bindir: Path, dbname: str, *args: str) -> None:
    subprocess.run(
        [str(bindir / "pypgstac"), *args, "--dsn", dsn(dbname)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def setup_database(
    collection: dict[str, Any],
    bindir: Path,
    partition_trunc: str | None = None,
    dbname: str = DBNAME,
) -> None:
    """Fresh database, ``pypgstac migrate``, the collection, its queryables and partitioning."""
    create_database(dbname)
    _pypgstac(bindir, dbname, "migrate")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(collection, fh)
    try:
        _pypgstac(bindir, dbname, "load", "collections", fh.name, "--method", "upsert")
    finally:
        os.unlink(fh.name)
    with psycopg.connect(dsn(dbname), autocommit=True) as conn:
        if partition_trunc:
            conn.execute(
                "UPDATE pgstac.collections SET partition_trunc = %s WHERE id = %s",
                (partition_trunc, collection["id"]),
            )
        for name, definition, index in QUERYABLES:
            conn.execute(
                "SELECT pgstac.upsert_queryable(%s, %s::jsonb, NULL, %s, ARRAY[%s]::text[])",
                (name, json.dumps(definition), index, collection["id"]),
            )


def load_items(items_path: str | Path, bindir: Path, dbname: str = DBNAME) -> dict[str, float]:
    """``pypgstac load items`` (timed), then ANALYZE (timed apart); return both durations."""
    t0 = time.perf_counter()
    _pypgstac(bindir, dbname, "load", "items", str(items_path), "--method", "insert")
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    with psycopg.connect(dsn(dbname), autocommit=True) as conn:
        conn.execute("ANALYZE")
    return {"load_s": load_s, "analyze_s": time.perf_counter() - t1}


def count_items(dbname: str = DBNAME) -> int:
    with psycopg.connect(dsn(dbname)) as conn:
        row = conn.execute("SELECT count(*) FROM pgstac.items").fetchone()
    return int(row[0]) if row else 0


def _holds(n: int, dbname: str) -> bool:
    try:
        return count_items(dbname) == n
    except psycopg.Error:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def start_server(
    bindir: Path, port: int = PORT, dbname: str = DBNAME, log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start stac-fastapi-pgstac (1 uvicorn worker) and wait until its landing page answers.

    Settings are passed through the environment variables its ``PostgresSettings`` reads in 7.2
    (PGUSER, PGPASSWORD, PGHOST, PGPORT, PGDATABASE); it runs in a scratch directory so that no
    stray ``.env`` file is picked up.  Its own process group lets :func:`stop_server` end it and
    nothing else.
    """
    if not _port_free(port):
        raise RuntimeError(f"port {port} is already in use: stop whatever listens there first")
    env = {
        **os.environ,
        "PGUSER": PGUSER,
        "PGPASSWORD": PGPASSWORD,
        "PGHOST": PGHOST,
        "PGPORT": str(PGPORT),
        "PGDATABASE": dbname,
        "USE_API_HYDRATE": "true",
        "DB_MIN_CONN_SIZE": "1",
        "DB_MAX_CONN_SIZE": "10",
    }
    cwd = tempfile.mkdtemp(prefix="pgstac-peer-")
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(bindir / "uvicorn"),
            "stac_fastapi.pgstac.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=cwd,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60.0
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"stac-fastapi-pgstac exited with {proc.returncode} (log: {log_path})"
            )
        try:
            if httpx.get(url + "/", timeout=2.0).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_server(proc)
            raise RuntimeError("stac-fastapi-pgstac did not answer within 60 s")
        time.sleep(0.3)
    shutil.rmtree(cwd, ignore_errors=True)
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's own process group, SIGKILL it after 10 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@contextlib.contextmanager
def running_pgstac(
    items_path: str | Path,
    n: int,
    *,
    collection: dict[str, Any] | None = None,
    port: int = PORT,
    partition_trunc: str | None = "year",
    log_path: Path | None = None,
    reuse: bool = False,
    dbname: str = DBNAME,
) -> Iterator[tuple[str, float]]:
    """Load ``items_path`` (ndjson of ``n`` items) into a fresh pgstac and serve it.

    Yields ``(url, load_seconds)``; ``n / load_seconds`` is the ingest rate.  The server is
    stopped when the block exits, even on error.  The database is left in place (it is dropped
    and re-created by the next run) so that it can be inspected afterwards.  With ``reuse`` and
    a database that already holds exactly ``n`` items, nothing is loaded and ``load_seconds`` is
    NaN (for re-running the queries only).

    Runs on one ``dbname`` are serialised by an exclusive lock file
    (``/tmp/gep-bench-pgstac-<dbname>.lock``): a second benchmark started meanwhile (by another
    engineer on the same machine, say) waits instead of dropping the database under the first
    one's server.  The lock is held until the server has stopped.
    """
    if collection is None:
        try:
            from s1_items import collection_dict
        except ImportError:
            from bench.s1_items import collection_dict
        collection = collection_dict()
    bindir = ensure_venv()
    with _exclusive(dbname):
        if reuse and _holds(n, dbname):
            log(f"reusing {dbname}: it holds {n} items; clearing pgstac's count cache")
            with psycopg.connect(dsn(dbname), autocommit=True) as conn:
                conn.execute("DELETE FROM pgstac.search_wheres")
            t = {"load_s": float("nan")}
        else:
            log(f"fresh database {dbname}, pypgstac migrate, collection and queryables")
            setup_database(collection, bindir, partition_trunc, dbname)
            log(f"pypgstac load items ({n} items)")
            t = load_items(items_path, bindir, dbname)
            loaded = count_items(dbname)
            if loaded != n:
                raise RuntimeError(f"pgstac holds {loaded} items, expected {n}")
            log(
                f"loaded {n} items in {t['load_s']:.1f} s ({n / t['load_s']:.0f} items/s), "
                f"ANALYZE {t['analyze_s']:.1f} s"
            )
        proc = start_server(bindir, port, dbname, log_path=log_path)
        try:
            yield f"http://127.0.0.1:{port}", t["load_s"]
        finally:
            stop_server(proc)
            log("server stopped")


@contextlib.contextmanager
def _exclusive(dbname: str) -> Iterator[None]:
    """Hold ``/tmp/gep-bench-pgstac-<dbname>.lock`` exclusively (flock: released on exit/crash)."""
    path = Path(tempfile.gettempdir()) / f"gep-bench-pgstac-{dbname}.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            log(f"{path} is held ({fh.read().strip()}): waiting for that run to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, since {time.strftime('%H:%M:%S')}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def main(argv: list[str] | None = None) -> int:
    """End to end: generate N items, load them into pgstac, serve, benchmark, print, stop.

    ``python bench/pgstac_peer.py 20000 [--repeats 1] [--partition year] [--items F] [--reuse]``
    """
    ap = argparse.ArgumentParser(description="Benchmark stac-fastapi-pgstac on N S1 items.")
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--walks", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument(
        "--partition",
        choices=["none", "year", "month"],
        default="year",
        help="partition_trunc of the collection (default: year, the peer's best here)",
    )
    ap.add_argument("--items", help="ndjson file to use or create (default: a temp file)")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--db", default=DBNAME, help="database (dropped and re-created)")
    ap.add_argument("--port", type=int, default=PORT)
    ap.add_argument(
        "--reuse", action="store_true", help="skip the load when the database already holds N items"
    )
    ap.add_argument(
        "--accept-encoding",
        default=None,
        help="Accept-Encoding to send ('identity': no compression)",
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from s1_items import collection_dict, generate_items, query_set, write_ndjson
    from stac_client_bench import print_table, run_benchmark

    tmpdir = None
    if args.items:
        items_path = Path(args.items)
    else:
        tmpdir = tempfile.mkdtemp(prefix="gep-bench-")
        items_path = Path(tmpdir) / "items.ndjson"
    try:
        if not items_path.exists():
            t0 = time.perf_counter()
            write_ndjson(items_path, generate_items(args.n, args.seed))
            log(f"wrote {args.n} items to {items_path} in {time.perf_counter() - t0:.1f} s")
        out_dir = HERE / "out"
        out_dir.mkdir(exist_ok=True)
        with running_pgstac(
            items_path,
            args.n,
            collection=collection_dict(),
            partition_trunc=None if args.partition == "none" else args.partition,
            log_path=out_dir / "pgstac-server.log",
            reuse=args.reuse,
            dbname=args.db,
            port=args.port,
        ) as (url, load_s):
            fig = run_benchmark(
                url,
                query_set(args.seed),
                repeats=args.repeats,
                walks=args.walks,
                seconds=args.seconds,
                count_extra={"conf": {"context": "on"}},
                log=lambda m: log(m),
                headers={"Accept-Encoding": args.accept_encoding} if args.accept_encoding else None,
            )
        fig["n"] = args.n
        fig["ingest_items_per_s"] = round(args.n / load_s, 1)
        fig["load_s"] = round(load_s, 2)
        fig["partition_trunc"] = args.partition
        fig["versions"] = versions()
        ingest = (
            f"ingest {fig['ingest_items_per_s']:.0f} items/s"
            if load_s == load_s
            else "database reused, no ingest"
        )
        print_table(fig, f"stac-fastapi-pgstac, {args.n} items, {ingest}")
        if args.json:
            Path(args.json).write_text(json.dumps(fig, indent=1))
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The data gateway beside its peers, in one run (issue #16, "Must show"):

    .venv/bin/python bench/gateway.py                  # 1 GB COG (made once into bench/.data)
    .venv/bin/python bench/gateway.py --quick          # a tiny file, a second per figure
    make bench-gateway                                 # installs nginx first

1. **Range reads from a local file**: a 1 GB COG through GEP's asset route
   (``GET /stac/collections/{c}/items/{i}/assets/{key}`` of a real ``gep serve``, the item public,
   the file in a data root) beside the same file served by nginx (Debian's, ``nginx_peer.py``),
   same client (``range_client.py``: raw keep-alive HTTP/1.1), same offsets:
   throughput of sequential ranges (4 and 16 MB, 4 clients) — target GEP ≥ 80 % of nginx's —
   and latency of random 16 kB reads (4 clients) — target GEP's p95 ≤ 2× nginx's.
2. **S3**: the same COG as an object of GEP's storage on SeaweedFS (``GEP_STORAGE_URL=s3://…``,
   ``GEP_S3_ENDPOINT_URL``), read through the same route, beside s3fs reading the object
   directly (its asynchronous API, one GET per range, the same ranges and concurrency) —
   target ≥ 90 % of s3fs's throughput. A third server, ``GEP-307``, is GEP with
   ``GEP_S3_PRESIGNED_REDIRECT``: it checks the caller and answers 307 to a presigned URL, which
   the client follows on every read (its own keep-alive connection to the bucket).
3. **Cache-hit staging** of the 1 GB input through ``JobContext.stage`` (``gateway_staging.py``)
   — target ≤ 0.1 s.

Each figure is taken ``--rounds`` times, servers alternating, and the best round of each server
is kept (on a shared 2-core machine the client, the server and whatever else runs compete for
the cores; every round is printed). Beside each figure, the CPU time each side spent (the
server's processes, the client — this process — and the S3 server), per GB or per 1 000
requests: what each byte costs, whatever else the machine was doing. ``--json FILE`` keeps
the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cog_file import DATA, ensure_cog  # noqa: E402
from gateway_staging import Staging, stage_cached  # noqa: E402
from gep_server import running_gep  # noqa: E402
from nginx_peer import nginx_version, running_nginx  # noqa: E402
from range_client import (  # noqa: E402
    HttpRangeReader,
    Latency,
    ReaderFactory,
    S3fsRangeReader,
    Throughput,
    latency,
    throughput,
)
from seaweed import CREDENTIALS, running_seaweed, s3fs_for, weed_version  # noqa: E402

COLLECTION = "bench-gateway"
ITEM = "cog"
TIFF = "image/tiff; application=geotiff; profile=cloud-optimized"
SECTIONS = ("local", "s3", "staging")
#: GEP with GEP_S3_PRESIGNED_REDIRECT: it checks, the bucket sends the bytes
REDIRECT = "GEP-307"
#: the targets of issue #16
LOCAL_THROUGHPUT = 0.80
LOCAL_P95 = 2.0
S3_THROUGHPUT = 0.90
STAGING_S = 0.1


@dataclass
class Options:
    size_mb: int
    ranges: tuple[int, ...]
    clients: int
    seconds: float
    nbytes: int
    lat_clients: int
    requests: int
    rounds: int
    workers: int
    hits: int
    sections: tuple[str, ...]


@dataclass
class Figures:
    """Every round's figures, by (section, workload, server)."""

    rounds: dict[tuple[str, str, str], list[Throughput | Latency]] = field(default_factory=dict)
    #: CPU time spent in each round, by role
    cpu: dict[tuple[str, str, str], list[CpuUse]] = field(default_factory=dict)
    staging: Staging | None = None

    def add(self, key: tuple[str, str, str], got: Throughput | Latency, cpu: CpuUse) -> None:
        self.rounds.setdefault(key, []).append(got)
        self.cpu.setdefault(key, []).append(cpu)

    def best_mb_s(self, key: tuple[str, str, str]) -> float:
        return max(r.mb_s for r in self.rounds[key] if isinstance(r, Throughput))

    def best_latency(self, key: tuple[str, str, str]) -> Latency:
        runs = [r for r in self.rounds[key] if isinstance(r, Latency)]
        return min(runs, key=lambda r: r.p95)


# ---------------------------------------------------------------------- servers
def _item(href: str, size: int) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": ITEM,
        "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "assets": {"data": {"href": href, "type": TIFF, "roles": ["data"], "file:size": size}},
        "links": [],
    }


@contextmanager
def gep_serving(href: str, size: int, workers: int, **env: str) -> Iterator[str]:
    """`gep serve` on a fresh home (SQLite) with one public item whose asset is ``href``;
    yields the asset's URL."""
    token = f"gep_bench_{secrets.token_urlsafe(32)}"
    with tempfile.TemporaryDirectory(prefix="gep-bench-gateway-") as home:
        settings = {
            "GEP_HOME": home,
            "GEP_DATABASE_URL": "",
            "GEP_DASK_SCHEDULER": "",
            "GEP_ADMIN_TOKEN": token,
            **env,
        }
        with running_gep(settings, workers=workers) as base:
            auth = {"Authorization": f"Bearer {token}"}
            coll = {"id": COLLECTION, "description": "benchmark", "gep:visibility": "public"}
            items = f"/stac/collections/{COLLECTION}/items"
            for path, body in (("/stac/collections", coll), (items, _item(href, size))):
                r = httpx.post(base + path, json=body, headers=auth, timeout=30)
                if r.status_code != 201:
                    raise RuntimeError(f"POST {path}: {r.status_code} {r.text}")
            url = f"{base}/stac/collections/{COLLECTION}/items/{ITEM}/assets/data"
            r = httpx.head(url, timeout=30)  # anonymous, as the benchmark reads it
            if r.status_code != 200 or int(r.headers["content-length"]) != size:
                raise RuntimeError(f"HEAD {url}: {r.status_code} {dict(r.headers)}")
            yield url


# ---------------------------------------------------------------------- measuring
def listening_processes(url: str) -> tuple[psutil.Process, ...]:
    """The processes that listen on a URL's loopback port (nginx's master and workers share
    the socket)."""
    port = urlsplit(url).port
    pids = {
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid
    }
    if not pids:
        raise RuntimeError(f"no process listens on {url}")
    return tuple(psutil.Process(pid) for pid in sorted(pids))


def _cpu_of(procs: tuple[psutil.Process, ...]) -> float:
    """CPU seconds of processes and their children (nginx's workers, GEP's Dask workers),
    each counted once."""
    seen: dict[int, psutil.Process] = {}
    for proc in procs:
        for p in [proc, *proc.children(recursive=True)]:
            seen.setdefault(p.pid, p)
    total = 0.0
    for p in seen.values():
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


@dataclass
class Served:
    """A server under test: how clients read from it, and the processes that serve (whose CPU
    time is reported beside each figure; the client is this process)."""

    make: ReaderFactory
    procs: tuple[psutil.Process, ...] = ()


@dataclass
class CpuUse:
    """CPU seconds spent during one figure, by role."""

    server: float
    client: float
    store: float  # the S3 server, when there is one

    def per(self, n: float, unit: str) -> str:
        parts = [f"server {self.server / n:.2f}", f"client {self.client / n:.2f}"]
        if self.store:
            parts.append(f"S3 server {self.store / n:.2f}")
        return f"CPU s/{unit}: " + ", ".join(parts)


class _CpuClock:
    def __init__(self, served: Served, store: tuple[psutil.Process, ...]) -> None:
        self.served = served
        self.store = store

    def _now(self) -> tuple[float, float, float]:
        me = psutil.Process().cpu_times()  # this process alone: the servers are its children
        return _cpu_of(self.served.procs), me.user + me.system, _cpu_of(self.store)

    def __enter__(self) -> _CpuClock:
        self._t0 = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        t1 = self._now()
        self.used = CpuUse(*(b - a for a, b in zip(self._t0, t1, strict=True)))


def _measure(
    figures: Figures,
    section: str,
    servers: dict[str, Served],
    cog: Path,
    size: int,
    opt: Options,
    store: tuple[psutil.Process, ...] = (),
) -> None:
    """Every workload on every server, ``rounds`` times, servers alternating."""
    for rnd in range(1, opt.rounds + 1):
        asyncio.run(_round(figures, section, servers, cog, size, opt, rnd, store))


async def _round(
    figures: Figures,
    section: str,
    servers: dict[str, Served],
    cog: Path,
    size: int,
    opt: Options,
    rnd: int,
    store: tuple[psutil.Process, ...],
) -> None:
    for rb in opt.ranges:
        for name, served in servers.items():
            with _CpuClock(served, store) as clock:
                got = await throughput(
                    served.make, size, cog, range_bytes=rb, clients=opt.clients,
                    seconds=opt.seconds,
                )  # fmt: skip
            figures.add((section, f"seq {_mb(rb)}", name), got, clock.used)
            print(f"   round {rnd}  {_mb(rb):>6} sequential ×{opt.clients}  {name:<7} "
                  f"{got.mb_s:7.0f} MB/s  ({got.requests:4d} requests; "
                  f"{clock.used.per(got.bytes / 1e9, 'GB')})")  # fmt: skip
    for name, served in servers.items():
        with _CpuClock(served, store) as clock:
            lat = await latency(
                served.make, size, cog, nbytes=opt.nbytes, clients=opt.lat_clients,
                requests=opt.requests, seed=rnd,
            )  # fmt: skip
        figures.add((section, f"rand {_kb(opt.nbytes)}", name), lat, clock.used)
        cpu = clock.used.per(len(lat.times_ms) / 1e3, "1000 req")
        print(f"   round {rnd}  {_kb(opt.nbytes):>6} random ×{opt.lat_clients}      {name:<7} "
              f"p50 {lat.p50:6.2f}  p95 {lat.p95:6.2f}  p99 {lat.p99:6.2f} ms  "
              f"{lat.per_s:6.0f} req/s  ({cpu})")  # fmt: skip
    for served in servers.values():
        closing = getattr(served.make, "aclose", None)
        if closing is not None:
            await closing()


def _mb(n: int) -> str:
    return f"{n / (1 << 20):g} MB"


def _kb(n: int) -> str:
    return f"{n / 1024:g} kB"


def bench_local(figures: Figures, cog: Path, opt: Options) -> None:
    size = cog.stat().st_size
    print(f"\n1. Range reads of {cog.name} ({size / 1e6:.0f} MB) from local disk "
          f"(page cache warm): GEP's asset route vs nginx {nginx_version()}")  # fmt: skip
    with ExitStack() as stack:
        nginx = stack.enter_context(running_nginx(cog.parent, workers=opt.workers))
        gep = stack.enter_context(
            gep_serving(cog.as_uri(), size, opt.workers, GEP_DATA_ROOTS=str(cog.parent))
        )
        servers = {
            "nginx": Served(
                HttpRangeReader.factory(f"{nginx}/{cog.name}"), listening_processes(nginx)
            ),
            "GEP": Served(HttpRangeReader.factory(gep), listening_processes(gep)),
        }
        _measure(figures, "local", servers, cog, size, opt)


def bench_s3(figures: Figures, cog: Path, opt: Options) -> None:
    size = cog.stat().st_size
    print(f"\n2. Range reads of the same COG on S3 (SeaweedFS {weed_version()}): "
          "GEP's asset route vs s3fs directly")  # fmt: skip
    os.environ.update(CREDENTIALS)  # for gep serve's botocore, as an operator would set them
    with running_seaweed() as endpoint:
        bucket, prefix, key = "gep-bench", "gep", f"bench/{cog.name}"
        fs = s3fs_for(endpoint)
        fs.mkdir(bucket)
        t = time.perf_counter()
        fs.put_file(str(cog), f"{bucket}/{prefix}/{key}")
        print(f"   (uploaded in {time.perf_counter() - t:.1f} s)")
        href = f"s3://{bucket}/{prefix}/{key}"
        env = {"GEP_STORAGE_URL": f"s3://{bucket}/{prefix}", "GEP_S3_ENDPOINT_URL": endpoint}
        redirect = {**env, "GEP_S3_PRESIGNED_REDIRECT": "true"}
        with (
            gep_serving(href, size, opt.workers, **env) as gep,
            gep_serving(href, size, opt.workers, **redirect) as gep_redirect,
        ):
            peer = _S3fsPeer(endpoint, f"{bucket}/{prefix}/{key}")
            servers = {
                "s3fs": Served(peer),  # the client is the whole reader: no server of its own
                "GEP": Served(HttpRangeReader.factory(gep), listening_processes(gep)),
                # GEP checks, then 307 to a presigned URL the client reads the bucket with
                REDIRECT: Served(
                    HttpRangeReader.factory(gep_redirect), listening_processes(gep_redirect)
                ),
            }
            _measure(figures, "s3", servers, cog, size, opt, listening_processes(endpoint))


class _S3fsPeer:
    """The s3fs peer's reader factory: one asynchronous filesystem per round (made in that
    round's event loop, closed at its end), shared by the clients as one program shares it."""

    def __init__(self, endpoint: str, path: str) -> None:
        self.endpoint = endpoint
        self.path = path
        self._fs: Any = None
        self._session: Any = None

    async def __call__(self) -> S3fsRangeReader:
        if self._fs is None:
            self._fs = s3fs_for(self.endpoint, asynchronous=True, skip_instance_cache=True)
            self._session = await self._fs.set_session()
        return S3fsRangeReader(self._fs, self.path)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._fs = self._session = None


def bench_staging(figures: Figures, cog: Path, opt: Options) -> None:
    size = cog.stat().st_size
    print(f"\n3. Staging {cog.name} ({size / 1e6:.0f} MB) for a job (JobContext.stage), its "
          "source an http href on nginx")  # fmt: skip
    with running_nginx(cog.parent, workers=opt.workers) as nginx:
        got = stage_cached(cog, f"{nginx}/{cog.name}", opt.hits)
    figures.staging = got
    print(f"   miss (download + sha256 + size check into the cache): {got.miss_s:.2f} s")
    print(f"   hits ×{len(got.hits_s)}: median {got.hit_median_s * 1e3:.2f} ms, "
          f"max {got.hit_max_s * 1e3:.2f} ms")  # fmt: skip


# ---------------------------------------------------------------------- summary
def summary(figures: Figures, opt: Options) -> list[dict[str, Any]]:
    """Each target beside its figure (best round of each server); ``met`` is None where the
    issue sets no target."""
    rows: list[dict[str, Any]] = []

    def row(figure: str, gep: float, peer: float, peer_name: str, target: str,
            met: bool | None, unit: str, paired: list[float] | None = None) -> None:  # fmt: skip
        rows.append({"figure": figure, "GEP": gep, "peer": peer, "peer_name": peer_name,
                     "unit": unit, "target": target, "met": met,
                     "round_ratios": paired or []})  # fmt: skip

    def paired(key: tuple[str, str], gep: str, peer: str) -> list[float]:
        """GEP / peer within each round (the two ran one after the other: what else ran on
        the machine moved both alike)."""
        ours, theirs = figures.rounds[(*key, gep)], figures.rounds[(*key, peer)]
        out = []
        for a, b in zip(ours, theirs, strict=True):
            if isinstance(a, Throughput) and isinstance(b, Throughput):
                out.append(a.mb_s / b.mb_s)
            elif isinstance(a, Latency) and isinstance(b, Latency):
                out.append(a.p95 / b.p95)
        return out

    for section, peer, floor in (
        ("local", "nginx", LOCAL_THROUGHPUT),
        ("s3", "s3fs", S3_THROUGHPUT),
    ):
        if section not in opt.sections:
            continue
        for gep in ("GEP", REDIRECT):
            label = section if gep == "GEP" else f"{section}, 307 to the bucket"
            w = f"rand {_kb(opt.nbytes)}"
            if (section, w, gep) not in figures.rounds:
                continue
            for rb in opt.ranges:
                ws = f"seq {_mb(rb)}"
                g, p = figures.best_mb_s((section, ws, gep)), figures.best_mb_s((section, ws, peer))
                row(f"{label}: {_mb(rb)} sequential ×{opt.clients}", g, p, peer,
                    f"≥ {floor:.0%} of {peer}", g >= floor * p, "MB/s",
                    paired((section, ws), gep, peer))  # fmt: skip
            g_lat = figures.best_latency((section, w, gep))
            p_lat = figures.best_latency((section, w, peer))
            ok = g_lat.p95 <= LOCAL_P95 * p_lat.p95 if section == "local" else None
            target = f"≤ {LOCAL_P95:g}× {peer}" if section == "local" else "(none)"
            row(f"{label}: p95, random {_kb(opt.nbytes)} ×{opt.lat_clients}", g_lat.p95,
                p_lat.p95, peer, target, ok, "ms", paired((section, w), gep, peer))  # fmt: skip
    if figures.staging is not None:
        st = figures.staging
        row(f"cache-hit staging of {st.size / 1e6:.0f} MB (max of {len(st.hits_s)})",
            st.hit_max_s * 1e3, float("nan"), "–", f"≤ {STAGING_S * 1e3:g} ms",
            st.hit_max_s <= STAGING_S, "ms")  # fmt: skip
    print("\nSummary (best round of each server; then GEP/peer within each round):")
    print(f"   {'figure':<46} {'GEP':>11} {'peer':>15} {'GEP/peer':>9}  {'target':<14} met"
          "  per round")  # fmt: skip
    for r in rows:
        ratio = r["GEP"] / r["peer"] if r["peer"] == r["peer"] and r["peer"] else float("nan")
        peer = f"{r['peer']:.2f} {r['peer_name']}" if r["peer"] == r["peer"] else "–"
        met = {True: "yes", False: "NO", None: "–"}[r["met"]]
        each = " ".join(f"{x:.2f}" for x in r["round_ratios"])
        print(f"   {r['figure']:<46} {r['GEP']:>7.2f} {r['unit']:<4}{peer:>15} {ratio:>9.2f}  "
              f"{r['target']:<14} {met:<4} {each}")  # fmt: skip
    return rows


def _options(args: argparse.Namespace) -> Options:
    if args.quick:
        return Options(8, (1 << 20,), 2, 0.5, 16384, 2, 60, 1, args.workers, 3,
                       tuple(args.only or SECTIONS))  # fmt: skip
    return Options(
        args.size_mb,
        tuple(int(float(x) * (1 << 20)) for x in args.ranges_mb.split(",")),
        args.clients,
        args.seconds,
        args.nbytes,
        args.lat_clients,
        args.requests,
        args.rounds,
        args.workers,
        args.hits,
        tuple(args.only or SECTIONS),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="size of the COG (MiB)")
    ap.add_argument("--ranges-mb", default="4,16", help="sequential range sizes (MiB)")
    ap.add_argument("--clients", type=int, default=4, help="clients of the sequential reads")
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each sequential run")
    ap.add_argument("--nbytes", type=int, default=16384, help="size of a random read")
    ap.add_argument("--lat-clients", type=int, default=4, help="clients of the random reads")
    ap.add_argument("--requests", type=int, default=2000, help="random reads per run")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1,
                    help="gep serve workers, and nginx worker processes")  # fmt: skip
    ap.add_argument("--hits", type=int, default=20, help="cache-hit stagings timed")
    ap.add_argument("--only", action="append", choices=SECTIONS)
    ap.add_argument("--data", type=Path, default=DATA, help="where the COG is kept")
    ap.add_argument(
        "--quick", action="store_true", help="an 8 MB file, 1 MB ranges, half-second runs"
    )
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    opt = _options(args)
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
          f"Python {platform.python_version()}")  # fmt: skip
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    t = time.perf_counter()
    cog = ensure_cog(opt.size_mb, args.data.resolve())
    with open(cog, "rb") as f:  # into the page cache: both servers read from memory
        while f.read(16 << 20):
            pass
    print(f"COG: {cog} ({cog.stat().st_size / 1e6:.0f} MB, ready in "
          f"{time.perf_counter() - t:.1f} s)")  # fmt: skip
    figures = Figures()
    steps: dict[str, Callable[[Figures, Path, Options], None]] = {
        "local": bench_local,
        "s3": bench_s3,
        "staging": bench_staging,
    }
    for name in SECTIONS:
        if name in opt.sections:
            steps[name](figures, cog, opt)
    rows = summary(figures, opt)
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(orjson.dumps(_as_json(figures, rows), option=orjson.OPT_INDENT_2))
    return 0


def _as_json(figures: Figures, rows: list[dict[str, Any]]) -> dict[str, Any]:
    rounds: dict[str, list[dict[str, Any]]] = {}
    for (section, workload, server), runs in figures.rounds.items():
        out: list[dict[str, Any]] = []
        cpus = figures.cpu[(section, workload, server)]
        for r, cpu in zip(runs, cpus, strict=True):
            used = {"cpu_s": {"server": cpu.server, "client": cpu.client, "s3": cpu.store}}
            if isinstance(r, Throughput):
                out.append({"mb_s": r.mb_s, "requests": r.requests, "seconds": r.seconds, **used})
            else:
                out.append({"p50_ms": r.p50, "p95_ms": r.p95, "p99_ms": r.p99,
                            "per_s": r.per_s, **used})  # fmt: skip
        rounds[f"{section} / {workload} / {server}"] = out
    staging = None
    if figures.staging is not None:
        staging = {"size": figures.staging.size, "miss_s": figures.staging.miss_s,
                   "hits_s": list(figures.staging.hits_s)}  # fmt: skip
    clean = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
             for r in rows]  # fmt: skip
    return {"summary": clean, "rounds": rounds, "staging": staging,
            "load_average": os.getloadavg()}  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())

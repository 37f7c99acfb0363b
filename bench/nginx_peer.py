"""nginx serving a folder on a loopback port: the peer of GEP's asset route.

Debian's nginx (``make nginx`` installs ``nginx-light`` when missing) is run in the foreground
(``daemon off``) from a configuration written into a temporary folder, never as the system's
service: static files with ``sendfile``, keep-alive without a request limit, no access log
(GEP's server logs only warnings in the benchmark, so neither pays for a log line per request).

    .venv/bin/python bench/nginx_peer.py FOLDER      # serves FOLDER until Ctrl-C
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from gep_server import free_port

_CONF = """\
daemon off;
master_process on;
{user}worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ image/tiff tif tiff; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        raise RuntimeError("no nginx: run `make nginx` (apt-get install nginx-light)")
    return found


def nginx_version() -> str:
    done = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True, check=False)
    return (done.stderr or done.stdout).strip().removeprefix("nginx version: ")


@contextmanager
def running_nginx(root: Path, port: int | None = None, workers: int = 1) -> Iterator[str]:
    """nginx serving ``root`` on 127.0.0.1; yields its base URL, stops it at the end."""
    port = port or free_port()
    tmp = Path(tempfile.mkdtemp(prefix="gep-bench-nginx-"))
    # as root, the workers would drop to "nobody", who may not read the data folder
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        _CONF.format(user=user, workers=workers, tmp=tmp, port=port, root=root.resolve())
    )
    cmd = [nginx_binary(), "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"nginx exited: {err[-2000:]}")
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("nginx did not answer")
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the master takes its workers with it
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parent / ".data"
    with running_nginx(folder) as url:
        print(f"nginx {nginx_version()} serves {folder} on {url} (Ctrl-C stops it)")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

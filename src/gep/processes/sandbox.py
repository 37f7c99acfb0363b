"""Running an application package's tools confined when no container engine is there.

A deployed package is someone else's code: run on the host it would read whatever the GEP
process can (the database, every user's results, the network behind the server). Where Docker
or Podman answer, cwltool runs each tool in a container, as CWL intends. Where they do not,
cwltool itself runs inside a bubblewrap sandbox (Debian's ``bubblewrap``, unprivileged user
namespaces) that sees only:

* the read-only system (``/usr`` and its ``/bin``, ``/lib`` links) and the Python that runs
  cwltool, read-only;
* the job's staged inputs, read-only, each at its own path;
* the job's scratch and output folders, read-write;
* a private ``/tmp``, ``/proc`` and ``/dev``;
* no network, unless the package declares ``NetworkAccess`` (then the host's network, with
  only the resolver and certificate files of ``/etc``).

Nothing else of the host exists inside: not ``/etc/passwd``, not ``GEP_HOME``, not other
jobs' folders. cwltool runs with ``--no-container`` inside, so the tools it starts inherit the
sandbox.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any


class Runtime(StrEnum):
    """How a deployed package's tools run (``GEP_CWL_RUNTIME``)."""

    DOCKER = "docker"
    PODMAN = "podman"
    BWRAP = "bwrap"
    #: on the host, unconfined: only when an administrator says so
    NONE = "none"
    #: ``auto`` found nothing to confine tools with: packages are refused
    UNAVAILABLE = "unavailable"

    @property
    def confined(self) -> bool:
        return self in (Runtime.DOCKER, Runtime.PODMAN, Runtime.BWRAP)


#: /etc files a networked tool needs to resolve names and check certificates; nothing else of
#: /etc (no passwd, no shadow, no host configuration) is shown
NETWORK_ETC = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def bwrap_works() -> bool:
    """Whether bubblewrap can make a sandbox here (it needs unprivileged user namespaces)."""
    exe = bwrap_path()
    if exe is None:
        return False
    try:
        done = subprocess.run(
            [exe, *_system_binds(), "--unshare-all", "--die-with-parent", "true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for link, target in (("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/sbin", "usr/sbin")):
        args += ["--symlink", target, link]
    if Path("/usr/lib64").exists():
        args += ["--symlink", "usr/lib64", "/lib64"]
    return args


def _python_roots() -> list[Path]:
    """The folders the running interpreter (cwltool's) needs: the venv and its base install,
    wherever they are (a pyenv under /root, /opt, /usr/local…)."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    return sorted(r for r in roots if not str(r).startswith("/usr/") and r != Path("/usr"))


def sandboxed(
    argv: list[str],
    *,
    read_only: Iterable[Path] = (),
    read_write: Iterable[Path] = (),
    network: bool = False,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """``argv`` wrapped in a bubblewrap command line that shows it only what is listed."""
    exe = bwrap_path() or "bwrap"
    args = [exe, *_system_binds(), "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for root in _python_roots():
        args += ["--ro-bind", str(root), str(root)]
    for path in sorted({Path(p) for p in read_only}):
        args += ["--ro-bind", str(path), str(path)]
    for path in sorted({Path(p) for p in read_write}):
        args += ["--bind", str(path), str(path)]
    if network:
        for name in NETWORK_ETC:
            if Path(name).exists():
                args += ["--ro-bind", name, name]
    args += ["--unshare-all", *(["--share-net"] if network else [])]
    args += ["--die-with-parent", "--new-session", "--clearenv"]
    base_env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        **(env or {}),
    }
    for key, value in base_env.items():
        args += ["--setenv", key, value]
    if cwd is not None:
        args += ["--chdir", str(cwd)]
    return [*args, *argv]


def declares_network(doc: Any) -> bool:
    """Whether a CWL document asks for the network (``NetworkAccess`` with ``networkAccess``
    true or an expression, as a requirement or a hint, anywhere in it)."""
    found = False

    def visit(node: Any) -> None:
        nonlocal found
        if found:
            return
        if isinstance(node, dict):
            for key in ("requirements", "hints"):
                for req in _requirements(node.get(key)):
                    if str(req.get("class", "")).split("#")[-1] == "NetworkAccess":
                        value = req.get("networkAccess")
                        if value is not False and str(value).lower() != "false":
                            found = True
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(doc)
    return found


def _requirements(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [r for r in value if isinstance(r, dict)]
    if isinstance(value, dict):  # {Class: {fields}} map form
        return [{"class": k, **(v if isinstance(v, dict) else {})} for k, v in value.items()]
    return []

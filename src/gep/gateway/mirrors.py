"""Mirrors: other places an administrator says a collection's products can be read from.

A product's href may point at an archive that is slow, rate-limited or down, while the same
file sits in a local SAFE archive, an S3 bucket or another HTTP archive (a CDSE or ASF account).
A mirror maps collections to such a place; retrieval (:mod:`gep.gateway.retrieve`) tries
mirrors before the href itself.

Where a product is under a mirror is derived from its asset href, one of two ways:

* without ``match_prefix``: the href's file name (``…/S1A_IW_SLC__….zip`` →
  ``<mirror>/S1A_IW_SLC__….zip``), for flat archives;
* with ``match_prefix``: an href that starts with it has the rest of its text appended to the
  mirror's URL (``https://archive.org/s1/2024/x.zip`` with prefix ``https://archive.org/s1/``
  → ``<mirror>/2024/x.zip``); other hrefs are not in that mirror.

The derived path must be a plain relative path (no ``..``, no empty or absolute parts), so an
href cannot walk a mirror out of its root.

Credentials are given **by reference** only: names of environment variables that the host
retrieving reads at that moment (``token_env``; ``user_env`` + ``password_env``; for S3
``key_env`` + ``secret_env``), or an AWS profile name. So they never enter the database, the
items, the logs or a job's outputs. The variables must be named ``GEP_MIRROR_…``: a mirror
(which an administrator of the API may define) can then never have the server send its own
secrets (``GEP_SECRET_KEY``, ``AWS_SECRET_ACCESS_KEY``…) to a host of their choosing.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import orjson
from sqlalchemy import Engine, text

from gep.core.errors import InvalidInput, NotFound
from gep.gateway.config import GatewayConfig
from gep.io.hrefs import has_parent_step, is_within

#: a mirror serving every collection
ALL_COLLECTIONS = "*"
#: the prefix of every environment variable a mirror may read its credentials from
ENV_PREFIX = "GEP_MIRROR_"
#: when no priority is given (smaller numbers are tried first)
DEFAULT_PRIORITY = 100
MAX_PRIORITY = 1_000_000

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV = re.compile(rf"^{ENV_PREFIX}[A-Z0-9_]{{1,100}}$")
_PROFILE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_COLLECTION = re.compile(r"^[^/\s]{1,256}$")


class MirrorKind(StrEnum):
    """Where a mirror keeps its files."""

    #: a folder inside a data root (``GEP_DATA_ROOTS``): read in place, never copied
    LOCAL = "local"
    #: an S3 prefix (``s3://bucket/prefix``), on AWS or an S3-compatible ``endpoint_url``
    S3 = "s3"
    #: an HTTP(S) archive (``https://host/base``)
    HTTP = "http"


#: the credential references each kind accepts, and the pairs that go together
CREDENTIAL_KEYS: dict[MirrorKind, frozenset[str]] = {
    MirrorKind.LOCAL: frozenset(),
    MirrorKind.S3: frozenset({"key_env", "secret_env", "profile"}),
    MirrorKind.HTTP: frozenset({"user_env", "password_env", "token_env"}),
}
_PAIRS = (("user_env", "password_env"), ("key_env", "secret_env"))


@dataclass(frozen=True)
class Mirror:
    """One mirror, as an administrator declared it (checked by :func:`check_mirror`)."""

    name: str
    kind: MirrorKind
    #: the folder (absolute path), ``s3://bucket/prefix`` or ``http(s)://host/base``
    url: str
    collections: tuple[str, ...]
    priority: int = DEFAULT_PRIORITY
    match_prefix: str = ""
    #: the S3 endpoint of an S3-compatible server; empty = AWS
    endpoint_url: str = ""
    #: where the credentials are (variable names, a profile): references, never values
    credentials: tuple[tuple[str, str], ...] = field(default=())

    def serves(self, collection: str) -> bool:
        return collection in self.collections or ALL_COLLECTIONS in self.collections

    def relative_path(self, href: str) -> str | None:
        """Where the product an asset href names sits under this mirror (a relative POSIX
        path), or None when the href is not in it (see the module's docstring)."""
        if self.match_prefix:
            if not href.startswith(self.match_prefix):
                return None
            rest = href[len(self.match_prefix) :].split("#", 1)[0].split("?", 1)[0]
        else:
            rest = PurePosixPath(urlsplit(href).path).name
        rest = unquote(rest).strip("/")
        parts = rest.split("/")
        if not rest or any(p in ("", ".", "..") for p in parts) or "\\" in rest or "\0" in rest:
            return None
        return rest

    def location(self, href: str) -> str | None:
        """The product's path (local), ``bucket/key`` (S3) or URL (HTTP) in this mirror."""
        rel = self.relative_path(href)
        if rel is None:
            return None
        base = self.url.rstrip("/")
        if self.kind is MirrorKind.LOCAL:
            if base.lower().startswith("file:"):
                base = unquote(urlsplit(base).path).rstrip("/")
            return f"{base}/{rel}"
        if self.kind is MirrorKind.S3:
            return f"{base.removeprefix('s3://')}/{rel}"
        return f"{base}/{quote(rel)}"

    def credential(self, key: str) -> str:
        return dict(self.credentials).get(key, "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": str(self.kind),
            "url": self.url,
            "collections": list(self.collections),
            "priority": self.priority,
            "match_prefix": self.match_prefix,
            "endpoint_url": self.endpoint_url,
            "credentials": dict(self.credentials),
        }


def _text(body: Mapping[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string", field=key)
    return value.strip()


def mirror_from_body(name: str, body: Any) -> Mirror:
    """A :class:`Mirror` from a JSON body (the API, the CLI); shape errors name the member."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object describing the mirror", field="body")
    try:
        kind = MirrorKind(_text(body, "kind"))
    except ValueError:
        raise InvalidInput(
            "kind must be one of: " + ", ".join(k.value for k in MirrorKind), field="kind"
        ) from None
    collections = body.get("collections")
    if isinstance(collections, str):
        collections = [collections]
    if (
        not isinstance(collections, list)
        or not collections
        or not all(isinstance(c, str) for c in collections)
    ):
        raise InvalidInput(
            'collections must be a non-empty list of collection ids ("*" for every one)',
            field="collections",
        )
    priority = body.get("priority", DEFAULT_PRIORITY)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidInput(
            f"priority must be an integer from 0 to {MAX_PRIORITY} (smaller is tried first)",
            field="priority",
        )
    creds = body.get("credentials") or {}
    if not isinstance(creds, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in creds.items()
    ):
        raise InvalidInput(
            "credentials must be an object of references (names of GEP_MIRROR_* environment "
            "variables, or an AWS profile)",
            field="credentials",
        )
    return Mirror(
        name=name,
        kind=kind,
        url=_text(body, "url"),
        collections=tuple(sorted({c.strip() for c in collections})),
        priority=priority,
        match_prefix=_text(body, "match_prefix"),
        endpoint_url=_text(body, "endpoint_url"),
        credentials=tuple(sorted((k, v.strip()) for k, v in creds.items())),
    )


def check_mirror(mirror: Mirror, config: GatewayConfig) -> Mirror:
    """Refuse (400, naming the member) a mirror that is malformed, holds credentials rather
    than references, or (a local one) is not inside a data root. Hosts are checked at every
    retrieval, not here: a host that does not resolve today may tomorrow."""
    if not _NAME.match(mirror.name):
        raise InvalidInput(
            f"mirror name '{mirror.name[:80]}': 1-64 letters, digits, '.', '_' or '-'",
            field="name",
        )
    for c in mirror.collections:
        if not _COLLECTION.match(c):
            raise InvalidInput(f"'{c[:80]}' is not a collection id", field="collections")
    if not 0 <= mirror.priority <= MAX_PRIORITY:
        raise InvalidInput(f"priority must be from 0 to {MAX_PRIORITY}", field="priority")
    if len(mirror.match_prefix) > 2000 or "\0" in mirror.match_prefix:
        raise InvalidInput("match_prefix is at most 2000 characters", field="match_prefix")
    _check_url(mirror, config)
    _check_credentials(mirror)
    return mirror


def _check_url(mirror: Mirror, config: GatewayConfig) -> None:
    url = mirror.url
    if not url or len(url) > 2000 or "\0" in url:
        raise InvalidInput("url is required (at most 2000 characters)", field="url")
    if mirror.kind is MirrorKind.LOCAL:
        path = unquote(urlsplit(url).path) if url.lower().startswith("file:") else url
        real = Path(os.path.realpath(path))
        if (
            not path.startswith("/")
            or has_parent_step(path)
            or not any(is_within(real, root) for root in config._roots)
        ):
            raise InvalidInput(
                f"url '{url[:200]}': a local mirror is a folder inside a data root the "
                "operator declared (GEP_DATA_ROOTS), without '..'",
                field="url",
            )
        return
    if mirror.endpoint_url and mirror.kind is not MirrorKind.S3:
        raise InvalidInput("endpoint_url is for S3 mirrors only", field="endpoint_url")
    if mirror.kind is MirrorKind.S3:
        parts = urlsplit(url)
        if parts.scheme.lower() != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise InvalidInput(
                f"url '{url[:200]}': an S3 mirror is s3://bucket/prefix", field="url"
            )
        if mirror.endpoint_url:
            _check_http(mirror.endpoint_url, "endpoint_url")
        return
    _check_http(url, "url")


def _check_http(url: str, member: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{member} '{url[:200]}' is not an http(s) URL", field=member)
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            f"{member}: credentials may not be written in the URL; name the environment "
            "variables that hold them in 'credentials' (user_env/password_env or token_env)",
            field=member,
        )
    if parts.query or parts.fragment:
        raise InvalidInput(
            f"{member}: no query or fragment (tokens go in credentials)", field=member
        )
    try:
        parts.port  # noqa: B018 — raises on a port that is not a number
    except ValueError:
        raise InvalidInput(f"{member} '{url[:200]}' has an invalid port", field=member) from None


def _check_credentials(mirror: Mirror) -> None:
    creds = dict(mirror.credentials)
    allowed = CREDENTIAL_KEYS[mirror.kind]
    for key, value in creds.items():
        if key not in allowed:
            accepted = ", ".join(sorted(allowed)) or "none"
            raise InvalidInput(
                f"credentials.{key}: a {mirror.kind} mirror takes {accepted}; credentials are "
                "given by reference (names of environment variables), never as values",
                field=f"credentials.{key}",
            )
        pattern = _PROFILE if key == "profile" else _ENV
        if not pattern.match(value):
            what = (
                "an AWS profile name"
                if key == "profile"
                else f"the name of an environment variable starting with {ENV_PREFIX}"
            )
            raise InvalidInput(
                f"credentials.{key} must be {what} (the value itself is never stored)",
                field=f"credentials.{key}",
            )
    for a, b in _PAIRS:
        if (a in creds) != (b in creds):
            raise InvalidInput(f"credentials: {a} and {b} go together", field=f"credentials.{a}")
    if "token_env" in creds and "user_env" in creds:
        raise InvalidInput(
            "credentials: either token_env or user_env/password_env", field="credentials"
        )
    if "profile" in creds and "key_env" in creds:
        raise InvalidInput("credentials: either profile or key_env/secret_env", field="credentials")


def now_us() -> int:
    return time.time_ns() // 1000


_COLS = "name, kind, url, priority, match_prefix, endpoint_url, credentials"


class MirrorStore:
    """The mirrors, in the database every server process and worker shares."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, mirror: Mirror) -> bool:
        """Store a mirror (checked by :func:`check_mirror`); True when it is new, False when
        it replaced one of that name."""
        t = now_us()
        creds = orjson.dumps(dict(mirror.credentials)).decode()
        with self.engine.begin() as conn:
            existed = conn.execute(
                text("SELECT 1 FROM gateway_mirrors WHERE name = :n"), {"n": mirror.name}
            ).first()
            values = {
                "n": mirror.name,
                "k": str(mirror.kind),
                "u": mirror.url,
                "p": mirror.priority,
                "m": mirror.match_prefix,
                "e": mirror.endpoint_url,
                "c": creds,
                "t": t,
            }
            if existed:
                conn.execute(
                    text(
                        "UPDATE gateway_mirrors SET kind = :k, url = :u, priority = :p, "
                        "match_prefix = :m, endpoint_url = :e, credentials = :c, updated = :t "
                        "WHERE name = :n"
                    ),
                    values,
                )
                conn.execute(
                    text("DELETE FROM gateway_mirror_collections WHERE mirror = :n"),
                    {"n": mirror.name},
                )
            else:
                conn.execute(
                    text(
                        f"INSERT INTO gateway_mirrors ({_COLS}, created, updated) "
                        "VALUES (:n, :k, :u, :p, :m, :e, :c, :t, :t)"
                    ),
                    values,
                )
            for collection in mirror.collections:
                conn.execute(
                    text(
                        "INSERT INTO gateway_mirror_collections (mirror, collection) "
                        "VALUES (:n, :c)"
                    ),
                    {"n": mirror.name, "c": collection},
                )
        return existed is None

    def get(self, name: str) -> Mirror:
        found = self._load("WHERE m.name = :n", {"n": name})
        if not found:
            raise NotFound(f"mirror '{name[:80]}' does not exist", field="name")
        return found[0]

    def all(self) -> list[Mirror]:
        return self._load("", {})

    def for_collection(self, collection: str) -> list[Mirror]:
        """The mirrors serving a collection, in the order they are tried."""
        return self._load(
            "WHERE m.name IN (SELECT mirror FROM gateway_mirror_collections "
            "WHERE collection IN (:c, :all))",
            {"c": collection, "all": ALL_COLLECTIONS},
        )

    def remove(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM gateway_mirror_collections WHERE mirror = :n"), {"n": name}
            )
            gone = conn.execute(text("DELETE FROM gateway_mirrors WHERE name = :n"), {"n": name})
        if not gone.rowcount:
            raise NotFound(f"mirror '{name[:80]}' does not exist", field="name")

    def _load(self, where: str, params: dict[str, Any]) -> list[Mirror]:
        cols = ", ".join(f"m.{c.strip()}" for c in _COLS.split(","))
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT {cols} FROM gateway_mirrors m {where}"), params).all()
            names = [r[0] for r in rows]
            served: dict[str, list[str]] = {n: [] for n in names}
            if names:
                marks = ", ".join(f":m{i}" for i in range(len(names)))
                for mirror, collection in conn.execute(
                    text(
                        "SELECT mirror, collection FROM gateway_mirror_collections "
                        f"WHERE mirror IN ({marks})"
                    ),
                    {f"m{i}": n for i, n in enumerate(names)},
                ):
                    served[mirror].append(collection)
        mirrors = [
            Mirror(
                name=r[0],
                kind=MirrorKind(r[1]),
                url=r[2],
                collections=tuple(sorted(served[r[0]])),
                priority=int(r[3]),
                match_prefix=r[4],
                endpoint_url=r[5],
                credentials=tuple(sorted(orjson.loads(r[6]).items())),
            )
            for r in rows
        ]
        return sorted(mirrors, key=lambda m: (m.priority, m.name))

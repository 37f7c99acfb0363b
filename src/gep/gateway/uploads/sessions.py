"""Resumable uploads: a large file sent in chunks, across requests, servers and failures.

A session and its chunks live in GEP's storage, not in a server's memory or disk, so any API
server behind a load balancer takes the next chunk and a client that lost its connection asks
where to resume. They sit under ``tmp/`` (a private area: no href reads it), under the owner's
id, so a session is only ever found by its owner. Each chunk is an object whose name carries its
byte range (``part-<start>-<end>``), which makes "how much has arrived" a listing, not a read.
Sessions expire (a day by default); expired ones are swept when their owner next uploads.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gep.core.errors import NotFound
from gep.core.timeutil import format_rfc3339
from gep.gateway.storage import TMP_AREA, Storage

AREA = f"{TMP_AREA}/upload-sessions"
LIFETIME_S = 24 * 3600.0
_ID = re.compile(r"^[0-9a-f]{32}$")
_PART = re.compile(r"^part-(\d{20})-(\d{20})$")
_META = "session.json"


@dataclass(frozen=True)
class UploadSession:
    id: str
    owner: str
    filename: str
    size: int
    collection: str | None
    created: float
    #: bytes received so far, from the start (chunks arrive in order)
    received: int = 0

    @property
    def complete(self) -> bool:
        return self.received >= self.size

    def expires(self, lifetime_s: float) -> float:
        return self.created + lifetime_s

    def as_dict(self, lifetime_s: float = LIFETIME_S) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "size": self.size,
            "received": self.received,
            "collection": self.collection,
            "created": format_rfc3339(datetime.fromtimestamp(self.created, UTC)),
            "expires": format_rfc3339(datetime.fromtimestamp(self.expires(lifetime_s), UTC)),
        }


class SessionStore:
    """The sessions of every user, in storage."""

    def __init__(self, storage: Storage, lifetime_s: float = LIFETIME_S) -> None:
        self.storage = storage
        self.lifetime_s = lifetime_s

    def _prefix(self, owner: str, session_id: str) -> str:
        return f"{AREA}/{owner}/{session_id}"

    def create(self, owner: str, filename: str, size: int, collection: str | None) -> UploadSession:
        session = UploadSession(uuid.uuid4().hex, owner, filename, size, collection, time.time())
        meta = {
            "filename": filename,
            "size": size,
            "collection": collection,
            "created": session.created,
        }
        self.storage.put_bytes(orjson.dumps(meta), f"{self._prefix(owner, session.id)}/{_META}")
        return session

    def get(self, owner: str, session_id: str) -> UploadSession:
        """The owner's session with what it has received; NotFound for another user's, an
        expired or an unknown one (all alike)."""
        missing = NotFound(f"no upload session '{session_id[:64]}'", field="sessionId")
        if not _ID.match(session_id):
            raise missing
        prefix = self._prefix(owner, session_id)
        try:
            meta = orjson.loads(self.storage.read_range(f"{prefix}/{_META}", 0, 1 << 16))
        except (FileNotFoundError, OSError, orjson.JSONDecodeError):
            raise missing from None
        session = UploadSession(
            session_id,
            owner,
            str(meta["filename"]),
            int(meta["size"]),
            meta.get("collection"),
            float(meta["created"]),
        )
        if session.expires(self.lifetime_s) < time.time():
            self.drop(owner, session_id)
            raise missing
        return replace(session, received=_contiguous(self._parts(prefix)))

    def _parts(self, prefix: str) -> list[tuple[int, int, str]]:
        parts = []
        for key in self.storage.walk(prefix):
            m = _PART.match(key.rsplit("/", 1)[-1])
            if m:
                parts.append((int(m[1]), int(m[2]), key))
        return sorted(parts)

    def add(self, session: UploadSession, start: int, chunk: Path) -> UploadSession:
        """Store a chunk that starts where the received bytes end (the caller checked)."""
        end = start + chunk.stat().st_size
        key = f"{self._prefix(session.owner, session.id)}/part-{start:020d}-{end:020d}"
        self.storage.put_file(chunk, key, move=True)
        return replace(session, received=end)

    def assemble(self, session: UploadSession, dest: Path) -> Path:
        """The chunks, in order, as one local file."""
        with open(dest, "wb") as out:
            for start, _end, key in self._parts(self._prefix(session.owner, session.id)):
                if start >= session.size:
                    break
                with self.storage.open(key) as part:
                    shutil.copyfileobj(part, out, 4 << 20)
        return dest

    def drop(self, owner: str, session_id: str) -> None:
        self.storage.delete_prefix(self._prefix(owner, session_id))

    def reserved(self, owner: str) -> int:
        """Bytes the owner's open sessions will store (their declared sizes), sweeping the
        expired ones."""
        total = 0
        now = time.time()
        seen: set[str] = set()
        for key in list(self.storage.walk(f"{AREA}/{owner}")):
            session_id = key[len(AREA) + len(owner) + 2 :].split("/", 1)[0]
            if session_id in seen or not _ID.match(session_id):
                continue
            seen.add(session_id)
            prefix = self._prefix(owner, session_id)
            try:
                meta = orjson.loads(self.storage.read_range(f"{prefix}/{_META}", 0, 1 << 16))
                created, size = float(meta["created"]), int(meta["size"])
            except (FileNotFoundError, OSError, orjson.JSONDecodeError, KeyError, ValueError):
                continue  # being written or dropped right now
            if created + self.lifetime_s < now:
                self.drop(owner, session_id)
                continue
            total += size
        return total


def _contiguous(parts: list[tuple[int, int, str]]) -> int:
    """How many bytes from the start the parts hold without a gap."""
    offset = 0
    for start, end, _ in parts:
        if start > offset:
            break
        offset = max(offset, end)
    return offset

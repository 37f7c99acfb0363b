"""GEP's own files — job outputs, uploads, the cache — behind one interface over fsspec.

A local folder by default (``file://…``), an S3 bucket for scale (``s3://bucket/prefix``, with
``GEP_S3_ENDPOINT_URL`` for S3-compatible servers such as SeaweedFS or MinIO; credentials and
region come from the usual ``AWS_*`` variables, read by botocore on each host). Everything above
names files by *key* (``jobs/<id>/outputs/x.tif``), never by path, so a worker on another host
with an empty ``GEP_HOME`` writes where the server reads.

Writes are atomic: a file is written under a temporary key and only then given its final name
(``os.replace`` on a folder; copy-then-delete on S3), so a job killed halfway never leaves a
half-written result under the name a reader would open.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import fsspec
from fsspec.asyn import sync

from gep.core.errors import ServiceUnavailable
from gep.io.hrefs import local_path

#: temporary keys live here until renamed (a private storage area: no href reads it)
TMP_AREA = "tmp"
#: how long an object's size and ETag are believed without asking again (S3), and how many
INFO_TTL_S = 2.0
INFO_CACHE_SIZE = 4096


class StorageError(Exception):
    """A storage key that is not a plain relative path, or a URL that names no storage."""


class StorageUnavailable(ServiceUnavailable):
    """The object store failed after its retries (HTTP 503)."""

    kind = "storage-unavailable"


@dataclass(frozen=True)
class StoredFile:
    """What the HTTP route needs to answer conditional and range requests."""

    key: str
    size: int
    mtime: float
    etag: str


@dataclass(frozen=True)
class StorageConfig:
    """The storage's location as plain values (it travels to Dask workers with each job)."""

    url: str
    s3_endpoint_url: str = ""


def check_key(key: str) -> str:
    """A key is a relative POSIX path without ``..``, empty or absolute parts."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts) or "\\" in key or "\0" in key:
        raise StorageError(f"'{key}' is not a storage key (a relative path without '..')")
    return key


class Storage:
    """One storage location (a folder or an S3 prefix) and the operations GEP needs on it."""

    def __init__(self, config: StorageConfig) -> None:
        self.config = config
        url = config.url.rstrip("/")
        parts = urlsplit(url)
        self.protocol = parts.scheme.lower() or "file"
        if self.protocol == "file":
            self.root = os.path.realpath(unquote(parts.path) if parts.scheme else url)
            self.url = Path(self.root).as_uri()
        elif self.protocol in ("s3", "s3a"):
            self.protocol = "s3"
            if not parts.netloc:
                raise StorageError(f"'{config.url}' names no bucket (s3://bucket/prefix)")
            self.root = (parts.netloc + parts.path).rstrip("/")
            self.url = f"s3://{self.root}"
        else:
            raise StorageError(
                f"storage URL '{config.url}': only file:// (a folder) and s3://bucket/prefix "
                "are supported"
            )
        #: recent S3 HEAD answers (see :meth:`info`)
        self._infos: dict[str, tuple[float, StoredFile]] = {}

    @classmethod
    def from_url(cls, url: str, s3_endpoint_url: str = "") -> Storage:
        return cls(StorageConfig(url, s3_endpoint_url))

    @property
    def is_local(self) -> bool:
        return self.protocol == "file"

    @property
    def local_root(self) -> Path | None:
        """The folder, for local storage (files are then read in place, never copied)."""
        return Path(self.root) if self.is_local else None

    @cached_property
    def fs(self) -> fsspec.AbstractFileSystem:
        if self.is_local:
            return fsspec.filesystem("file")
        # botocore's standard retries: an S3 server answering 500/503 under load (SeaweedFS
        # does) is retried with backoff rather than failing the write
        kwargs: dict[str, Any] = {
            "config_kwargs": {"retries": {"max_attempts": 8, "mode": "standard"}}
        }
        if self.config.s3_endpoint_url:
            kwargs["client_kwargs"] = {"endpoint_url": self.config.s3_endpoint_url}
        # listings cached by s3fs would hide files another process just wrote
        return fsspec.filesystem("s3", use_listings_cache=False, **kwargs)

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """An object store that fails (after botocore's retries) is the server's trouble, not
        the caller's: 503 naming the storage, never a 500; a missing object stays a
        FileNotFoundError for the caller to answer."""
        try:
            yield
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise
        except OSError as exc:
            raise StorageUnavailable(
                f"the storage ({self.url}) did not answer: {exc}; try again later",
                field="storage",
            ) from exc

    # ------------------------------------------------------------------ names
    def path(self, key: str) -> str:
        """The fsspec path of a key (a local path, or ``bucket/prefix/key``)."""
        return f"{self.root}/{check_key(key)}"

    def href(self, key: str) -> str:
        """The storage URL of a key, as stored in items (``file:///…`` or ``s3://…``)."""
        if self.is_local:
            return Path(self.path(key)).as_uri()
        return f"s3://{self.path(key)}"

    def key_of(self, href: str) -> str | None:
        """The key a storage href names, or None when it is not in this storage (a ``..``
        anywhere is never a key)."""
        text = href.strip()
        if self.is_local:
            if text.lower().startswith("file:"):
                parts = urlsplit(text)
                if parts.netloc not in ("", "localhost"):
                    return None
                text = unquote(parts.path)
            if not text.startswith("/") or ".." in PurePosixPath(text).parts:
                return None
            rel = os.path.relpath(os.path.realpath(text), self.root)
        else:
            parts = urlsplit(text)
            if parts.scheme.lower() not in ("s3", "s3a"):
                return None
            full = unquote(parts.netloc + parts.path)
            if not full.startswith(self.root + "/"):
                return None
            rel = full[len(self.root) + 1 :]
        try:
            return check_key(rel) if not rel.startswith("..") else None
        except StorageError:
            return None

    # ------------------------------------------------------------------ reads
    def info(self, key: str) -> StoredFile:
        """Size, modification time and an ETag; FileNotFoundError when absent (or a folder).

        On S3 an answer is kept for INFO_TTL_S: GDAL reads a COG by many small ranges, and a
        HEAD before each would double the object store's requests. Keys are written whole
        (atomically) and rarely rewritten, so a second-old answer is a safe one."""
        if not self.is_local:
            cached = self._infos.get(key)
            if cached is not None and time.monotonic() - cached[0] < INFO_TTL_S:
                return cached[1]
            found = self._info(key)
            if len(self._infos) >= INFO_CACHE_SIZE:
                self._infos.clear()
            self._infos[key] = (time.monotonic(), found)
            return found
        return self._info(key)

    def _info(self, key: str) -> StoredFile:
        path = self.path(key)
        if self.is_local:
            st = os.stat(path)
            if not os.path.isfile(path):
                raise FileNotFoundError(key)
            return StoredFile(key, st.st_size, st.st_mtime, f'"{st.st_size:x}-{st.st_mtime_ns:x}"')
        with self._answering():
            meta = self.fs.info(path)
        if meta.get("type") != "file":
            raise FileNotFoundError(key)
        mtime = meta.get("LastModified")
        stamp = mtime.timestamp() if hasattr(mtime, "timestamp") else 0.0
        tag = str(meta.get("ETag") or f"{meta['size']:x}-{int(stamp * 1e6):x}").strip('"')
        return StoredFile(key, int(meta["size"]), stamp, f'"{tag}"')

    def exists(self, key: str) -> bool:
        try:
            self.info(key)
        except (FileNotFoundError, OSError):
            return False
        return True

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start``–``end`` (end exclusive) of a stored file."""
        if end <= start:
            return b""
        if self.is_local:
            with open(self.path(key), "rb") as f:
                f.seek(start)
                return f.read(end - start)
        with self._answering():
            return bytes(self.fs.cat_file(self.path(key), start=start, end=end))

    def stream_range(
        self, key: str, start: int, end: int, chunk: int
    ) -> Generator[bytes, None, None]:
        """Bytes ``start``–``end`` of a stored file in pieces of at most ``chunk``: on S3 one
        ranged GET whose body is read as it arrives (not one request per piece), so a large
        range costs the object store one request."""
        if end <= start:
            return
        if self.is_local:
            with open(self.path(key), "rb") as f:
                f.seek(start)
                left = end - start
                while left > 0:
                    data = f.read(min(chunk, left))
                    if not data:
                        return
                    left -= len(data)
                    yield data
            return
        bucket, _, name = self.path(key).partition("/")
        fs: Any = self.fs
        with self._answering():
            answer = sync(
                fs.loop, fs._call_s3, "get_object", Bucket=bucket, Key=name,
                Range=f"bytes={start}-{end - 1}",
            )  # fmt: skip
        body = answer["Body"]
        try:
            while True:
                with self._answering():
                    data = sync(fs.loop, body.read, chunk)
                if not data:
                    return
                yield bytes(data)
        finally:
            body.close()

    def open(self, key: str) -> IO[bytes]:
        return self.fs.open(self.path(key), "rb")  # type: ignore[no-any-return]

    def get_file(self, key: str, dest: Path) -> Path:
        """A local copy of a stored file (written beside ``dest``, then renamed)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            if self.is_local:
                shutil.copyfile(self.path(key), part)
            else:
                with self._answering():
                    self.fs.get_file(self.path(key), str(part))
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)
        return dest

    def walk(self, prefix: str) -> Iterator[str]:
        """The keys under a prefix (files only)."""
        for key, _ in self._listing(prefix):
            yield key

    def size_of(self, prefix: str) -> int:
        """Bytes under a prefix, from the one listing (no request per file)."""
        return sum(size for _, size in self._listing(prefix))

    def _listing(self, prefix: str) -> Iterator[tuple[str, int]]:
        base = self.path(prefix)
        if self.is_local and not os.path.isdir(base):
            return
        try:
            with self._answering():
                found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return
        root = self.root + "/"
        for path, meta in found.items():
            if meta.get("type") != "file":  # S3 servers may list folder markers
                continue
            text = str(path)
            if self.is_local:
                text = os.path.realpath(text)
            if text.startswith(root):
                yield text[len(root) :], int(meta.get("size") or 0)

    # ------------------------------------------------------------------ writes
    def put_file(self, local: Path, key: str, *, move: bool = False) -> str:
        """Store a local file under ``key`` atomically; returns its href. ``move`` lets a local
        storage take the file by renaming it (same filesystem) instead of copying it."""
        final = self.path(key)
        if self.is_local:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            part = f"{os.path.dirname(final)}/.{os.path.basename(final)}.{uuid.uuid4().hex}.part"
            try:
                if move:
                    try:
                        os.rename(local, part)
                    except OSError:  # another filesystem: copy instead
                        shutil.copyfile(local, part)
                else:
                    shutil.copyfile(local, part)
                os.replace(part, final)
            finally:
                if os.path.exists(part):
                    os.unlink(part)
            return self.href(key)
        self._s3_atomic(final, lambda tmp: self.fs.put_file(str(local), tmp))
        return self.href(key)

    def put_bytes(self, data: bytes, key: str) -> str:
        """Store bytes under ``key`` atomically; returns its href."""
        final = self.path(key)
        if self.is_local:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            part = f"{os.path.dirname(final)}/.{os.path.basename(final)}.{uuid.uuid4().hex}.part"
            try:
                with open(part, "wb") as f:
                    f.write(data)
                os.replace(part, final)
            finally:
                if os.path.exists(part):
                    os.unlink(part)
            return self.href(key)
        self._s3_atomic(final, lambda tmp: self.fs.pipe_file(tmp, data))
        return self.href(key)

    def _s3_atomic(self, final: str, write: Callable[[str], object]) -> None:
        """Write an object under a temporary key, then copy it to its final key (an object
        appears whole or not at all, and never under its final name half-written)."""
        self._infos.pop(final[len(self.root) + 1 :], None)
        tmp = self.path(f"{TMP_AREA}/{uuid.uuid4().hex}")
        try:
            with self._answering():
                write(tmp)
                self.fs.copy(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(tmp)

    def store_folder(
        self,
        folder: Path,
        prefix: str,
        items: list[dict[str, Any]],
        *,
        move: bool = False,
        keep_same_size: bool = False,
    ) -> int:
        """Store every file under a local folder below ``prefix`` (each atomically), then
        point the items' asset hrefs that name those files at their stored copies, so no
        item ever names a file before it is stored. ``keep_same_size`` skips files already
        stored with the same size (a re-seeded demo). Returns the bytes stored."""
        stored: dict[str, str] = {}
        size = 0
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            real = os.path.realpath(path)
            length = path.stat().st_size
            if keep_same_size and self._has(key, length):
                stored[real] = self.href(key)
                continue
            stored[real] = self.put_file(path, key, move=move)
            size += length
        for item in items:
            for asset in (item.get("assets") or {}).values():
                local = (
                    local_path(str(asset.get("href") or "")) if isinstance(asset, dict) else None
                )
                if local is not None and os.path.realpath(local) in stored:
                    asset["href"] = stored[os.path.realpath(local)]
        return size

    def _has(self, key: str, size: int) -> bool:
        try:
            return self.info(key).size == size
        except (FileNotFoundError, OSError):
            return False

    def delete(self, key: str) -> None:
        self._infos.pop(key, None)
        with contextlib.suppress(FileNotFoundError), self._answering():
            self.fs.rm_file(self.path(key))

    def delete_prefix(self, prefix: str) -> int:
        """Remove every file under a prefix; returns how many."""
        keys = list(self.walk(prefix))
        for key in keys:
            self.delete(key)
        if self.is_local:
            shutil.rmtree(self.path(prefix), ignore_errors=True)
        return len(keys)

    def ensure(self) -> None:
        """Create the folder or the bucket when missing (start-up, tests)."""
        if self.is_local:
            os.makedirs(self.root, exist_ok=True)
            return
        bucket = self.root.split("/", 1)[0]
        with self._answering():
            if not self.fs.exists(bucket):
                self.fs.mkdir(bucket)

"""The load the gateway benchmark puts on each server: HTTP range reads, and the same reads
through s3fs, measured the same way.

One client for every HTTP server (GEP's asset route, nginx): raw keep-alive HTTP/1.1 over
asyncio sockets (``BufferedProtocol`` reading into one preallocated buffer per connection), so
that the client's own cost is as small as it can be in Python and the same for both servers
(on 2 cores the client shares the machine with the server it measures; httpx would spend more
of it). Each concurrent client owns one connection.

Two workloads:

* :func:`throughput` — ``clients`` readers, each reading its stripe of the file sequentially
  in ranges of ``range_bytes`` for ``seconds``: MB/s over the whole run (requests under way at
  the deadline are finished and counted);
* :func:`latency` — ``requests`` reads of ``nbytes`` at random offsets (the same offsets for
  every server: ``seed``) spread over ``clients`` connections: p50/p95/p99 from request sent
  to last byte received, and requests/s.

Every response is checked: status 206, ``Content-Range`` and length as asked; the bodies of the
first read of each throughput client and of every latency read are compared with the file's
bytes (after the clock stops), so a server that answers quickly with the wrong bytes fails the
benchmark instead of winning it.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

#: bytes a connection reads at a time
_BUFFER = 1 << 20


class BenchError(Exception):
    """A server answered something other than the bytes asked for."""


class RangeReader(Protocol):
    """One client's way of reading byte ranges ``[start, end)`` of the benchmark's file."""

    async def read(self, start: int, end: int, keep: bool) -> bytes | int: ...

    async def close(self) -> None: ...


ReaderFactory = Callable[[], Awaitable[RangeReader]]


# ---------------------------------------------------------------------- raw HTTP client
class _Response:
    __slots__ = ("body", "head", "length", "status")

    def __init__(self) -> None:
        self.status = 0
        self.head: dict[str, str] = {}
        self.length = 0
        self.body = bytearray()


class _HttpProtocol(asyncio.BufferedProtocol):
    """One keep-alive connection; one request at a time (no pipelining)."""

    def __init__(self) -> None:
        self._buf = bytearray(_BUFFER)
        self._view = memoryview(self._buf)
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[_Response] | None = None
        self._resp = _Response()
        self._head = bytearray()
        self._in_body = False
        self._left = 0
        self._keep = False
        self._lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        data: Any = self._view[:nbytes]
        if not self._in_body:
            self._head += data
            cut = self._head.find(b"\r\n\r\n")
            if cut < 0:
                return
            self._start_body(bytes(self._head[:cut]))
            data = self._head[cut + 4 :]
            self._head = bytearray()
        if len(data) > self._left:
            self._fail(BenchError(f"{len(data) - self._left} bytes past Content-Length"))
            return
        if self._keep:
            self._resp.body += data
        self._left -= len(data)
        if self._left == 0:
            self._done()

    def _start_body(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        self._resp.status = int(parts[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self._resp.head[name.strip().lower()] = value.strip()
        if "content-length" not in self._resp.head:
            self._fail(BenchError(f"no Content-Length in {lines[0]!r}: {self._resp.head}"))
            return
        self._left = self._resp.length = int(self._resp.head["content-length"])
        self._in_body = True

    def _done(self) -> None:
        resp, self._resp = self._resp, _Response()
        self._in_body = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(resp)

    def _fail(self, exc: BaseException) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or ConnectionResetError("connection closed by the server")
        self._fail(self._lost)

    async def request(self, raw: bytes, keep: bool) -> _Response:
        if self._lost is not None or self.transport is None:
            raise BenchError(f"connection lost: {self._lost}")
        self._keep = keep
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self._waiter


class HttpRangeReader:
    """Range reads of one URL over one keep-alive connection; a redirect (GEP's presigned
    S3 URLs) is followed on a keep-alive connection of its own to the target's host, every
    time, as a client that does not cache redirects reads."""

    def __init__(self, proto: _HttpProtocol, host: str, port: int, path: str) -> None:
        self.proto = proto
        self._prefix = _request_prefix(host, port, path)
        self._elsewhere: dict[tuple[str, int], _HttpProtocol] = {}

    @classmethod
    def factory(cls, url: str) -> ReaderFactory:
        host, port, path = _split(url)

        async def make() -> RangeReader:
            return cls(await _connect(host, port), host, port, path)

        return make

    async def read(self, start: int, end: int, keep: bool) -> bytes | int:
        tail = f"{start}-{end - 1}\r\n\r\n".encode()
        resp = await self.proto.request(self._prefix + tail, keep)
        if resp.status in (301, 302, 303, 307, 308) and "location" in resp.head:
            host, port, path = _split(resp.head["location"])
            proto = self._elsewhere.get((host, port))
            if proto is None or proto._lost is not None:
                proto = self._elsewhere[(host, port)] = await _connect(host, port)
            resp = await proto.request(_request_prefix(host, port, path) + tail, keep)
        want = f"bytes {start}-{end - 1}/"
        if resp.status != 206 or not resp.head.get("content-range", "").startswith(want):
            raise BenchError(
                f"range {start}-{end - 1}: HTTP {resp.status}, Content-Range "
                f"{resp.head.get('content-range')!r}: {bytes(resp.body[:300])!r}"
            )
        if resp.length != end - start:
            raise BenchError(f"range {start}-{end - 1}: {resp.length} bytes")
        return bytes(resp.body) if keep else resp.length

    async def close(self) -> None:
        for proto in (self.proto, *self._elsewhere.values()):
            if proto.transport is not None:
                proto.transport.close()


def _split(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts.hostname or "127.0.0.1", parts.port or 80, path


def _request_prefix(host: str, port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nRange: bytes=".encode()


async def _connect(host: str, port: int) -> _HttpProtocol:
    _, proto = await asyncio.get_running_loop().create_connection(_HttpProtocol, host, port)
    return proto


# ---------------------------------------------------------------------- s3fs, directly
class S3fsRangeReader:
    """Range reads of one object with s3fs's own asynchronous API (one GET per range), as a
    notebook or a Dask worker that holds the bucket's credentials reads it."""

    def __init__(self, fs: Any, path: str) -> None:
        self.fs = fs
        self.path = path

    async def read(self, start: int, end: int, keep: bool) -> bytes | int:
        data = await self.fs._cat_file(self.path, start=start, end=end)
        if len(data) != end - start:
            raise BenchError(f"s3fs range {start}-{end - 1}: {len(data)} bytes")
        return bytes(data) if keep else len(data)

    async def close(self) -> None:  # the filesystem (and its pool) is shared by the clients
        return None


# ---------------------------------------------------------------------- workloads
@dataclass(frozen=True)
class Throughput:
    range_bytes: int
    clients: int
    seconds: float
    requests: int
    bytes: int

    @property
    def mb_s(self) -> float:
        return self.bytes / self.seconds / 1e6


@dataclass(frozen=True)
class Latency:
    nbytes: int
    clients: int
    seconds: float
    times_ms: tuple[float, ...]

    def pct(self, q: float) -> float:
        s = sorted(self.times_ms)
        return s[min(len(s) - 1, int(q / 100 * len(s)))]

    @property
    def p50(self) -> float:
        return self.pct(50)

    @property
    def p95(self) -> float:
        return self.pct(95)

    @property
    def p99(self) -> float:
        return self.pct(99)

    @property
    def per_s(self) -> float:
        return len(self.times_ms) / self.seconds


def _check(truth: Path, got: list[tuple[int, bytes]]) -> None:
    with open(truth, "rb") as f:
        for start, body in got:
            if os.pread(f.fileno(), len(body), start) != body:
                raise BenchError(f"the bytes at {start} (+{len(body)}) are not the file's")


async def throughput(
    make: ReaderFactory,
    size: int,
    truth: Path,
    *,
    range_bytes: int,
    clients: int,
    seconds: float,
) -> Throughput:
    """MB/s of ``clients`` sequential readers, each on its stripe of the file."""
    readers = [await make() for _ in range(clients)]
    stripe = size // clients // range_bytes * range_bytes
    kept: list[tuple[int, bytes]] = []
    counts = [0, 0]
    deadline = 0.0

    async def one(reader: RangeReader, k: int) -> None:
        pos = k * stripe
        first = True
        while time.perf_counter() < deadline:
            if pos >= size:
                pos = 0
            end = min(size, pos + range_bytes)
            got = await reader.read(pos, end, first)
            if first:
                assert isinstance(got, bytes)
                kept.append((pos, got))
                first = False
            counts[0] += 1
            counts[1] += end - pos
            pos = end

    try:
        await readers[0].read(0, min(size, 1 << 16), False)  # connection and server warm
        t0 = time.perf_counter()
        deadline = t0 + seconds
        await asyncio.gather(*(one(r, k) for k, r in enumerate(readers)))
        elapsed = time.perf_counter() - t0
    finally:
        for r in readers:
            await r.close()
    _check(truth, kept)
    return Throughput(range_bytes, clients, elapsed, counts[0], counts[1])


def random_offsets(size: int, nbytes: int, n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(0, size - nbytes) for _ in range(n)]


async def latency(
    make: ReaderFactory,
    size: int,
    truth: Path,
    *,
    nbytes: int,
    clients: int,
    requests: int,
    warmup: int = 20,
    seed: int = 0,
) -> Latency:
    """Per-request latency of ``requests`` random reads of ``nbytes`` over ``clients``
    connections (each takes the next offset when its previous read is done)."""
    readers = [await make() for _ in range(clients)]
    offsets = random_offsets(size, nbytes, requests + warmup, seed)
    warm, timed = offsets[:warmup], offsets[warmup:]
    times: list[float] = []
    kept: list[tuple[int, bytes]] = []
    queue = list(reversed(timed))

    async def one(reader: RangeReader) -> None:
        while queue:
            start = queue.pop()
            t = time.perf_counter()
            body = await reader.read(start, start + nbytes, True)
            times.append((time.perf_counter() - t) * 1e3)
            assert isinstance(body, bytes)
            kept.append((start, body))

    try:
        for k, start in enumerate(warm):
            await readers[k % clients].read(start, start + nbytes, False)
        t0 = time.perf_counter()
        await asyncio.gather(*(one(r) for r in readers))
        elapsed = time.perf_counter() - t0
    finally:
        for r in readers:
            await r.close()
    _check(truth, kept)
    return Latency(nbytes, clients, elapsed, tuple(times))

"""A real local HTTP server that replays recorded archive responses (for the harvest tests).

Routes match on method and path, then on an optional predicate over the request (its query and
JSON body), so one path can serve several recorded pages. Absolute URLs of the recorded host in
a body are rewritten to this server, so the ``next`` links a recording carries lead back here.
Faults are injected per path: the next N requests fail with a status (and ``Retry-After``), or
wait before answering, which is how the tests cut a harvest off midway.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Route:
    method: str
    path: str
    body: bytes
    content_type: str
    match: Callable[[Request], bool] | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    remaining: int
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    match: Callable[[Request], bool] | None = None


class ReplayServer:
    def __init__(self, rewrite: dict[str, str] | None = None) -> None:
        #: recorded URL prefix -> the path that replaces it on this server ("" keeps the rest
        #: of the URL as it is): ``{"https://host/odata/v1/Products": "/odata/v1/Products"}``
        #: sends the recorded next links here and leaves the other URLs of that host alone
        self.rewrite = rewrite or {}
        self.routes: list[Route] = []
        self.faults: dict[str, list[Fault]] = {}
        self.requests: list[Request] = []
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(
        self,
        method: str,
        path: str,
        body: bytes | str | Any,
        content_type: str = "application/json",
        match: Callable[[Request], bool] | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``method path`` (when ``match`` accepts the request) with ``body`` and
        ``headers`` (CMR's ``CMR-Search-After``, say)."""
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        raw = body.encode() if isinstance(body, str) else body
        for recorded, local in self.rewrite.items():
            raw = raw.replace(recorded.encode(), (self.url + local).encode())
        self.routes.append(
            Route(method.upper(), path, raw, content_type, match, status, dict(headers or {}))
        )

    def fail(
        self,
        path: str,
        times: int,
        status: int = 503,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
        match: Callable[[Request], bool] | None = None,
    ) -> None:
        """The next ``times`` requests to ``path`` (that ``match``) fail with ``status``
        (after ``delay_s``); ``status=0`` answers normally, only late."""
        fault = Fault(times, status, headers or {}, delay_s, match)
        self.faults.setdefault(path, []).append(fault)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep the test output quiet
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(
                    method,
                    parts.path,
                    parse_qs(parts.query),
                    self.rfile.read(length),
                    {k.lower(): v for k, v in self.headers.items()},
                )
                with server._lock:
                    server.requests.append(req)
                    fault = None
                    for f in server.faults.get(parts.path, []):
                        if f.remaining > 0 and (f.match is None or f.match(req)):
                            f.remaining -= 1
                            fault = f
                            break
                server.arrived.set()
                if fault is not None:
                    if fault.delay_s:
                        time.sleep(fault.delay_s)
                    if fault.status:
                        self._send(
                            fault.status,
                            b'{"error": "injected"}',
                            "application/json",
                            fault.headers,
                        )
                        return
                for route in server.routes:
                    same = route.method == method and route.path == parts.path
                    if same and (route.match is None or route.match(req)):
                        self._send(route.status, route.body, route.content_type, route.headers)
                        return
                self._send(404, b'{"error": "not recorded"}', "application/json", {})

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        return Handler

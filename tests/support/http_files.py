"""A small real HTTP server on loopback for the gateway tests: a file, a redirect, a file that
says it is 2 GB, and a stream without a length that never ends (until the client stops)."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FileServer:
    """``/<name>`` serves a registered file; ``/redirect?to=URL`` answers 302 to URL;
    ``/huge.tif`` declares 2 000 000 000 bytes; ``/endless.tif`` streams with no length."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.hits.append(self.path)
                path, _, query = self.path.partition("?")
                if path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", query.removeprefix("to="))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path == "/huge.tif":
                    self.send_response(200)
                    self.send_header("Content-Length", "2000000000")
                    self.end_headers()
                    with contextlib.suppress(OSError):  # the client hangs up
                        self.wfile.write(b"\0" * 65536)
                elif path == "/endless.tif":
                    self.send_response(200)
                    self.end_headers()
                    self.close_connection = True
                    try:
                        while True:
                            self.wfile.write(b"\0" * 65536)
                    except OSError:
                        pass
                elif path.lstrip("/") in server.files:
                    body = server.files[path.lstrip("/")]
                    self.send_response(200)
                    self.send_header("Content-Type", "image/tiff")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add(self, name: str, path: Path) -> str:
        self.files[name] = path.read_bytes()
        return f"{self.url}/{name}"

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

"""A size cap on every request body (``GEP_MAX_BODY_BYTES``), enforced before a route reads it.

Routes read their bodies whole (``request.body()``), so without a cap a few anonymous 100 MB
requests hold hundreds of megabytes of memory. A declared ``Content-Length`` past the cap is
answered 413 at once, the body unread; a body without one (chunked) is counted as it arrives
and cut off the moment it passes the cap, so no more than the cap (plus the one chunk that
crossed it) is ever held.

Routes that stream their bodies to disk instead (uploads) get a cap of their own, by path
prefix (``routes``): an upload may be as large as a user's whole storage quota, and the route
holds it to what is left of it as it arrives.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gep.api.errors import problem, status_of
from gep.core.errors import PayloadTooLarge


def _too_large(limit: int, setting: str = "GEP_MAX_BODY_BYTES") -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than {limit} bytes, the most this server accepts "
        f"({setting}); send a smaller one",
        field="body",
        limit=limit,
    )


class BodyLimit:
    """ASGI middleware: 413 problem+json for a request body over ``max_bytes``."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, routes: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: path → its own cap (uploads: the storage quota); a path ending in ``/`` stands for
        #: every path below it
        self.routes = dict(routes or {})

    def _limit(self, scope: Scope) -> tuple[int, str]:
        path = str(scope.get("path", ""))
        for route, limit in self.routes.items():
            if path == route or (route.endswith("/") and path.startswith(route)):
                return limit, "the upload quota, GEP_UPLOAD_QUOTA_BYTES"
        return self.max_bytes, "GEP_MAX_BODY_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self._limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, limit, setting)
            return
        received = 0
        tripped = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, tripped
            if tripped:  # the route asked again: it gets no more of the body
                raise _too_large(limit, setting)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    tripped = True
                    raise _too_large(limit, setting)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if tripped and not started:
                return  # whatever the route made of the cut-off body, the answer is a 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            # whatever the route raised once the body was cut off (PayloadTooLarge itself,
            # or a parser's error about the missing rest) is answered by the 413
            if not tripped or started:
                raise
        if tripped and not started:
            await self._refuse(scope, send, limit, setting)

    async def _refuse(self, scope: Scope, send: Send, limit: int, setting: str) -> None:
        exc = _too_large(limit, setting)
        status, title = status_of(exc)
        response = problem(
            status,
            title,
            exc.message,
            scope.get("path", ""),
            exc.kind,
            {"Connection": "close"},
            field=exc.field,
            **exc.extra,
        )

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None

"""A size cap on every request body (``GEP_MAX_BODY_BYTES``), enforced before a route reads it.

Routes read their bodies whole (``request.body()``), so without a cap a few anonymous 100 MB
requests hold hundreds of megabytes of memory. A declared ``Content-Length`` past the cap is
answered 413 at once, the body unread; a body without one (chunked) is counted as it arrives
and cut off the moment it passes the cap, so no more than the cap (plus the one chunk that
crossed it) is ever held.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gep.api.errors import problem, status_of
from gep.core.errors import PayloadTooLarge


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than {limit} bytes, the most this server accepts "
        "(GEP_MAX_BODY_BYTES); send a smaller one",
        field="body",
        limit=limit,
    )


class BodyLimit:
    """ASGI middleware: 413 problem+json for a request body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        tripped = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, tripped
            if tripped:  # the route asked again: it gets no more of the body
                raise _too_large(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    tripped = True
                    raise _too_large(self.max_bytes)
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
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        exc = _too_large(self.max_bytes)
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

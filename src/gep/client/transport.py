"""The SDK's HTTP session and its answers (values, or exceptions of :mod:`gep.client.errors`).

Where the server is and who the caller is come from the arguments, else from the environment
the CLI reads too: ``GEP_URL`` (then ``GEP_BASE_URL``, the server's own public address, then
``http://127.0.0.1:8000``) and ``GEP_TOKEN``. A notebook on the server's machine then needs no
arguments at all, and one script runs against any GEP by changing two variables.

httpx's own failures never leave the SDK: a server that cannot be reached is
:class:`~gep.client.errors.ConnectionFailed` (its message says what to check), a request past its
deadline is :class:`~gep.client.errors.GepTimeout`. The mapping sits in a wrapper around httpx's
transport, so it covers every request of every part of the SDK, streamed bodies included,
without each method having to remember it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import httpx

from gep.client.errors import ConnectionFailed, GepTimeout, error_for

#: where the SDK looks when no ``base_url`` is given, in this order
URL_VARIABLES = ("GEP_URL", "GEP_BASE_URL")
DEFAULT_URL = "http://127.0.0.1:8000"
#: the API token when no ``token`` is given
TOKEN_VARIABLE = "GEP_TOKEN"
#: seconds a request may take (connect, each read, each write) unless ``timeout`` says otherwise
DEFAULT_TIMEOUT_S = 120.0


def default_url() -> str:
    """``GEP_URL``, else ``GEP_BASE_URL``, else the local default."""
    for name in URL_VARIABLES:
        if os.environ.get(name):
            return os.environ[name].rstrip("/")
    return DEFAULT_URL


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def transport_error(exc: httpx.TransportError, url: httpx.URL | str) -> Exception:
    """The SDK's exception for an httpx transport failure on a request to ``url``."""
    target = _origin(url) if isinstance(url, httpx.URL) else str(url)
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", " timeout").strip().lower()
        return GepTimeout(
            0, {"title": "Timed out", "detail": f"{target} did not answer in time ({kind})"}
        )
    if isinstance(exc, httpx.ConnectError):
        detail = f"cannot reach {target} — is `gep serve` running? set GEP_URL"
    else:
        detail = f"lost the connection to {target}: {exc or type(exc).__name__}"
    return ConnectionFailed(0, {"title": "Connection failed", "detail": detail})


class _MappedStream(httpx.SyncByteStream):
    """A response body whose read failures are the SDK's exceptions too (a download that stalls
    half-way is a :class:`GepTimeout`, not an httpx one)."""

    def __init__(self, inner: Any, url: httpx.URL) -> None:
        self.inner, self.url = inner, url

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.inner
        except httpx.TransportError as exc:
            raise transport_error(exc, self.url) from exc

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


class MappedTransport(httpx.BaseTransport):
    """httpx's transport, its failures turned into the SDK's exception tree."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError as exc:
            raise transport_error(exc, request.url) from exc
        response.stream = _MappedStream(response.stream, request.url)
        return response

    def close(self) -> None:
        self.inner.close()


class Transport:
    """The HTTP session every part of the SDK sends through, and how answers become values
    or exceptions (one tree: :mod:`gep.client.errors`)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """``base_url``: the GEP server (default: ``GEP_URL``, ``GEP_BASE_URL``, then
        ``http://127.0.0.1:8000``). ``token``: an API token (``gep users create --token`` or
        ``POST /accounts/tokens``), sent as ``Authorization: Bearer`` (default: ``GEP_TOKEN``;
        ``""`` for anonymous, who only read public things). ``timeout``: seconds per request.
        ``http``: an httpx client to send through instead (tests pass the app's ``TestClient``);
        it already knows its base URL and headers, so ``base_url`` and ``token`` are unused."""
        #: whether the SDK made its session (False: injected, as tests do); only its own
        #: session keeps the token from other hosts (an injected one is sent everything)
        self.owns_http = http is None
        if http is not None:
            self.http = http
            return
        if token is None:
            token = os.environ.get(TOKEN_VARIABLE) or None
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self.http = httpx.Client(
            base_url=(base_url or default_url()).rstrip("/"),
            timeout=timeout,
            headers=headers,
            transport=MappedTransport(),
        )

    # ------------------------------------------------------------------ the session
    @property
    def base_url(self) -> str:
        """The server's address, without a trailing slash."""
        return str(self.http.base_url).rstrip("/")

    @property
    def authenticated(self) -> bool:
        """Whether requests carry a token (signed URLs need one)."""
        return "authorization" in self.http.headers

    def close(self) -> None:
        """Close the HTTP session (its pooled connections)."""
        self.http.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ answers
    @staticmethod
    def _problem(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _json(self, response: httpx.Response) -> Any:
        """The answer's JSON; a problem (status >= 400) raises its exception; a 204 is None."""
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text or response.reason_phrase}
            if not isinstance(problem, dict):
                problem = {"detail": str(problem)}
            raise error_for(response.status_code, problem)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

"""HTTP for harvesting: retries with backoff, ``Retry-After``, and a per-source rate limit.

Remote archives fail in two ways that need different answers: transient (connection reset,
timeout, 429, 5xx) — wait and try again, longer each time, as long as the server asks when it
sends ``Retry-After`` — and permanent (4xx, unreadable body) — stop now and say why. Every
attempt is counted so the harvest log can show how hard a source was to reach.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, cast

import httpx
import orjson

#: HTTP statuses worth another try
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class FetchError(Exception):
    """A request failed for good (after its retries, or at once for a permanent error)."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


@dataclass
class FetchStats:
    requests: int = 0
    retries: int = 0
    waited_s: float = 0.0


@dataclass
class Fetcher:
    """One source's HTTP client. ``sleep`` is injectable so tests need not wait in real time."""

    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    #: at least this long between two requests to the source (its rate limit)
    min_interval_s: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    stats: FetchStats = field(default_factory=FetchStats)
    _client: httpx.Client | None = None
    _last: float = 0.0

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout_s,
                follow_redirects=True,
                headers={"User-Agent": "gep-harvester", **dict(self.headers)},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, str]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The response of the first attempt that succeeds; :class:`FetchError` otherwise."""
        attempt = 0
        while True:
            attempt += 1
            self._respect_rate_limit()
            self.stats.requests += 1
            wait: float | None = None
            try:
                resp = self.client().request(
                    method, url, params=cast(Any, params), json=json, headers=headers
                )
            except httpx.TransportError as exc:  # connection refused/reset, timeout, DNS
                error = FetchError(f"{method} {url}: {type(exc).__name__}: {exc}", transient=True)
            else:
                if resp.status_code < 400:
                    return resp
                transient = resp.status_code in TRANSIENT_STATUS
                error = FetchError(
                    f"{method} {resp.request.url}: HTTP {resp.status_code} "
                    f"{_short(resp.text)}".rstrip(),
                    transient=transient,
                    status=resp.status_code,
                )
                wait = _retry_after(resp.headers.get("Retry-After"))
            if not error.transient or attempt >= self.max_attempts:
                if error.transient:
                    error.args = (f"{error.args[0]} (gave up after {attempt} attempts)",)
                raise error
            delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
            if wait is not None:
                delay = min(max(delay, wait), self.max_backoff_s)
            self.stats.retries += 1
            self.stats.waited_s += delay
            self.sleep(delay)

    def json(self, method: str, url: str, **kw: Any) -> Any:
        return self.decode_json(self.request(method, url, **kw))

    @staticmethod
    def decode_json(resp: httpx.Response) -> Any:
        """The body as JSON; a wrong answer (an HTML error page…) is a permanent failure."""
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise FetchError(
                f"{resp.request.method} {resp.request.url}: the answer is not JSON ({exc}): "
                f"{_short(resp.text)}",
                transient=False,
            ) from exc

    def _respect_rate_limit(self) -> None:
        if self.min_interval_s > 0:
            gap = time.monotonic() - self._last
            if gap < self.min_interval_s:
                self.stats.waited_s += self.min_interval_s - gap
                self.sleep(self.min_interval_s - gap)
        self._last = time.monotonic()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _short(text: str, n: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "…"

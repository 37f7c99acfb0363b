"""A limit on failed logins: password guessing gets slow long before it gets anywhere.

Failures are counted per (user name, client address) in a sliding window, in this process: a
deployment behind several server processes multiplies the allowance by their number, which still
bounds guessing (argon2 already makes each guess cost ~50 ms of the server's time).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from gep.core.errors import TooManyRequests


class LoginLimiter:
    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def check(self, name: str, address: str) -> None:
        """TooManyRequests (with the seconds to wait) while the window is full."""
        now = time.monotonic()
        with self._lock:
            q = self._recent((name.lower(), address), now)
            if len(q) >= self.attempts:
                wait = max(1, int(q[0] + self.window_s - now) + 1)
                raise TooManyRequests(
                    f"too many failed logins for '{name}'; try again in {wait} s",
                    field="username",
                    retry_after=wait,
                )

    def failed(self, name: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent((name.lower(), address), now).append(now)

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.lower(), address), None)

"""Failed logins, counted in the platform database so that the limits hold across processes.

Three limits, each over a sliding window of ``window_s`` seconds (W), with ``attempts`` (L, per
account) and ``address_attempts`` (P, per address):

1. **Spraying**: an address with P failures in W, whatever the account names, is refused.
2. **Guessing one account**: once an account has L failures in W, from any addresses, every
   address that took part in them is refused (until the account is back under L or that
   address's own failures leave the window). An address that has *not* failed on the account
   still reaches the password check: the real user, elsewhere, logs in with the right password
   while an attacker's address is locked out. This is why the lock is per address and not per
   account: a per-account lock would let anyone lock anyone out.
3. **Guessing from many addresses**: fresh addresses are let through until the account has 2·L
   failures in W; past that, one attempt from a fresh address is allowed per W/L seconds
   (a short account lock after each new failure). Guesses on one account are then bounded by
   about 3·L per window however many addresses an attacker has, and the real user waits at
   most W/L seconds after the attacker's latest failure — a lockout that costs the attacker a
   new address each time it is renewed.

Each attempt is written as a failure *before* the password is checked (in one serialised
transaction with the counting), so that a burst of parallel guesses is counted as it arrives
rather than after argon2 has run for all of them; a success withdraws the failures of that
account from that address (an attacker's elsewhere stay). Refused attempts are not written:
a locked-out address cannot extend its own lock.

Times are wall-clock microseconds, since several hosts share the rows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from gep.core.access import NAME_PATTERN
from gep.core.errors import TooManyRequests

#: the account key of every name no account can have (attacker text is not stored)
IMPOSSIBLE_NAME = "~"
#: key of the PostgreSQL advisory lock that serialises counting with recording
_PG_LOCK = 7343010
_MAX_ADDRESS = 64


def account_key(name: str) -> str:
    """User names are matched case-insensitively here, so ``Rita`` and ``rita`` share a count."""
    return name.lower() if NAME_PATTERN.match(name) else IMPOSSIBLE_NAME


@dataclass(frozen=True)
class LoginLimits:
    attempts: int  # L: failures per account per window
    address_attempts: int  # P: failures per address per window
    window_s: float  # W


class LoginFailures:
    def __init__(self, engine: Engine, limits: LoginLimits) -> None:
        self.engine = engine
        self.limits = limits
        self._pg = engine.dialect.name == "postgresql"

    def attempt(self, name: str, address: str, now_s: float | None = None) -> None:
        """Refuse (TooManyRequests, with the seconds to wait) or record the attempt as a
        failure, to be withdrawn by :meth:`succeeded`."""
        now = int((time.time() if now_s is None else now_s) * 1e6)
        account, address = account_key(name), address[:_MAX_ADDRESS]
        with self.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE (see sqlite_store)
            if self._pg:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            wait_us, why = self._refusal(conn, account, address, now)
            if wait_us > 0:
                wait = max(1, math.ceil(wait_us / 1e6))
                raise TooManyRequests(
                    f"too many failed logins {why}; try again in {wait} s",
                    field="username",
                    retry_after=wait,
                )
            conn.execute(
                text("INSERT INTO login_failures (time, account, address) VALUES (:t, :n, :a)"),
                {"t": now, "n": account, "a": address},
            )

    def succeeded(self, name: str, address: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM login_failures WHERE account = :n AND address = :a"),
                {"n": account_key(name), "a": address[:_MAX_ADDRESS]},
            )

    def _refusal(self, conn: Connection, account: str, address: str, now: int) -> tuple[int, str]:
        """(microseconds to wait, why) — 0 when the attempt may go on."""
        lim = self.limits
        window = int(lim.window_s * 1e6)
        cut = now - window
        # the window may only have shrunk since these were written: nothing older counts
        conn.execute(text("DELETE FROM login_failures WHERE time <= :c"), {"c": cut})
        by_address = [
            int(t)
            for (t,) in conn.execute(
                text(
                    "SELECT time FROM login_failures WHERE address = :a AND time > :c ORDER BY time"
                ),
                {"a": address, "c": cut},
            )
        ]
        if len(by_address) >= lim.address_attempts:
            # under the limit again once the oldest failures that fill it leave the window
            return by_address[-lim.address_attempts] + window - now, "from this address"
        rows = conn.execute(
            text(
                "SELECT time, address FROM login_failures WHERE account = :n AND time > :c "
                "ORDER BY time"
            ),
            {"n": account, "c": cut},
        ).all()
        times = [int(t) for t, _ in rows]
        mine = [int(t) for t, a in rows if a == address]
        if len(times) >= lim.attempts and mine:
            account_free = times[-lim.attempts] + window
            return min(account_free, mine[-1] + window) - now, "for this user name"
        if len(times) >= 2 * lim.attempts and not mine:
            short_lock = int(window / max(1, lim.attempts))
            return times[-1] + short_lock - now, "for this user name from many addresses"
        return 0, ""

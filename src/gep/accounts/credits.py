"""Processing credits: prices, holds, charges, refunds, allowances and the ledger.

The flow of one job (GEP's model, done so that it always balances):

1. **Quote**: the service's price applied to the request (:func:`quote`).
2. **Hold** on submission: the quote is set aside from the balance, in the same database
   transaction that creates the job, by one conditional UPDATE (``… WHERE balance - held >=
   quote``). Concurrent submissions cannot both pass it: a user with credit for ten jobs who
   submits fifty at once starts exactly ten; the others get 402.
3. **Settle**, in the transaction of the job's final transition: success charges the actual
   cost (the same price with the measured CPU time), never more than the hold (a quote is a
   promise); a failure, or a dismissal before the job started, releases the hold whole; a
   dismissal while running charges what was used.

Every change of a balance or a hold is one row of an append-only ledger carrying the balance and
hold after it, so the account can be audited (and re-computed) from the ledger alone. Amounts
are integer cents.

Monthly allowances (like HyP3's quotas): a user's own allowance, else the largest of their
groups'. At the first activity of a month, what is left of last month's allowance expires and
the new month's is granted; top-ups by administrators never expire.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from gep.accounts.money import credits, round_cents
from gep.core.errors import InvalidInput, NotFound, PaymentRequired

GRANT, ALLOWANCE, EXPIRY, HOLD, CHARGE, RELEASE = (
    "grant",
    "allowance",
    "allowance-expiry",
    "hold",
    "charge",
    "release",
)


@dataclass(frozen=True)
class Price:
    """A service's price in credits: a fixed part per job, per input product, per km² of the
    area processed and per CPU-second (estimated when quoting, measured when charging)."""

    per_job: float = 0.0
    per_input: float = 0.0
    per_km2: float = 0.0
    per_cpu_s: float = 0.0
    #: the CPU-seconds a quote assumes (the hold covers this much)
    estimate_cpu_s: float = 0.0

    @property
    def free(self) -> bool:
        return not (self.per_job or self.per_input or self.per_km2 or self.per_cpu_s)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def check_price(body: dict[str, Any]) -> Price:
    fields = set(Price.__dataclass_fields__)
    unknown = sorted(set(body) - fields)
    if unknown:
        raise InvalidInput(
            f"unknown price field(s) {unknown}; accepted: {', '.join(sorted(fields))}",
            field=unknown[0],
        )
    values: dict[str, float] = {}
    for k, v in body.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1e9:
            raise InvalidInput(f"{k} must be a number of credits >= 0", field=k)
        values[k] = float(v)
    return Price(**values)


@dataclass(frozen=True)
class Quote:
    """What a job costs: the parts, and the total in cents."""

    price: Price
    inputs: int
    area_km2: float
    cpu_s: float
    total: int  # cents

    def as_dict(self) -> dict[str, Any]:
        return {
            "credits": credits(self.total),
            "price": self.price.as_dict(),
            "inputs": self.inputs,
            "area_km2": self.area_km2,
            "cpu_s": self.cpu_s,
        }


def quote(price: Price, *, inputs: int, area_km2: float, cpu_s: float | None = None) -> Quote:
    """The cost of a job; ``cpu_s`` None quotes the price's CPU estimate."""
    cpu = price.estimate_cpu_s if cpu_s is None else cpu_s
    total = (
        price.per_job + price.per_input * inputs + price.per_km2 * area_km2 + price.per_cpu_s * cpu
    )
    return Quote(price, inputs, area_km2, cpu, round_cents(total))


def _short_of(amount: int, now: Balance) -> PaymentRequired:
    """Why a job of ``amount`` cannot be held from an account at ``now``."""
    return PaymentRequired(
        f"this job costs {credits(amount)} credits and you have "
        f"{credits(now.available)} available ({credits(now.held)} held by running "
        "jobs); ask an administrator for more, or wait for next month's allowance",
        field="credits",
        price=credits(amount),
        balance=credits(now.balance),
        available=credits(now.available),
    )


def now_us() -> int:
    return time.time_ns() // 1000


def period_of(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m")


@dataclass(frozen=True)
class Balance:
    balance: int
    held: int
    allowance_left: int
    allowance_period: str | None
    monthly_allowance: int | None

    @property
    def available(self) -> int:
        return self.balance - self.held

    def as_dict(self) -> dict[str, Any]:
        return {
            "balance": credits(self.balance),
            "held": credits(self.held),
            "available": credits(self.available),
            "allowance_left": credits(self.allowance_left),
            "allowance_period": self.allowance_period,
            "monthly_allowance": None
            if self.monthly_allowance is None
            else credits(self.monthly_allowance),
        }


_LEDGER_COLS = (
    "seq, time, user_id, kind, amount, held, balance_after, held_after, job_id, process_id, "
    "actor, note"
)


class CreditStore:
    def __init__(self, engine: Engine, clock: Callable[[], int] = now_us) -> None:
        self.engine = engine
        #: microseconds since the epoch; tests move it to the next month
        self.clock = clock

    # -------------------------------------------------------------- prices
    def price(self, process_id: str) -> Price:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT per_job, per_input, per_km2, per_cpu_s, estimate_cpu_s "
                    "FROM process_prices WHERE process_id = :p"
                ),
                {"p": process_id},
            ).first()
        return Price() if row is None else Price(*(float(v) for v in row))

    def set_price(self, process_id: str, price: Price) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM process_prices WHERE process_id = :p"), {"p": process_id}
            )
            conn.execute(
                text(
                    "INSERT INTO process_prices (process_id, per_job, per_input, per_km2, "
                    "per_cpu_s, estimate_cpu_s, updated) VALUES (:p, :j, :i, :a, :c, :e, :t)"
                ),
                {
                    "p": process_id,
                    "j": price.per_job,
                    "i": price.per_input,
                    "a": price.per_km2,
                    "c": price.per_cpu_s,
                    "e": price.estimate_cpu_s,
                    "t": self.clock(),
                },
            )

    # -------------------------------------------------------------- balances
    def _allowance(self, conn: Connection, user_id: str) -> int | None:
        row = conn.execute(
            text("SELECT monthly_allowance FROM users WHERE id = :u"), {"u": user_id}
        ).first()
        if row is None:
            raise NotFound(f"no user with id '{user_id}'", field="user")
        if row[0] is not None:
            return int(row[0])
        best = conn.execute(
            text(
                "SELECT max(g.monthly_allowance) FROM group_members m JOIN user_groups g "
                "ON g.name = m.group_name WHERE m.user_id = :u"
            ),
            {"u": user_id},
        ).scalar()
        return None if best is None else int(best)

    def _open(self, conn: Connection, user_id: str) -> Balance:
        """The account (created at zero if new), with this month's allowance applied."""
        allowance = self._allowance(conn, user_id)
        found = conn.execute(
            text("SELECT allowance_period FROM credit_accounts WHERE user_id = :u"),
            {"u": user_id},
        ).first()
        last_period: str | None = None if found is None else found[0]
        if found is None:
            conn.execute(
                text(
                    "INSERT INTO credit_accounts (user_id, balance, held, allowance_left, "
                    "allowance_period) VALUES (:u, 0, 0, 0, NULL)"
                ),
                {"u": user_id},
            )
        period = period_of(self.clock())
        if last_period != period:
            # claim the month change first: of concurrent callers only one does it
            claimed = conn.execute(
                text(
                    "UPDATE credit_accounts SET allowance_period = :p WHERE user_id = :u AND "
                    "(allowance_period IS NULL OR allowance_period <> :p)"
                ),
                {"p": period, "u": user_id},
            ).rowcount
            if claimed:
                cur = conn.execute(
                    text(
                        "SELECT balance, held, allowance_left FROM credit_accounts "
                        "WHERE user_id = :u"
                    ),
                    {"u": user_id},
                ).one()
                expire = min(int(cur[2]), int(cur[0]) - int(cur[1]))
                if expire > 0:
                    self._entry(
                        conn, user_id, EXPIRY, -expire, 0, note=f"unused allowance of {last_period}"
                    )
                conn.execute(
                    text("UPDATE credit_accounts SET allowance_left = 0 WHERE user_id = :u"),
                    {"u": user_id},
                )
                if allowance:
                    self._entry(conn, user_id, ALLOWANCE, allowance, 0, note=f"allowance {period}")
                    conn.execute(
                        text("UPDATE credit_accounts SET allowance_left = :a WHERE user_id = :u"),
                        {"a": allowance, "u": user_id},
                    )
        cur = conn.execute(
            text(
                "SELECT balance, held, allowance_left, allowance_period FROM credit_accounts "
                "WHERE user_id = :u"
            ),
            {"u": user_id},
        ).one()
        return Balance(int(cur[0]), int(cur[1]), int(cur[2]), cur[3], allowance)

    def balance(self, user_id: str) -> Balance:
        with self.engine.begin() as conn:
            return self._open(conn, user_id)

    def _entry(
        self,
        conn: Connection,
        user_id: str,
        kind: str,
        amount: int,
        held: int,
        *,
        job_id: str | None = None,
        process_id: str | None = None,
        actor: str | None = None,
        note: str | None = None,
        apply: bool = True,
    ) -> None:
        """Apply a change to the account (unless the caller already did) and append its ledger
        row, in the caller's transaction."""
        if apply:
            conn.execute(
                text(
                    "UPDATE credit_accounts SET balance = balance + :a, held = held + :h "
                    "WHERE user_id = :u"
                ),
                {"a": amount, "h": held, "u": user_id},
            )
        after = conn.execute(
            text("SELECT balance, held FROM credit_accounts WHERE user_id = :u"), {"u": user_id}
        ).one()
        conn.execute(
            text(
                "INSERT INTO credit_ledger (time, user_id, kind, amount, held, balance_after, "
                "held_after, job_id, process_id, actor, note) VALUES "
                "(:t, :u, :k, :a, :h, :b, :ha, :j, :p, :ac, :n)"
            ),
            {
                "t": self.clock(),
                "u": user_id,
                "k": kind,
                "a": amount,
                "h": held,
                "b": int(after[0]),
                "ha": int(after[1]),
                "j": job_id,
                "p": process_id,
                "ac": actor,
                "n": note,
            },
        )

    def grant(
        self, user_id: str, amount: int, *, actor: str | None, note: str | None = None
    ) -> Balance:
        """An administrator's top-up (never expires)."""
        if amount <= 0:
            raise InvalidInput("a grant is a positive number of credits", field="amount")
        with self.engine.begin() as conn:
            self._open(conn, user_id)
            self._entry(conn, user_id, GRANT, amount, 0, actor=actor, note=note)
            return self._open(conn, user_id)

    # -------------------------------------------------------------- jobs
    def check_affordable(self, user_id: str, amount: int) -> None:
        """The PaymentRequired a hold of ``amount`` would meet now, without holding anything
        (a dry run's credit check)."""
        if amount <= 0:
            return
        now = self.balance(user_id)
        if now.available < amount:
            raise _short_of(amount, now)

    def hold_in(
        self, conn: Connection, user_id: str, job_id: str, process_id: str, amount: int
    ) -> None:
        """Set ``amount`` aside for a job, inside the caller's transaction (the job's own
        creation); PaymentRequired, with the balance and the price, when it is not there."""
        self._open(conn, user_id)
        if amount <= 0:
            return
        taken = conn.execute(
            text(
                "UPDATE credit_accounts SET held = held + :a WHERE user_id = :u "
                "AND balance - held >= :a"
            ),
            {"a": amount, "u": user_id},
        ).rowcount
        if not taken:
            raise _short_of(amount, self._open(conn, user_id))
        # the conditional UPDATE above moved the hold: record it without moving it again
        self._entry(
            conn, user_id, HOLD, 0, amount, job_id=job_id, process_id=process_id, apply=False
        )

    def settle_in(
        self,
        conn: Connection,
        user_id: str,
        job_id: str,
        process_id: str,
        hold: int,
        charge: int,
        note: str | None = None,
    ) -> None:
        """Release a job's hold and charge ``charge`` (at most the hold), inside the caller's
        transaction (the job's final transition, which happens once)."""
        self._open(conn, user_id)
        charge = max(0, min(int(charge), int(hold)))
        if charge:
            self._entry(
                conn,
                user_id,
                CHARGE,
                -charge,
                -hold,
                job_id=job_id,
                process_id=process_id,
                note=note,
            )
            conn.execute(
                text(
                    "UPDATE credit_accounts SET allowance_left = CASE WHEN allowance_left > :c "
                    "THEN allowance_left - :c ELSE 0 END WHERE user_id = :u"
                ),
                {"c": charge, "u": user_id},
            )
        elif hold:
            self._entry(
                conn, user_id, RELEASE, 0, -hold, job_id=job_id, process_id=process_id, note=note
            )

    # -------------------------------------------------------------- the ledger
    def ledger(
        self, user_id: str | None, *, limit: int = 100, offset: int = 0, job_id: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Ledger rows, newest first (one user's, or everyone's when ``user_id`` is None)."""
        from gep.core.timeutil import format_rfc3339, from_micros

        where: list[str] = []
        params: dict[str, Any] = {}
        if user_id is not None:
            where.append("user_id = :u")
            params["u"] = user_id
        if job_id is not None:
            where.append("job_id = :j")
            params["j"] = job_id
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self.engine.connect() as conn:
            total = int(
                conn.execute(text(f"SELECT count(*) FROM credit_ledger{clause}"), params).scalar()
                or 0
            )
            rows = conn.execute(
                text(
                    f"SELECT {_LEDGER_COLS} FROM credit_ledger{clause} ORDER BY seq DESC "
                    f"LIMIT {int(limit)} OFFSET {int(offset)}"
                ),
                params,
            ).all()
        out = [
            {
                "seq": int(r[0]),
                "time": format_rfc3339(from_micros(int(r[1]))),
                "user": r[2],
                "kind": r[3],
                "amount": credits(int(r[4])),
                "held": credits(int(r[5])),
                "balance_after": credits(int(r[6])),
                "held_after": credits(int(r[7])),
                "job": r[8],
                "process": r[9],
                "actor": r[10],
                "note": r[11],
            }
            for r in rows
        ]
        return out, total

    def audit(self, user_id: str) -> dict[str, int]:
        """The account re-computed from its ledger, beside the account itself (cents)."""
        with self.engine.connect() as conn:
            sums = conn.execute(
                text(
                    "SELECT coalesce(sum(amount), 0), coalesce(sum(held), 0) FROM credit_ledger "
                    "WHERE user_id = :u"
                ),
                {"u": user_id},
            ).one()
            acc = conn.execute(
                text("SELECT balance, held FROM credit_accounts WHERE user_id = :u"),
                {"u": user_id},
            ).first()
        return {
            "ledger_balance": int(sums[0]),
            "ledger_held": int(sums[1]),
            "balance": int(acc[0]) if acc else 0,
            "held": int(acc[1]) if acc else 0,
        }

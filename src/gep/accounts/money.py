"""Credits are counted in integer cents, so that every sum in the ledger is exact."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from gep.core.errors import InvalidInput


def cents(value: Any, field: str = "amount") -> int:
    """Credits given by a user (``12``, ``"0.5"``) as integer cents; refuses sub-cent amounts,
    non-numbers and non-finite values."""
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a number of credits", field=field)
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{field} must be a number of credits", field=field) from None
    if not d.is_finite():
        raise InvalidInput(f"{field} must be a finite number of credits", field=field)
    c = d * 100
    if c != c.to_integral_value():
        raise InvalidInput(f"{field}: credits have at most two decimals", field=field)
    if abs(c) > 10**15:
        raise InvalidInput(f"{field} is out of range", field=field)
    return int(c)


def round_cents(credits_value: float) -> int:
    """A computed price in credits, rounded half-up to the cent."""
    return int(Decimal(repr(float(credits_value))).scaleb(2).quantize(Decimal(1), ROUND_HALF_UP))


def credits(amount_cents: int) -> float:
    """Cents as credits for JSON (two decimals are exact in a float's repr)."""
    return round(amount_cents / 100, 2)

"""Credits on both backends: holds in the job's transaction, settlement in its final
transition, refunds, monthly allowances, and a ledger that re-computes every balance."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gep.accounts.credits import CreditStore, Price, quote
from gep.accounts.money import cents, round_cents
from gep.accounts.store import AccountStore
from gep.catalog.store import CatalogStore
from gep.core.enums import JobStatus
from gep.core.errors import InvalidInput, PaymentRequired
from gep.jobs.pricing import actual_cost
from gep.jobs.store import JobStore


class Clock:
    def __init__(self, when: str) -> None:
        self.set(when)

    def set(self, when: str) -> None:
        self.us = int(datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp() * 1e6)

    def __call__(self) -> int:
        return self.us


def test_money_is_counted_in_cents() -> None:
    assert cents("12.5") == 1250 and cents(3) == 300 and cents("0.01") == 1
    for bad in ("0.001", "nan", "inf", "ten", True, None):
        with pytest.raises(InvalidInput):
            cents(bad)
    assert round_cents(0.125) == 13 and round_cents(0.115) == 12  # half up, on the decimal
    q = quote(Price(per_job=1, per_input=0.25, per_km2=0.01, per_cpu_s=0.002, estimate_cpu_s=60),
              inputs=2, area_km2=123.4)  # fmt: skip
    assert q.total == round_cents(1 + 0.5 + 1.234 + 0.12) == 285


def test_a_job_holds_then_settles(store: CatalogStore) -> None:
    clock = Clock("2026-03-10T12:00:00")
    credits = CreditStore(store.engine, clock)
    accounts = AccountStore(store.engine)
    jobs = JobStore(store.engine, credits)
    user = accounts.create_user("ana")
    credits.grant(user.id, 2000, actor="test")
    price = Price(per_job=2.5, per_cpu_s=0.5, estimate_cpu_s=4)  # quote: 4.50
    q = quote(price, inputs=0, area_km2=0)

    ok = jobs.create("wait", {}, owner=user.id, quote=q)
    assert credits.balance(user.id).held == 450 and credits.balance(user.id).available == 1550
    assert jobs.transition(ok.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING)
    cost = actual_cost(ok.charge, cpu_s=1.0)  # 2.50 + 0.50
    assert cost == 300
    assert jobs.transition(ok.id, (JobStatus.RUNNING,), JobStatus.SUCCESSFUL, charge_cents=cost)
    # once only
    assert not jobs.transition(ok.id, (JobStatus.RUNNING,), JobStatus.SUCCESSFUL, charge_cents=cost)
    b = credits.balance(user.id)
    assert (b.balance, b.held) == (1700, 0)

    over = jobs.create("wait", {}, owner=user.id, quote=q)
    jobs.transition(over.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING)
    jobs.transition(
        over.id,
        (JobStatus.RUNNING,),
        JobStatus.SUCCESSFUL,
        charge_cents=actual_cost(over.charge, 99),
    )
    assert credits.balance(user.id).balance == 1250  # never more than the quote: 4.50

    failed = jobs.create("wait", {}, owner=user.id, quote=q)
    jobs.transition(failed.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING)
    jobs.transition(failed.id, (JobStatus.RUNNING,), JobStatus.FAILED)
    dismissed = jobs.request_dismiss(jobs.create("wait", {}, owner=user.id, quote=q).id)
    assert dismissed.status == JobStatus.DISMISSED
    b = credits.balance(user.id)
    assert (b.balance, b.held) == (1250, 0)  # both refunded whole

    with pytest.raises(PaymentRequired) as err:
        jobs.create(
            "wait", {}, owner=user.id, quote=quote(Price(per_job=12.51), inputs=0, area_km2=0)
        )
    assert err.value.extra["price"] == 12.51 and err.value.extra["available"] == 12.5
    _listed, total = jobs.list_jobs(limit=100)
    assert total == 4  # the refused one does not exist

    audit = credits.audit(user.id)
    assert audit["ledger_balance"] == audit["balance"] == 1250
    assert audit["ledger_held"] == audit["held"] == 0
    kinds = [e["kind"] for e in reversed(credits.ledger(user.id)[0])]
    assert kinds == ["grant", "hold", "charge", "hold", "charge", "hold", "release", "hold",
                     "release"]  # fmt: skip


def test_monthly_allowances_expire_and_renew(store: CatalogStore) -> None:
    clock = Clock("2026-01-20T00:00:00")
    credits = CreditStore(store.engine, clock)
    accounts = AccountStore(store.engine)
    accounts.create_group("volcanology", monthly_allowance=5000)
    accounts.create_group("students", monthly_allowance=1000)
    member = accounts.create_user("vito", groups=["volcanology", "students"])
    own = accounts.create_user("olga", monthly_allowance=200, groups=["volcanology"])
    assert credits.balance(member.id).balance == 5000  # the largest group allowance
    assert credits.balance(own.id).balance == 200  # a user's own wins over the groups'
    credits.grant(own.id, 300, actor="admin")  # a top-up never expires
    jobs = JobStore(store.engine, credits)
    job = jobs.create(
        "wait", {}, owner=own.id, quote=quote(Price(per_job=1.5), inputs=0, area_km2=0)
    )
    jobs.transition(job.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING)
    jobs.transition(job.id, (JobStatus.RUNNING,), JobStatus.SUCCESSFUL, charge_cents=150)
    b = credits.balance(own.id)
    assert (b.balance, b.allowance_left) == (350, 50)  # spent from the allowance first
    clock.set("2026-02-01T00:00:01")
    b = credits.balance(own.id)
    assert (b.balance, b.allowance_left, b.allowance_period) == (500, 200, "2026-02")  # 350-50+200
    assert credits.balance(own.id).balance == 500  # applied once per month, not per read
    entries = credits.ledger(own.id)[0]
    assert [e["kind"] for e in entries[:2]] == ["allowance", "allowance-expiry"]
    assert entries[1]["amount"] == -0.5
    for user in (member, own):
        audit = credits.audit(user.id)
        assert audit["ledger_balance"] == audit["balance"]

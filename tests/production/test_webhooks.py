"""Webhook notifications: signed POSTs from the outbox to a real loopback receiver, retried with
a doubling back-off, given up and then switched off; the SSRF guard; one row per event; one
sender per delivery. Time is driven through ``now_us``: nothing sleeps for a back-off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, text

from gep.catalog.backends import open_store
from gep.gateway.config import GatewayConfig
from gep.production.store import SubscriptionStore, now_us
from gep.production.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    WebhookSender,
    enqueue,
    pending_count,
    recent,
    sign,
    signing_secret,
    verify,
)
from tests.support.replay_server import ReplayServer

SECRET_KEY = "server-secret-for-tests"
S = 1_000_000


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = open_store(f"sqlite:///{tmp_path / 'gep.db'}")
    store.upgrade()
    yield store.engine
    store.close()


@pytest.fixture(scope="module")
def _server() -> Iterator[ReplayServer]:
    """One receiver for the module (stopping one takes half a second)."""
    with ReplayServer() as server:
        server.add("POST", "/hook", {"ok": True})
        server.add("POST", "/moved", b"", status=307, headers={"Location": "/hook"})
        yield server


@pytest.fixture
def receiver(_server: ReplayServer) -> ReplayServer:
    """The module's receiver, as if new: no requests seen, no faults left."""
    _server.requests.clear()
    _server.faults.clear()
    _server.arrived.clear()
    return _server


def _config(tmp_path: Path, allow: tuple[str, ...] = ("127.0.0.1",)) -> GatewayConfig:
    return GatewayConfig(storage_root=tmp_path, fetch_allow=allow)


def _subscription(engine: Engine, sid: str, url: str | None, nonce: str = "n1") -> None:
    t = now_us()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscriptions (id, title, owner, visibility, process_id, inputs, "
                "kind, trig, layer, state, max_jobs_per_trigger, webhook_url, webhook_nonce, "
                "webhook_failures, created, updated) VALUES (:id, 'Etna', 'alice', 'private', "
                "'insar', '{}', 'data', '{}', :layer, 'active', 4, :url, :nonce, 0, :t, :t)"
            ),
            {"id": sid, "layer": f"layer-{sid}", "url": url, "nonce": nonce, "t": t},
        )


def _item_event(engine: Engine, sid: str, item: str) -> None:
    with engine.begin() as conn:
        assert enqueue(
            conn,
            sid,
            f"item:layer-{sid}/{item}",
            {"type": "layer.item", "collection": f"layer-{sid}", "item": item},
        )


def _row(engine: Engine, sid: str, event: str) -> dict[str, Any]:
    with engine.connect() as conn:
        r = conn.execute(
            text(
                "SELECT status, attempts, next_attempt, last_error, delivered "
                "FROM webhook_deliveries WHERE subscription = :s AND event = :e"
            ),
            {"s": sid, "e": event},
        ).one()
    return {"status": r[0], "attempts": r[1], "next": r[2], "error": r[3], "delivered": r[4]}


def _webhook_state(engine: Engine, sid: str) -> tuple[int, str | None]:
    sub = SubscriptionStore(engine).get(sid)
    return sub.webhook_failures, sub.webhook_disabled


def test_signatures_verify_and_reject_tampering() -> None:
    secret = signing_secret(SECRET_KEY, "sub-1", "n1")
    assert secret.startswith("whsec_") and secret == signing_secret(SECRET_KEY, "sub-1", "n1")
    # a new nonce rotates the secret; another subscription or server key gives another one
    assert secret != signing_secret(SECRET_KEY, "sub-1", "n2")
    assert secret != signing_secret(SECRET_KEY, "sub-2", "n1")
    assert secret != signing_secret("other-key", "sub-1", "n1")
    header = sign(secret, 1_700_000_000, b'{"a":1}')
    assert header.startswith("t=1700000000,v1=")
    assert verify(secret, header, b'{"a":1}', now=1_700_000_100)
    assert not verify(secret, header, b'{"a":2}', now=1_700_000_100)
    assert not verify("whsec_wrong", header, b'{"a":1}', now=1_700_000_100)
    assert not verify(secret, header, b'{"a":1}', now=1_700_000_301)  # too old: a replay
    assert not verify(secret, "t=abc,v1=00", b'{"a":1}')
    assert not verify(secret, "v1=" + header.split("v1=")[1], b'{"a":1}')
    # during a rotation a header may carry two signatures; either may match
    rotated = header + ",v1=" + "0" * 64
    assert verify(secret, rotated, b'{"a":1}', now=1_700_000_000)


def test_a_delivery_is_signed_and_marked_delivered(
    engine: Engine, receiver: ReplayServer, tmp_path: Path
) -> None:
    _subscription(engine, "sub-1", receiver.url + "/hook", nonce="n1")
    _subscription(engine, "sub-quiet", None)  # no webhook: its notifications wait
    _item_event(engine, "sub-1", "ifg-1")
    _item_event(engine, "sub-quiet", "ifg-1")
    sender = WebhookSender(engine, SECRET_KEY, _config(tmp_path), timeout_s=2)
    try:
        assert sender.deliver_due(now_us=now_us() - 60 * S) == 0  # not due yet
        assert receiver.requests == []
        assert sender.deliver_due() == 1
    finally:
        sender.close()
    [req] = receiver.requests
    secret = signing_secret(SECRET_KEY, "sub-1", "n1")
    assert req.headers["content-type"] == "application/json"
    assert verify(secret, req.headers[SIGNATURE_HEADER.lower()], req.body)
    assert not verify(secret, req.headers[SIGNATURE_HEADER.lower()], req.body + b" ")
    assert req.headers[EVENT_HEADER.lower()] == "layer.item"
    body = orjson.loads(req.body)
    assert body["type"] == "layer.item" and body["subscription"] == "sub-1"
    assert body["event"] == "item:layer-sub-1/ifg-1" and body["item"] == "ifg-1"
    [shown] = recent(engine, "sub-1")
    assert req.headers[DELIVERY_HEADER.lower()] == str(shown["id"])
    assert shown["status"] == "delivered" and shown["attempts"] == 1
    assert shown["delivered"] and shown["delivered"].endswith("Z") and shown["last_error"] is None
    assert pending_count(engine, "sub-1") == 0
    assert pending_count(engine, "sub-quiet") == 1


def test_failures_back_off_then_fail_then_disable_the_webhook(
    engine: Engine, receiver: ReplayServer, tmp_path: Path
) -> None:
    _subscription(engine, "sub-1", receiver.url + "/hook")
    sender = WebhookSender(
        engine,
        SECRET_KEY,
        _config(tmp_path),
        max_attempts=3,
        backoff_s=2.0,
        disable_after=2,
        timeout_s=2,
    )
    t = now_us() + S
    try:
        receiver.fail("/hook", times=3, status=500)
        _item_event(engine, "sub-1", "a")
        assert sender.deliver_due(now_us=t) == 1
        first = _row(engine, "sub-1", "item:layer-sub-1/a")
        assert first["status"] == "pending" and first["attempts"] == 1
        assert first["next"] == t + 2 * S
        assert first["error"] == f"HTTP 500 from {receiver.url}/hook"
        assert sender.deliver_due(now_us=t + S) == 0  # backing off
        assert sender.deliver_due(now_us=t + 2 * S) == 1
        assert _row(engine, "sub-1", "item:layer-sub-1/a")["next"] == t + 6 * S  # doubled
        assert sender.deliver_due(now_us=t + 6 * S) == 1
        gave_up = _row(engine, "sub-1", "item:layer-sub-1/a")
        assert gave_up["status"] == "failed" and gave_up["attempts"] == 3
        assert _webhook_state(engine, "sub-1") == (1, None)
        assert sender.deliver_due(now_us=t + 60 * S) == 0  # a failed delivery stays failed

        # a receiver that answers again is no longer counted as failing
        _item_event(engine, "sub-1", "b")
        assert sender.deliver_due(now_us=t + 61 * S) == 1
        assert _row(engine, "sub-1", "item:layer-sub-1/b")["status"] == "delivered"
        assert _webhook_state(engine, "sub-1") == (0, None)

        receiver.fail("/hook", times=6, status=500)
        _item_event(engine, "sub-1", "c")
        _item_event(engine, "sub-1", "d")
        for step in (70, 72, 76):  # both deliveries at each step
            assert sender.deliver_due(now_us=t + step * S) == 2
        failures, disabled = _webhook_state(engine, "sub-1")
        assert failures == 2 and disabled is not None
        assert disabled.startswith("disabled after 2 failed deliveries (last: HTTP 500 from")
        assert receiver.url in disabled and "edit the webhook" in disabled
        assert len(receiver.requests) == 10

        _item_event(engine, "sub-1", "e")  # a disabled webhook sends nothing
        assert sender.deliver_due(now_us=t + 100 * S) == 0
        assert pending_count(engine, "sub-1") == 1 and len(receiver.requests) == 10
        statuses = [d["status"] for d in recent(engine, "sub-1")]
        assert statuses == ["pending", "failed", "failed", "delivered", "failed"]
    finally:
        sender.close()


def test_the_ssrf_guard_refuses_blocked_addresses(
    engine: Engine, receiver: ReplayServer, tmp_path: Path
) -> None:
    _subscription(engine, "sub-meta", "http://169.254.169.254/latest/meta-data/")
    _subscription(engine, "sub-local", receiver.url + "/hook")
    _item_event(engine, "sub-meta", "x")
    _item_event(engine, "sub-local", "x")
    # no GEP_FETCH_ALLOW: loopback is as refused as the metadata service
    sender = WebhookSender(engine, SECRET_KEY, _config(tmp_path, allow=()), timeout_s=2)
    try:
        assert sender.deliver_due() == 2
    finally:
        sender.close()
    meta = _row(engine, "sub-meta", "item:layer-sub-meta/x")
    assert meta["status"] == "pending" and meta["attempts"] == 1
    assert "webhook.url" in meta["error"] and "169.254.169.254" in meta["error"]
    assert "link-local" in meta["error"]
    local = _row(engine, "sub-local", "item:layer-sub-local/x")
    assert "loopback" in local["error"]
    assert receiver.requests == []


def test_redirects_are_not_followed(engine: Engine, receiver: ReplayServer, tmp_path: Path) -> None:
    _subscription(engine, "sub-1", receiver.url + "/moved")
    _item_event(engine, "sub-1", "x")
    sender = WebhookSender(engine, SECRET_KEY, _config(tmp_path), timeout_s=2)
    try:
        assert sender.deliver_due() == 1
    finally:
        sender.close()
    assert [r.path for r in receiver.requests] == ["/moved"]
    row = _row(engine, "sub-1", "item:layer-sub-1/x")
    assert row["status"] == "pending" and "HTTP 307" in row["error"]
    assert "redirects are not followed" in row["error"]


def test_an_event_is_queued_once(engine: Engine) -> None:
    _subscription(engine, "sub-1", None)
    with engine.begin() as conn:
        payload = {"type": "layer.item", "item": "a"}
        assert enqueue(conn, "sub-1", "item:l/a", payload)
        assert not enqueue(conn, "sub-1", "item:l/a", payload)  # a replay of the same event
        assert enqueue(
            conn, "sub-1", "paused:2025-01-01T00:00:00Z", {"type": "subscription.paused"}
        )
        with pytest.raises(ValueError):
            enqueue(conn, "sub-1", "item:l/b", {"item": "b"})
    assert pending_count(engine, "sub-1") == 2
    assert [d["event"] for d in recent(engine, "sub-1")] == [
        "paused:2025-01-01T00:00:00Z",
        "item:l/a",
    ]


def test_a_claimed_delivery_is_not_sent_by_another_server(
    engine: Engine, receiver: ReplayServer, tmp_path: Path
) -> None:
    _subscription(engine, "sub-1", receiver.url + "/hook")
    _item_event(engine, "sub-1", "x")
    before = _row(engine, "sub-1", "item:layer-sub-1/x")["next"]
    [queued] = recent(engine, "sub-1")
    receiver.fail("/hook", times=1, status=0, delay_s=0.5)  # answers, late
    a = WebhookSender(engine, SECRET_KEY, _config(tmp_path), timeout_s=2)
    b = WebhookSender(engine, SECRET_KEY, _config(tmp_path), timeout_s=2)
    sent: list[int] = []
    worker = threading.Thread(target=lambda: sent.append(a.deliver_due()))
    try:
        worker.start()
        assert receiver.arrived.wait(2)  # a's request is in flight
        assert b.deliver_due() == 0
        # a server that read the row before a's claim loses the conditional UPDATE
        assert not b._claim(queued["id"], before, now_us())
        worker.join(3)
        assert sent == [1]
    finally:
        worker.join(3)
        a.close()
        b.close()
    assert len(receiver.requests) == 1
    assert _row(engine, "sub-1", "item:layer-sub-1/x")["status"] == "delivered"

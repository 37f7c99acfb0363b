"""Webhook notifications of subscriptions: a signed POST per event, sent from an outbox.

A notification is written to ``webhook_deliveries`` in the transaction that publishes what it
announces (:func:`enqueue`), so an item is never announced without being published nor published
without being announced, whatever crashes in between; the unique ``(subscription, event)`` makes
a replayed publication announce nothing twice. :class:`WebhookSender` sends the due rows later,
from any server: each POST passes the same SSRF guard as every other server-side request
(:func:`gep.gateway.http_fetch.check_url`), follows no redirect, and a delivery that keeps
failing is retried with a doubling back-off, then marked failed; after several failed deliveries
in a row the subscription's webhook is switched off with a visible reason, so a dead receiver
does not cost a request per event forever.

Receivers authenticate a notification by its signature (``X-GEP-Signature``: a timestamp and an
HMAC-SHA256 of it and the body, the scheme of Stripe and GitHub, so their libraries' habits
apply). The key is derived from the server's secret key, the subscription id and a nonce
(:func:`signing_secret`), so no secret is stored in the database; a new nonce rotates it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from enum import StrEnum
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, Engine, text

from gep.core.periodic import Periodic
from gep.core.timeutil import format_rfc3339, from_micros
from gep.gateway.config import GatewayConfig, HrefRefused
from gep.gateway.http_fetch import check_url
from gep.production.store import now_us as _now_us

SIGNATURE_HEADER = "X-GEP-Signature"
EVENT_HEADER = "X-GEP-Event"
DELIVERY_HEADER = "X-GEP-Delivery"
USER_AGENT = "GEP-Webhooks/1"
#: a claim outlasts the request's timeout by this much, so a slow send is not sent twice
CLAIM_MARGIN_S = 30.0
#: the longest error text kept on a delivery
_ERROR_CHARS = 500

log = logging.getLogger(__name__)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# ---------------------------------------------------------------------- signatures


def signing_secret(secret_key: str, subscription_id: str, nonce: str) -> str:
    """The subscription's signing secret, derived rather than stored: shown to the owner once,
    recomputed by the sender, changed by a new nonce."""
    mac = hmac.new(
        secret_key.encode(), f"gep-webhook:{subscription_id}:{nonce}".encode(), hashlib.sha256
    )
    return "whsec_" + mac.hexdigest()


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-GEP-Signature`` value: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "t." + body>``.
    The timestamp is signed too, so a captured notification cannot be replayed later."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``
    (default: the clock). Several ``v1`` values are accepted (any may match), so a sender may
    sign with an old and a new secret while a receiver rotates."""
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1" and value:
            macs.append(value)
    if timestamp is None or not macs:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = _mac(secret, timestamp, body)
    # every candidate is compared, so the time taken says nothing about which one matched
    matched = False
    for candidate in macs:
        matched |= hmac.compare_digest(expected, candidate)
    return matched


# ---------------------------------------------------------------------- the outbox


def enqueue(conn: Connection, subscription_id: str, event: str, payload: dict[str, Any]) -> bool:
    """Queue a notification, due now, in the caller's transaction; False when this event of
    this subscription was queued before (a replay). ``event`` names the occurrence uniquely
    (``item:<collection>/<id>``, ``paused:<time>``); ``payload["type"]`` is the event type
    (``layer.item``, ``subscription.paused``) sent as ``X-GEP-Event``."""
    if not isinstance(payload.get("type"), str) or not payload["type"]:
        raise ValueError("a webhook payload needs its event type in 'type'")
    t = _now_us()
    body = {"subscription": subscription_id, "event": event, **payload}
    body.setdefault("created", format_rfc3339(from_micros(t)))
    result = conn.execute(
        text(
            "INSERT INTO webhook_deliveries (subscription, event, payload, status, attempts, "
            "next_attempt, last_error, created, delivered) VALUES (:sub, :event, :payload, "
            ":status, 0, :t, NULL, :t, NULL) ON CONFLICT (subscription, event) DO NOTHING"
        ),
        {
            "sub": subscription_id,
            "event": event,
            "payload": orjson.dumps(body).decode(),
            "status": DeliveryStatus.PENDING,
            "t": t,
        },
    )
    return result.rowcount == 1


def pending_count(engine: Engine, subscription_id: str) -> int:
    """Notifications of the subscription not yet delivered nor given up."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM webhook_deliveries "
                    "WHERE subscription = :id AND status = :s"
                ),
                {"id": subscription_id, "s": DeliveryStatus.PENDING},
            ).scalar_one()
        )


def _ts(us: int | None) -> str | None:
    return None if us is None else format_rfc3339(from_micros(int(us)))


def recent(engine: Engine, subscription_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The subscription's newest notifications, newest first: what its owner looks at when a
    receiver says it heard nothing."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, event, status, attempts, last_error, created, delivered, "
                "next_attempt FROM webhook_deliveries WHERE subscription = :id "
                "ORDER BY id DESC LIMIT :n"
            ),
            {"id": subscription_id, "n": limit},
        ).all()
    out = []
    for r in rows:
        entry: dict[str, Any] = {
            "id": int(r[0]),
            "event": r[1],
            "status": r[2],
            "attempts": int(r[3]),
            "last_error": r[4],
            "created": _ts(r[5]),
            "delivered": _ts(r[6]),
        }
        if r[2] == DeliveryStatus.PENDING:
            entry["next_attempt"] = _ts(r[7])
        out.append(entry)
    return out


# ---------------------------------------------------------------------- sending


class WebhookSender:
    """Sends the due notifications of every subscription with a working webhook.

    Safe beside other servers on the same database: a delivery is claimed (its ``next_attempt``
    moved past the request's timeout by a conditional UPDATE) before it is sent, and its outcome
    is written only while the claim still holds.
    """

    def __init__(
        self,
        engine: Engine,
        secret_key: str,
        gateway_config: GatewayConfig,
        *,
        max_attempts: int = 6,
        backoff_s: float = 2.0,
        disable_after: int = 5,
        timeout_s: float = 10,
        client: httpx.Client | None = None,
    ) -> None:
        self.engine = engine
        self.secret_key = secret_key
        self.gateway_config = gateway_config
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.disable_after = max(1, disable_after)
        self.timeout_s = timeout_s
        self._own_client = client is None
        self.client = client or httpx.Client(
            follow_redirects=False, timeout=timeout_s, trust_env=False
        )

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def periodic(self, period_s: float, logger: logging.Logger | None = None) -> Periodic:
        """The server's thread that sends what is due every ``period_s`` seconds."""
        return Periodic(
            "gep-webhooks", lambda stop: self.deliver_due(stop=stop), period_s, logger or log
        )

    def deliver_due(
        self,
        now_us: int | None = None,
        limit: int = 100,
        stop: threading.Event | None = None,
    ) -> int:
        """Send up to ``limit`` due notifications (``now_us``: the time to act at, default the
        clock); returns how many were attempted, delivered or not. Notifications of a
        subscription without a webhook, or whose webhook is disabled, wait (they go once the
        owner edits the webhook)."""
        t0 = _now_us() if now_us is None else now_us
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT d.id, d.subscription, d.payload, d.attempts, d.next_attempt, "
                    "s.webhook_url, s.webhook_nonce FROM webhook_deliveries d "
                    "JOIN subscriptions s ON s.id = d.subscription "
                    "WHERE d.status = :pending AND d.next_attempt <= :now "
                    "AND s.webhook_url IS NOT NULL AND s.webhook_disabled IS NULL "
                    "ORDER BY d.next_attempt, d.id LIMIT :n"
                ),
                {"pending": DeliveryStatus.PENDING, "now": t0, "n": limit},
            ).all()
        attempted = 0
        for r in rows:
            if stop is not None and stop.is_set():
                break
            now = _now_us() if now_us is None else now_us
            claim = now + int((self.timeout_s + CLAIM_MARGIN_S) * 1_000_000)
            if not self._claim(int(r[0]), int(r[4]), claim):
                continue  # another server has it
            attempted += 1
            error = self._send(int(r[0]), str(r[1]), str(r[2]), str(r[5]), r[6] or "")
            done = _now_us() if now_us is None else now_us
            if error is None:
                self._delivered(int(r[0]), str(r[1]), claim, done)
            else:
                self._failed(int(r[0]), str(r[1]), int(r[3]) + 1, claim, done, error)
        return attempted

    def _claim(self, delivery: int, old: int, new: int) -> bool:
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    text(
                        "UPDATE webhook_deliveries SET next_attempt = :new WHERE id = :id "
                        "AND next_attempt = :old AND status = :pending"
                    ),
                    {"new": new, "id": delivery, "old": old, "pending": DeliveryStatus.PENDING},
                ).rowcount
                == 1
            )

    def _send(self, delivery: int, sub_id: str, payload: str, url: str, nonce: str) -> str | None:
        """POST one notification; None when the receiver took it, else why not."""
        try:
            check_url(url, self.gateway_config, field="webhook.url")
        except HrefRefused as exc:
            return exc.message
        body = payload.encode()
        try:
            event_type = str(orjson.loads(body).get("type") or "")
        except orjson.JSONDecodeError:
            event_type = ""
        secret = signing_secret(self.secret_key, sub_id, nonce)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            EVENT_HEADER: event_type,
            DELIVERY_HEADER: str(delivery),
        }
        try:
            # streamed and closed unread: a receiver's answer is its status, not its body
            with self.client.stream(
                "POST",
                url,
                content=body,
                headers=headers,
                follow_redirects=False,
                timeout=self.timeout_s,
            ) as response:
                status = response.status_code
        except httpx.TimeoutException:
            return f"timed out after {self.timeout_s:g} s posting to {url[:200]}"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__} posting to {url[:200]}"
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return f"HTTP {status} from {url[:200]} (redirects are not followed)"
        return f"HTTP {status} from {url[:200]}"

    def _delivered(self, delivery: int, sub_id: str, claim: int, now: int) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(
                text(
                    "UPDATE webhook_deliveries SET status = :delivered, attempts = attempts + 1, "
                    "delivered = :now, last_error = NULL WHERE id = :id AND next_attempt = :claim "
                    "AND status = :pending"
                ),
                {
                    "delivered": DeliveryStatus.DELIVERED,
                    "now": now,
                    "id": delivery,
                    "claim": claim,
                    "pending": DeliveryStatus.PENDING,
                },
            )
            if done.rowcount == 1:  # a receiver that answers again is no longer failing
                conn.execute(
                    text(
                        "UPDATE subscriptions SET webhook_failures = 0 "
                        "WHERE id = :id AND webhook_failures <> 0"
                    ),
                    {"id": sub_id},
                )

    def _failed(
        self, delivery: int, sub_id: str, attempts: int, claim: int, now: int, error: str
    ) -> None:
        error = error[:_ERROR_CHARS]
        final = attempts >= self.max_attempts
        retry_at = now + int(self.backoff_s * 2 ** (attempts - 1) * 1_000_000)
        with self.engine.begin() as conn:
            done = conn.execute(
                text(
                    "UPDATE webhook_deliveries SET status = :status, attempts = :attempts, "
                    "last_error = :error, next_attempt = :next WHERE id = :id "
                    "AND next_attempt = :claim AND status = :pending"
                ),
                {
                    "status": DeliveryStatus.FAILED if final else DeliveryStatus.PENDING,
                    "attempts": attempts,
                    "error": error,
                    "next": now if final else retry_at,
                    "id": delivery,
                    "claim": claim,
                    "pending": DeliveryStatus.PENDING,
                },
            )
            if done.rowcount != 1 or not final:
                return
            log.warning("webhook delivery %s of %s failed: %s", delivery, sub_id, error)
            conn.execute(
                text(
                    "UPDATE subscriptions SET webhook_failures = webhook_failures + 1 "
                    "WHERE id = :id"
                ),
                {"id": sub_id},
            )
            reason = (
                f"disabled after {self.disable_after} failed deliveries (last: {error}); "
                "edit the webhook to enable it again"
            )
            disabled = conn.execute(
                text(
                    "UPDATE subscriptions SET webhook_disabled = :reason, updated = :t "
                    "WHERE id = :id AND webhook_failures >= :n AND webhook_disabled IS NULL"
                ),
                {"reason": reason, "t": _now_us(), "id": sub_id, "n": self.disable_after},
            )
            if disabled.rowcount == 1:
                log.warning("webhook of subscription %s %s", sub_id, reason)

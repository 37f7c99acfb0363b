"""Login limits that hold, on both backends: per account across addresses, per address across
accounts, in the database (shared by server processes), keyed on an address the client cannot
choose (X-Forwarded-For believed only from configured proxies), and never locking the real user
out because someone else guesses their password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from gep.accounts.login_limits import IMPOSSIBLE_NAME, LoginFailures, LoginLimits
from gep.api.app import create_app
from gep.api.login_limit import client_address, parse_proxies
from gep.core.errors import InvalidInput, TooManyRequests
from gep.settings import Settings
from tests.support.app import ADMIN_HEADERS, ADMIN_TOKEN
from tests.support.serving import free_port, start_gep_serve, stop
from tests.support.stores import PG_URL, make_store

PASSWORD = "correct horse battery staple"
ATTEMPTS, ADDRESS_ATTEMPTS = 3, 6


def _settings(backend: str, tmp_path: Path, **extra: Any) -> Settings:
    url = f"sqlite:///{tmp_path / 'gep.db'}" if backend == "sqlite" else PG_URL
    return Settings(
        admin_token=ADMIN_TOKEN,
        home=tmp_path,
        database_url=url,
        base_url="http://gep.test",
        login_attempts=ATTEMPTS,
        login_address_attempts=ADDRESS_ATTEMPTS,
        **extra,
    )


@pytest.fixture
def app(backend: str, tmp_path: Path) -> Iterator[FastAPI]:
    make_store(backend, tmp_path)  # a migrated, empty database of that backend
    application = create_app(_settings(backend, tmp_path))
    with TestClient(application) as admin:
        r = admin.post(
            "/accounts/users", json={"name": "rita", "password": PASSWORD}, headers=ADMIN_HEADERS
        )
        assert r.status_code == 201, r.text
        yield application


def _from(app: FastAPI, address: str) -> TestClient:
    """A client whose socket peer is ``address``."""
    return TestClient(app, client=(address, 40000))


def _login(client: TestClient, name: str, password: str, **headers: str) -> Any:
    return client.post(
        "/accounts/login", json={"username": name, "password": password}, headers=headers
    )


def _assert_throttled(r: Any) -> int:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "username"
    wait = int(r.headers["retry-after"])
    assert wait > 0 and r.json()["retry_after"] == wait
    return wait


def test_spraying_one_guess_per_name_from_one_address_is_throttled(app: FastAPI) -> None:
    sprayer = _from(app, "203.0.113.7")
    names = ["rita", *(f"user{i}" for i in range(10))]
    answers = [_login(sprayer, n, "Summer2024!").status_code for n in names]
    # each name was guessed once only: the address's total is what stops it
    assert answers[:ADDRESS_ATTEMPTS] == [401] * ADDRESS_ATTEMPTS
    assert answers[ADDRESS_ATTEMPTS:] == [429] * (len(names) - ADDRESS_ATTEMPTS)
    r = _login(sprayer, "rita", PASSWORD)
    assert "from this address" in r.json()["detail"]
    _assert_throttled(r)
    # rita herself, elsewhere, is not affected
    assert _login(_from(app, "198.51.100.20"), "rita", PASSWORD).status_code == 200


def test_many_addresses_against_one_account_are_throttled(app: FastAPI) -> None:
    answers = [
        _login(_from(app, f"192.0.2.{i}"), "rita", f"guess {i}").status_code for i in range(12)
    ]
    # fresh addresses get through until the account has 2·L failures; then a short lock
    assert answers[: 2 * ATTEMPTS] == [401] * (2 * ATTEMPTS)
    assert answers[2 * ATTEMPTS :] == [429] * (12 - 2 * ATTEMPTS)
    # every address that has failed on rita is held back, whatever its own share
    for i in range(2 * ATTEMPTS):
        _assert_throttled(_login(_from(app, f"192.0.2.{i}"), "rita", PASSWORD))
    # the short lock is W/L at most, not the window
    wait = _assert_throttled(_login(_from(app, "192.0.2.200"), "rita", PASSWORD))
    assert wait <= 300 / ATTEMPTS
    # another account is not locked by the attack on rita
    assert _login(_from(app, "192.0.2.1"), "bob", "x").status_code == 401


def test_the_victim_logs_in_from_another_address_while_the_attacker_is_locked(
    app: FastAPI,
) -> None:
    attacker, victim = _from(app, "203.0.113.66"), _from(app, "198.51.100.5")
    assert [_login(attacker, "rita", f"pw{i}").status_code for i in range(ATTEMPTS)] == [
        401
    ] * ATTEMPTS
    for _ in range(20):  # hammering: refused without being counted (the lock is not extended)
        _assert_throttled(_login(attacker, "rita", f"pw{_}"))
    _assert_throttled(_login(attacker, "rita", PASSWORD))  # even the right password from there
    r = _login(victim, "rita", PASSWORD)
    assert r.status_code == 200, r.text
    # the victim's success withdraws nothing of the attacker's
    _assert_throttled(_login(attacker, "rita", PASSWORD))
    with app.state.services.store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT account, address FROM login_failures").all()
    assert sorted(rows) == [("rita", "203.0.113.66")] * ATTEMPTS


def test_a_success_withdraws_that_address_failures(app: FastAPI) -> None:
    rita = _from(app, "198.51.100.9")
    for _ in range(ATTEMPTS - 1):
        assert _login(rita, "Rita", "typo").status_code == 401  # names count case-insensitively
    assert _login(rita, "rita", PASSWORD).status_code == 200
    # the count starts again: L - 1 more typos still leave the right password usable
    for _ in range(ATTEMPTS - 1):
        assert _login(rita, "rita", "typo").status_code == 401
    assert _login(rita, "rita", PASSWORD).status_code == 200


def test_impossible_names_are_refused_and_counted_without_being_stored(app: FastAPI) -> None:
    client = _from(app, "203.0.113.8")
    for name in ("a\x00b", "../../etc", "x" * 500):
        r = _login(client, name, "pw")
        assert r.status_code == 401 and r.json()["detail"] == "wrong user name or password"
    with app.state.services.store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT account FROM login_failures").all()
    assert rows == [(IMPOSSIBLE_NAME,)] * 3


def test_x_forwarded_for_is_ignored_by_default(app: FastAPI) -> None:
    client = _from(app, "203.0.113.9")
    answers = [
        _login(client, "rita", "guess", **{"X-Forwarded-For": f"10.9.9.{i}"}).status_code
        for i in range(ATTEMPTS + 2)
    ]
    assert answers == [401] * ATTEMPTS + [429] * 2
    _assert_throttled(_login(client, "rita", PASSWORD, Forwarded="for=10.9.9.99"))


def test_x_forwarded_for_is_believed_from_a_configured_proxy(backend: str, tmp_path: Path) -> None:
    make_store(backend, tmp_path)
    settings = _settings(backend, tmp_path, trusted_proxies="10.0.0.0/8, ::1")
    application = create_app(settings)
    with TestClient(application) as admin:
        r = admin.post(
            "/accounts/users", json={"name": "rita", "password": PASSWORD}, headers=ADMIN_HEADERS
        )
        assert r.status_code == 201, r.text
        proxy = _from(application, "10.0.0.5")
        attacker = {"X-Forwarded-For": "203.0.113.1"}
        for _ in range(ATTEMPTS):
            assert _login(proxy, "rita", "guess", **attacker).status_code == 401
        _assert_throttled(_login(proxy, "rita", PASSWORD, **attacker))
        # a client's own entries on the left change nothing: the proxy appended the real one
        spoof = {"X-Forwarded-For": "198.51.100.1, 203.0.113.1"}
        _assert_throttled(_login(proxy, "rita", PASSWORD, **spoof))
        # the victim behind the same proxy, from another address, gets in
        r = _login(proxy, "rita", PASSWORD, **{"X-Forwarded-For": "198.51.100.77"})
        assert r.status_code == 200, r.text
        # RFC 7239 Forwarded is read too (when there is no X-Forwarded-For)
        _assert_throttled(_login(proxy, "rita", PASSWORD, Forwarded='for="203.0.113.1:4711"'))
        # a peer that is not a listed proxy is its own address, whatever it sends
        outsider = _from(application, "192.0.2.50")
        assert _login(outsider, "rita", PASSWORD, **attacker).status_code == 200


def _request(peer: str, headers: list[tuple[str, str]]) -> Request:
    scope = {
        "type": "http",
        "client": (peer, 1234),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
    }
    return Request(scope)


def test_client_address_walks_the_trusted_chain_from_the_right() -> None:
    nets = parse_proxies("10.0.0.0/8,2001:db8:ffff::/48")
    xff = [("X-Forwarded-For", "1.1.1.1, 203.0.113.4"), ("X-Forwarded-For", "10.0.0.7")]
    assert client_address(_request("10.0.0.5", xff), nets) == "203.0.113.4"
    assert client_address(_request("10.0.0.5", xff), ()) == "10.0.0.5"
    assert client_address(_request("192.0.2.1", xff), nets) == "192.0.2.1"
    fwd = [("Forwarded", 'for="[2001:db8::1]:4711";proto=https, for=10.0.0.9')]
    assert client_address(_request("2001:db8:ffff::2", fwd), nets) == "2001:db8::1"
    # an obfuscated hop: only the proxy in front of it is known
    assert client_address(_request("10.0.0.5", [("Forwarded", "for=_hidden")]), nets) == (
        "10.0.0.5"
    )
    assert client_address(_request("10.0.0.5", []), nets) == "10.0.0.5"
    with pytest.raises(InvalidInput) as err:
        parse_proxies("10.0.0.1, proxy.example.org")
    assert err.value.field == "trusted_proxies"


def test_two_app_instances_share_the_counts(app: FastAPI, backend: str, tmp_path: Path) -> None:
    other = create_app(_settings(backend, tmp_path))
    with TestClient(other):
        first, second = _from(app, "203.0.113.30"), _from(other, "203.0.113.30")
        assert _login(first, "rita", "a").status_code == 401
        assert _login(second, "rita", "b").status_code == 401
        assert _login(first, "rita", "c").status_code == 401
        _assert_throttled(_login(second, "rita", PASSWORD))
        _assert_throttled(_login(first, "rita", PASSWORD))
        assert _login(_from(other, "198.51.100.3"), "rita", PASSWORD).status_code == 200


def test_the_window_slides(store: Any) -> None:
    """Time passed in, so that the window is checked exactly (W = 10 s, L = 3, P = 5)."""
    failures = LoginFailures(store.engine, LoginLimits(3, 5, 10.0))
    for t in (100.0, 101.0, 102.0):
        failures.attempt("rita", "a", now_s=t)
    with pytest.raises(TooManyRequests) as err:
        failures.attempt("rita", "a", now_s=105.0)
    assert err.value.extra["retry_after"] == 5  # the failure of t=100 leaves at t=110
    failures.attempt("rita", "b", now_s=105.0)  # a fresh address is let through
    with pytest.raises(TooManyRequests) as err:  # 101, 102 (a's) and 105 (b's): still L
        failures.attempt("rita", "a", now_s=110.5)
    assert err.value.extra["retry_after"] == 1  # 101 leaves at 111
    failures.attempt("rita", "a", now_s=111.5)  # under L again: "a" may try once more
    # the address limit counts every account: 5 names guessed from "z"
    for i in range(5):
        failures.attempt(f"u{i}", "z", now_s=200.0 + i)
    with pytest.raises(TooManyRequests) as err:
        failures.attempt("someone", "z", now_s=206.0)
    assert err.value.extra["retry_after"] == 4
    failures.attempt("someone", "z", now_s=210.5)
    # old rows are deleted as new attempts come in
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT min(time) FROM login_failures").scalar() > 200e6


def test_gep_serve_ignores_x_forwarded_for_unless_a_proxy_is_configured(tmp_path: Path) -> None:
    """Two real ``gep serve`` processes on one database: uvicorn's default trust of
    127.0.0.1 is gone, GEP_TRUSTED_PROXIES brings it back, and the counts are shared."""
    limits = {"login_attempts": str(ATTEMPTS)}
    port, port2 = free_port(), free_port()
    plain = start_gep_serve(tmp_path, port, **limits)
    try:
        base = f"http://127.0.0.1:{port}"
        r = httpx.post(
            f"{base}/accounts/users",
            json={"name": "rita", "password": PASSWORD},
            headers=ADMIN_HEADERS,
        )
        assert r.status_code == 201, r.text
        answers = [
            httpx.post(
                f"{base}/accounts/login",
                json={"username": "rita", "password": "guess"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(ATTEMPTS + 1)
        ]
        assert answers == [401] * ATTEMPTS + [429]
        behind = start_gep_serve(tmp_path, port2, trusted_proxies="127.0.0.1", **limits)
        try:
            base2 = f"http://127.0.0.1:{port2}"
            # 127.0.0.1's failures, counted by the other process, hold here too
            r = httpx.post(
                f"{base2}/accounts/login", json={"username": "rita", "password": PASSWORD}
            )
            assert r.status_code == 429, r.text
            # the proxy's X-Forwarded-For is believed: another client gets in
            r = httpx.post(
                f"{base2}/accounts/login",
                json={"username": "rita", "password": PASSWORD},
                headers={"X-Forwarded-For": "198.51.100.8"},
            )
            assert r.status_code == 200, r.text
        finally:
            stop(behind)
    finally:
        stop(plain)

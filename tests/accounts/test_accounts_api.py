"""Accounts over HTTP: password login and sessions, tokens (shown once, stored hashed,
revocable, expiring), the login rate limit, roles, secrets kept out of logs and errors, and
login through a real (local) OpenID Connect provider."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import text

from tests.support.app import ADMIN_HEADERS, ADMIN_TOKEN, api_client, app_settings, client_for

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with api_client(tmp_path, admin=False, base_url="http://gep.test", login_attempts=3) as c:
        r = c.post(
            "/accounts/users",
            json={"name": "rita", "password": PASSWORD, "email": "rita@example.org",
                  "credits": 5},
            headers=ADMIN_HEADERS,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        yield c


def _db(client: TestClient) -> Any:
    return client.app.state.services.store.engine  # type: ignore[attr-defined]


def test_password_login_gives_a_session(client: TestClient) -> None:
    r = client.post("/accounts/login", json={"username": "rita", "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert r.json()["token_type"] == "bearer" and r.json()["expires_in"] == 12 * 3600
    cookie = r.headers["set-cookie"]
    assert "gep_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    # the cookie alone authenticates (the web UI), and so does the bearer token
    me = client.get("/accounts/me")
    assert me.status_code == 200 and me.json()["name"] == "rita"
    assert me.json()["credits"]["available"] == 5.0
    client.cookies.clear()
    assert client.get("/accounts/me").status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/accounts/me", headers=bearer).status_code == 200
    # logging out revokes the session token itself
    assert client.post("/accounts/logout", headers=bearer).status_code == 204
    assert client.get("/accounts/me", headers=bearer).status_code == 401
    # an HTML form works too
    form = client.post(
        "/accounts/login",
        content=urlencode({"username": "rita", "password": PASSWORD}),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 200


def test_failed_logins_are_limited_and_say_nothing_about_names(client: TestClient) -> None:
    wrong = client.post("/accounts/login", json={"username": "rita", "password": "nope nope"})
    unknown = client.post("/accounts/login", json={"username": "nobody", "password": "x" * 9})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "wrong user name or password"
    client.post("/accounts/login", json={"username": "rita", "password": "still wrong"})
    client.post("/accounts/login", json={"username": "rita", "password": "wrong again"})
    limited = client.post("/accounts/login", json={"username": "rita", "password": PASSWORD})
    assert limited.status_code == 429  # even the right password waits out the window
    assert int(limited.headers["retry-after"]) > 0
    assert limited.headers["content-type"] == "application/problem+json"
    # another user name is not limited by rita's failures
    assert (
        client.post("/accounts/login", json={"username": "nobody", "password": "y" * 9}).status_code
        == 401
    )
    for body in ({"username": "rita"}, {"username": "rita", "password": 3}, ["rita"]):
        assert client.post("/accounts/login", json=body).status_code == 400


def test_tokens_are_shown_once_stored_hashed_and_revocable(client: TestClient) -> None:
    login = client.post("/accounts/login", json={"username": "rita", "password": PASSWORD})
    session = {"Authorization": f"Bearer {login.json()['access_token']}"}
    client.cookies.clear()
    r = client.post("/accounts/tokens", json={"name": "laptop"}, headers=session)
    assert r.status_code == 201
    token, token_id = r.json()["token"], r.json()["id"]
    assert token.startswith(f"gep_{token_id}_")
    listed = client.get("/accounts/tokens", headers=session).json()["tokens"]
    assert [t["name"] for t in listed] == ["laptop"] and "token" not in listed[0]
    with _db(client).connect() as conn:
        stored = conn.execute(
            text("SELECT secret_hash FROM api_tokens WHERE id = :i"), {"i": token_id}
        ).scalar()
        pw = conn.execute(text("SELECT password_hash FROM users WHERE name = 'rita'")).scalar()
    secret = token.split("_", 2)[2]
    assert stored == hashlib.sha256(secret.encode()).hexdigest() and secret not in stored
    assert pw.startswith("$argon2id$") and PASSWORD not in pw
    mine = {"Authorization": f"Bearer {token}"}
    assert client.get("/accounts/me", headers=mine).status_code == 200
    # a wrong secret, a malformed token or another scheme: 401, never which part was wrong
    for bad in (token[:-2] + "xx", "gep_nothing", token.replace("gep_", "xyz_")):
        r = client.get("/accounts/me", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401 and bad not in r.text
    assert client.get("/accounts/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.delete(f"/accounts/tokens/{token_id}", headers=mine).status_code == 204
    assert client.get("/accounts/me", headers=mine).status_code == 401
    # one that expires
    short = client.post(
        "/accounts/tokens", json={"name": "brief", "expires_in_days": 1.5 / 86400}, headers=session
    ).json()
    brief = {"Authorization": f"Bearer {short['token']}"}
    assert client.get("/accounts/me", headers=brief).status_code == 200
    time.sleep(1.6)
    assert client.get("/accounts/me", headers=brief).status_code == 401
    for body in ({}, {"name": ""}, {"name": "x", "expires_in_days": -1}, {"name": "x", "y": 1}):
        assert client.post("/accounts/tokens", json=body, headers=session).status_code == 400


def test_roles_and_disabled_accounts(client: TestClient) -> None:
    r = client.post("/accounts/users", json={"name": "dev", "token": True}, headers=ADMIN_HEADERS)
    dev = {"Authorization": f"Bearer {r.json()['token']}"}
    package = (
        "cwlVersion: v1.2\nclass: CommandLineTool\nid: t\nbaseCommand: echo\n"
        "inputs: {}\noutputs: {}\n"
    )
    cwl = {**dev, "content-type": "application/cwl+yaml"}
    denied = client.post("/processes", content=package, headers=cwl)
    assert denied.status_code == 403 and "developer role" in denied.json()["detail"]
    assert client.patch("/accounts/users/dev", json={"role": "developer"},
                        headers=ADMIN_HEADERS).status_code == 200  # fmt: skip
    assert client.post("/processes", content=package, headers=cwl).status_code == 201
    bad_role = client.patch("/accounts/users/dev", json={"role": "root"}, headers=ADMIN_HEADERS)
    assert bad_role.status_code == 400 and "role" in bad_role.json()["detail"]
    client.patch("/accounts/users/dev", json={"disabled": True}, headers=ADMIN_HEADERS)
    assert client.get("/accounts/me", headers=dev).status_code == 401
    dup = client.post("/accounts/users", json={"name": "dev"}, headers=ADMIN_HEADERS)
    assert dup.status_code == 409
    for name in ("", "a b", "../x", "x" * 65):
        r = client.post("/accounts/users", json={"name": name}, headers=ADMIN_HEADERS)
        assert r.status_code == 400, name


def test_secrets_stay_out_of_logs_and_errors(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    r = client.post("/accounts/login", json={"username": "rita", "password": PASSWORD})
    token = r.json()["access_token"]
    client.cookies.clear()
    wrong = client.post("/accounts/login", json={"username": "rita", "password": PASSWORD + "!"})
    client.get("/accounts/me", headers={"Authorization": f"Bearer {token}x"})
    client.get("/accounts/me", headers={"Authorization": f"Bearer {token}"})
    bodies = wrong.text
    text_logged = "\n".join(rec.getMessage() for rec in caplog.records)
    secret = token.split("_", 2)[2]
    for s in (PASSWORD, secret, ADMIN_TOKEN.split("_", 2)[2]):
        assert s not in text_logged and s not in bodies


# ---------------------------------------------------------------------- OpenID Connect


class Provider:
    """A real OpenID Connect provider on loopback: discovery, an authorization endpoint that
    approves ``alice`` at once, a token endpoint checking the code, PKCE and client secret,
    and a JWKS; ID tokens are RS256-signed."""

    CLIENT_ID, CLIENT_SECRET = "gep", "s3cret"

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.subject = "c0ffee-1234"
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}/realms/geo"
        self.wrong_nonce = False

    def __enter__(self) -> Provider:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(url.query).items()}
                base = idp.issuer
                if url.path.endswith("/.well-known/openid-configuration"):
                    self._send(200, {
                        "issuer": base,
                        "authorization_endpoint": f"{base}/auth",
                        "token_endpoint": f"{base}/token",
                        "jwks_uri": f"{base}/certs",
                    })  # fmt: skip
                elif url.path.endswith("/certs"):
                    self._send(200, {"keys": [idp.key.as_dict(private=False)]})
                elif url.path.endswith("/auth"):
                    code = f"code-{len(idp.codes)}"
                    idp.codes[code] = q
                    dest = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
                    self.send_response(302)
                    self.send_header("location", dest)
                    self.end_headers()
                else:
                    self._send(404, {})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["content-length"])).decode()
                form = {k: v[-1] for k, v in parse_qs(raw).items()}
                asked = idp.codes.pop(form.get("code", ""), None)

                verifier_ok = (
                    asked is not None
                    and base64.urlsafe_b64encode(
                        hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                    )
                    .rstrip(b"=")
                    .decode()
                    == asked["code_challenge"]
                )
                if (
                    not verifier_ok
                    or form.get("client_secret") != idp.CLIENT_SECRET
                    or form.get("redirect_uri") != asked["redirect_uri"]
                ):
                    self._send(400, {"error": "invalid_grant"})
                    return
                assert asked is not None
                now = int(time.time())
                claims = {
                    "iss": idp.issuer, "aud": idp.CLIENT_ID, "sub": idp.subject,
                    "iat": now, "exp": now + 300,
                    "nonce": "forged" if idp.wrong_nonce else asked["nonce"],
                    "preferred_username": "alice@geo", "email": "alice@example.org",
                }  # fmt: skip
                token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, idp.key)
                self._send(200, {"access_token": "at", "token_type": "Bearer",
                                 "id_token": token, "expires_in": 300})  # fmt: skip

        return Handler


def _oidc_login(c: TestClient, next_: str = "/stac") -> Any:
    start = c.get("/accounts/oidc/login", params={"next": next_}, follow_redirects=False)
    assert start.status_code == 302
    import httpx

    at_idp = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_idp.status_code == 302
    back = urlsplit(at_idp.headers["location"])
    return c.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_login_through_an_openid_connect_provider(tmp_path: Path) -> None:
    with Provider() as idp:
        settings = app_settings(
            tmp_path, base_url="http://gep.test",
            oidc_issuer=idp.issuer, oidc_client_id=idp.CLIENT_ID,
            oidc_client_secret=idp.CLIENT_SECRET,
        )  # fmt: skip
        with client_for(settings, admin=False, client_base_url="http://gep.test") as c:
            done = _oidc_login(c)
            assert done.status_code == 302 and done.headers["location"] == "/stac"
            assert "gep_session=" in done.headers["set-cookie"]
            me = c.get("/accounts/me").json()
            assert (me["name"], me["email"], me["role"]) == ("alice", "alice@example.org", "user")
            # the same person again: the same account, not a second one
            c.cookies.clear()
            _oidc_login(c)
            users = c.get("/accounts/users", headers=ADMIN_HEADERS).json()["users"]
            assert [u["name"] for u in users].count("alice") == 1
            # a replayed or unknown state, and an ID token with the wrong nonce, are refused
            replay = c.get("/accounts/oidc/callback", params={"state": "nope", "code": "x"})
            assert replay.status_code == 400
            c.cookies.clear()
            idp.wrong_nonce = True
            forged = _oidc_login(c)
            assert forged.status_code == 401 and "nonce" in forged.json()["detail"]
            assert c.get("/accounts/me").status_code == 401
            # only local paths are followed after login (no open redirect)
            idp.wrong_nonce = False
            c.cookies.clear()
            elsewhere = _oidc_login(c, "https://evil.example/")
            assert elsewhere.status_code == 302 and elsewhere.headers["location"] == "/"
            assert _oidc_login(c, "//evil.example/x").headers["location"] == "/"


def test_oidc_is_off_unless_configured(client: TestClient) -> None:
    r = client.get("/accounts/oidc/login", follow_redirects=False)
    assert r.status_code == 404 and "not configured" in r.json()["detail"]


def test_an_unreachable_identity_provider_is_a_502_not_an_error(tmp_path: Path) -> None:
    """Nothing listens on the issuer's port: the login answers a problem the user can act on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the login: connection refused
    with api_client(
        tmp_path, admin=False, client_base_url="http://gep.test", base_url="http://gep.test",
        oidc_issuer=f"http://127.0.0.1:{port}/realms/gone", oidc_client_id="gep",
    ) as c:  # fmt: skip
        r = c.get("/accounts/oidc/login", follow_redirects=False)
        assert r.status_code == 502, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["type"].endswith("upstream-unavailable")
        assert "identity provider" in body["detail"] and "try again later" in body["detail"]

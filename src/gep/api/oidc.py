"""Login through an OpenID Connect provider (Keycloak, an agency's SSO), when configured.

``GEP_OIDC_ISSUER``, ``GEP_OIDC_CLIENT_ID`` and ``GEP_OIDC_CLIENT_SECRET`` turn it on. The flow
is the authorization code flow with PKCE (authlib's OAuth2 client for the code exchange, joserfc
for the ID token): ``/accounts/oidc/login`` sends the browser to the provider, which sends it
back to ``/accounts/oidc/callback``; there the ID token's signature (the provider's JWKS),
issuer, audience, expiry and nonce are checked, the user is found by (issuer, subject) or
created with ``GEP_OIDC_DEFAULT_ROLE``, and a GEP session starts (the same cookie and token as
a password login). Pending logins are kept in this process for ten minutes.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Query, Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from gep.accounts.store import SESSION, AccountStore
from gep.api.auth import SESSION_COOKIE, accounts
from gep.api.deps import base_url
from gep.api.openapi import problems
from gep.api.services import services
from gep.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    Unauthorized,
    UpstreamUnavailable,
)
from gep.settings import Settings

router = APIRouter(prefix="/accounts/oidc", tags=["Accounts"])

PENDING_S = 600


@dataclass(frozen=True)
class Pending:
    nonce: str
    verifier: str
    next: str
    created: float


class PendingLogins:
    """Logins sent to the provider and not back yet, by their ``state``."""

    def __init__(self) -> None:
        self._items: dict[str, Pending] = {}
        self._lock = threading.Lock()

    def add(self, state: str, pending: Pending) -> None:
        with self._lock:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if now - v.created < PENDING_S}
            self._items[state] = pending

    def pop(self, state: str) -> Pending | None:
        with self._lock:
            found = self._items.pop(state, None)
        if found is None or time.monotonic() - found.created >= PENDING_S:
            return None
        return found


def _fetch_json(url: str, what: str) -> dict[str, Any]:
    """A JSON document of the identity provider; its failures are a 502 the user can act on
    (retry, or tell the operator), not an internal error."""
    try:
        r = httpx.get(url, timeout=10)
        r.raise_for_status()
        doc = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise UpstreamUnavailable(
            f"the identity provider did not give its {what} ({url}): {exc}; "
            "try again later, or ask the operator to check GEP_OIDC_ISSUER",
            field="oidc",
        ) from None
    if not isinstance(doc, dict):
        raise UpstreamUnavailable(
            f"the identity provider's {what} ({url}) is not a JSON object", field="oidc"
        )
    return doc


@lru_cache(maxsize=8)
def _discovery(issuer: str) -> dict[str, Any]:
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    doc = _fetch_json(url, "OpenID configuration")
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if k not in doc]
    if missing:
        raise UpstreamUnavailable(
            f"the identity provider's OpenID configuration ({url}) lacks {', '.join(missing)}",
            field="oidc",
        )
    return doc


def _settings(request: Request) -> Settings:
    s = services(request).settings
    if not (s.oidc_issuer and s.oidc_client_id):
        raise NotFound(
            "OpenID Connect login is not configured on this server (GEP_OIDC_ISSUER, "
            "GEP_OIDC_CLIENT_ID); log in with POST /accounts/login",
            field="oidc",
        )
    return s


def _pending(request: Request) -> PendingLogins:
    return services(request).oidc_pending


def _safe_next(value: str | None) -> str:
    """Only a path on this server: an open redirect would hand sessions to other sites."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


_NOT_CONFIGURED = "OpenID Connect is not configured on this server"


@router.get(
    "/login",
    summary="Log in through the OpenID Connect provider",
    status_code=302,
    responses=problems(404, 502, s404=_NOT_CONFIGURED),
)
async def oidc_login(request: Request, next: str | None = Query(None)) -> Response:
    s = _settings(request)
    meta = await run_in_threadpool(_discovery, s.oidc_issuer)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(48)
    _pending(request).add(state, Pending(nonce, verifier, _safe_next(next), time.monotonic()))
    query = {
        "response_type": "code",
        "client_id": s.oidc_client_id,
        "redirect_uri": f"{base_url(request)}/accounts/oidc/callback",
        "scope": s.oidc_scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    return RedirectResponse(f"{meta['authorization_endpoint']}?{urlencode(query)}", 302)


def _user_name(store: AccountStore, claims: dict[str, Any]) -> str:
    """A free GEP user name from the provider's preferred name (or e-mail, or subject)."""
    raw = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", raw.split("@")[0]).strip("-._")[:56] or "user"
    if not base[0].isalnum():
        base = f"u{base}"
    name, n = base, 1
    while True:
        try:
            store.user_by_name(name)
        except NotFound:
            return name
        n += 1
        name = f"{base}-{n}"


def _complete(request: Request, code: str, pending: Pending) -> str:
    """Exchange the code, check the ID token, and return the user's new session token."""
    s = services(request).settings
    meta = _discovery(s.oidc_issuer)
    with OAuth2Client(
        s.oidc_client_id,
        s.oidc_client_secret or None,
        token_endpoint_auth_method="client_secret_post" if s.oidc_client_secret else "none",
        timeout=15,
    ) as client:
        try:
            token = client.fetch_token(
                meta["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                redirect_uri=f"{base_url(request)}/accounts/oidc/callback",
                code_verifier=pending.verifier,
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"the identity provider's token endpoint did not answer: {exc}; try again later",
                field="oidc",
            ) from None
    id_token = token.get("id_token")
    if not id_token:
        raise Unauthorized("the identity provider sent no ID token", field="oidc")
    keys = KeySet.import_key_set(_fetch_json(meta["jwks_uri"], "signing keys"))  # type: ignore[arg-type]
    try:
        decoded = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": meta.get("issuer", s.oidc_issuer)},
            aud={"essential": True, "value": s.oidc_client_id},
            sub={"essential": True},
            nonce={"essential": True, "value": pending.nonce},
            exp={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise Unauthorized(f"the identity provider's ID token is not valid: {exc}") from None
    claims = decoded.claims
    store = accounts(request)
    issuer = str(claims["iss"])
    user = store.user_by_oidc(issuer, str(claims["sub"]))
    if user is None:
        try:
            user = store.create_user(
                _user_name(store, claims),
                role=s.oidc_default_role,
                email=claims.get("email"),
                oidc=(issuer, str(claims["sub"])),
            )
        except Conflict:  # a simultaneous first login of the same person
            user = store.user_by_oidc(issuer, str(claims["sub"]))
            assert user is not None
    if user.disabled:
        raise Unauthorized("this account is disabled", field="oidc")
    _, session = store.issue_token(
        user.id, "web session (OIDC)", kind=SESSION, expires_in_s=float(s.session_hours) * 3600
    )
    return session


@router.get(
    "/callback",
    summary="Where the OpenID Connect provider sends the browser back",
    status_code=302,
    responses=problems(400, 401, 404, 502, s404=_NOT_CONFIGURED),
)
async def oidc_callback(
    request: Request,
    state: str = Query(...),
    code: str | None = Query(None),
    error: str | None = Query(None),
) -> Response:
    s = _settings(request)
    pending = _pending(request).pop(state)
    if pending is None:
        raise InvalidInput(
            "this login is unknown or older than ten minutes; start again at /accounts/oidc/login",
            field="state",
        )
    if error or not code:
        raise Unauthorized(f"the identity provider refused the login: {error or 'no code'}")
    session = await run_in_threadpool(_complete, request, code, pending)
    response = RedirectResponse(pending.next, 302)
    hours = float(s.session_hours)
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response

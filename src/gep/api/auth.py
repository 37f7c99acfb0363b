"""Who is calling: the bearer token (or the web session cookie) turned into a :class:`Viewer`.

Every router takes the caller from here. Anonymous callers are allowed wherever only public
things are read; anything that writes or spends needs a user (401 otherwise), and a few actions
a role (403 for a user without it). Objects the caller may not see are answered 404, exactly as
if they did not exist.
"""

from __future__ import annotations

from fastapi import Request

from gep.accounts.store import AccountStore
from gep.api.services import services
from gep.core.access import ANONYMOUS, Viewer
from gep.core.errors import Forbidden, Unauthorized

SESSION_COOKIE = "gep_session"


def accounts(request: Request) -> AccountStore:
    return services(request).accounts


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized(
                "the Authorization header must read 'Bearer <token>'", field="Authorization"
            )
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


def caller(request: Request) -> Viewer:
    """The caller (anonymous when no credentials were sent); 401 for bad credentials."""
    cached = getattr(request.state, "viewer", None)
    if isinstance(cached, Viewer):
        return cached
    token = _token(request)
    viewer = ANONYMOUS if token is None else accounts(request).authenticate(token).viewer()
    request.state.viewer = viewer
    return viewer


def require_user(request: Request) -> Viewer:
    viewer = caller(request)
    if viewer.anonymous:
        raise Unauthorized(
            "this needs an account: send 'Authorization: Bearer <token>' (gep users create "
            "--token, or POST /accounts/login)",
            field="Authorization",
        )
    return viewer


def require_admin(request: Request) -> Viewer:
    viewer = require_user(request)
    if not viewer.is_admin:
        raise Forbidden("only an administrator may do this", field="role")
    return viewer


def require_deployer(request: Request) -> Viewer:
    """Deploying services is a privileged action: developers and administrators."""
    viewer = require_user(request)
    if not viewer.can_deploy:
        raise Forbidden(
            "deploying services needs the developer role; ask an administrator", field="role"
        )
    return viewer

"""``/accounts``: login, the caller's account, tokens, groups, users, credits, ledger and usage."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.accounts.credits import CreditStore
from gep.accounts.data_usage import ANY_COLLECTION, check_data_price
from gep.accounts.money import cents
from gep.accounts.store import API, SESSION, TOKEN_PREFIX, AccountStore
from gep.accounts.usage import report_csv
from gep.api.auth import (
    SESSION_COOKIE,
    accounts,
    caller,
    require_admin,
    require_user,
)
from gep.api.deps import json_body
from gep.api.openapi import answer, json_request, problems
from gep.api.services import services
from gep.api.sharing import delete_route
from gep.catalog.search import MAX_OFFSET
from gep.core.access import NAME_PATTERN, Viewer
from gep.core.errors import InvalidInput, NotFound, Unauthorized
from gep.core.ids import check_id
from gep.core.timeutil import parse_datetime_interval

router = APIRouter(prefix="/accounts", tags=["Accounts"])
JSON = "application/json"


def _body(what: str, required: tuple[str, ...], /, **props: Any) -> dict[str, Any]:
    """The documented JSON body of a route (checked by :func:`_object`: no other members)."""
    schema = {"type": "object", "additionalProperties": False, "properties": props}
    return json_request(what, {**schema, "required": list(required)})


_TEXT: dict[str, Any] = {"type": "string"}
_NUMBER: dict[str, Any] = {"type": "number"}
#: optional members the routes read with ``body.get``: null is the same as absent
_OPT_TEXT: dict[str, Any] = {"type": ["string", "null"]}
_OPT_NUMBER: dict[str, Any] = {"type": ["number", "null"]}
_OPT_BOOL: dict[str, Any] = {"type": ["boolean", "null"]}


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type=JSON, headers=headers)


def credit_store(request: Request) -> CreditStore:
    return services(request).credits


def _object(body: Any, allowed: set[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {unknown}; accepted: {', '.join(sorted(allowed))}",
            field=unknown[0],
        )
    for key in required:
        if body.get(key) in (None, ""):
            raise InvalidInput(f"{key} is required", field=key)
    return body


# ---------------------------------------------------------------------- login


async def _credentials(request: Request) -> tuple[str, str]:
    """``{"username", "password"}`` as JSON, or an HTML form (the web UI's login)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype == "application/x-www-form-urlencoded":
        form = parse_qs((await request.body()).decode(errors="replace"))
        body: Any = {k: v[-1] for k, v in form.items()}
    else:
        body = await json_body(request)
    body = _object(body, {"username", "password"}, ("username", "password"))
    if not isinstance(body["username"], str) or not isinstance(body["password"], str):
        raise InvalidInput("username and password are text", field="username")
    return body["username"], body["password"]


@router.post(
    "/login",
    summary="Log in with a password: a session token (and cookie)",
    responses=problems(400, 401, 415, 429),
    openapi_extra=_body(
        "The user's name and password (or the same as an HTML form)",
        ("username", "password"),
        username=_TEXT,
        password=_TEXT,
    ),
)
async def login(request: Request) -> Response:
    """Answers ``{"access_token", "token_type": "bearer", "expires_in"}`` and sets the
    ``gep_session`` cookie (HttpOnly, SameSite=Lax) for the web UI. Failed attempts are limited
    per account, per address and per account from many addresses (429 with Retry-After; see
    :mod:`gep.accounts.login_limits`)."""
    name, password = await _credentials(request)
    limiter = services(request).login_limiter
    address = limiter.address(request)
    await limiter.attempt(name, address)
    store = accounts(request)
    # a name no account can have is not looked up (a NUL would break PostgreSQL's query)
    user = (
        await run_in_threadpool(store.check_password, name, password)
        if NAME_PATTERN.match(name)
        else None
    )
    if user is None:
        # one message whatever was wrong: it does not tell which user names exist
        raise Unauthorized("wrong user name or password", field="password")
    await limiter.succeeded(name, address)
    hours = float(services(request).settings.session_hours)
    _, token = await run_in_threadpool(
        lambda: store.issue_token(user.id, "web session", kind=SESSION, expires_in_s=hours * 3600)
    )
    response = _json(
        {"access_token": token, "token_type": "bearer", "expires_in": int(hours * 3600)}
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", status_code=204, summary="End the web session", responses=problems(401))
def logout(request: Request) -> Response:
    """Revokes the session token the request came with (a cookie or a bearer session token);
    API tokens are revoked with DELETE /accounts/tokens/{id}."""
    viewer = require_user(request)
    token = request.cookies.get(SESSION_COOKIE) or request.headers.get("authorization", "")[7:]
    token_id = token[len(TOKEN_PREFIX) :].partition("_")[0] if token else ""
    store = accounts(request)
    if token_id:
        try:
            if store.token(token_id).kind == SESSION:
                store.revoke_token(viewer.user_id, token_id)
        except NotFound:
            pass
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response


# ---------------------------------------------------------------------- me and tokens


@router.get("/me", summary="The caller's account, groups and credits", responses=problems(401))
def me(request: Request) -> Response:
    viewer = require_user(request)
    assert viewer.user_id is not None
    user = accounts(request).user(viewer.user_id)
    doc = user.as_dict()
    doc["credits"] = credit_store(request).balance(user.id).as_dict()
    return _json(doc)


@router.get(
    "/tokens", summary="The caller's API tokens (never their secrets)", responses=problems(401)
)
def list_tokens(request: Request) -> Response:
    viewer = require_user(request)
    assert viewer.user_id is not None
    tokens = accounts(request).tokens(viewer.user_id, API)
    return _json({"tokens": [t.as_dict() for t in tokens]})


def _days(days: Any) -> float | None:
    """A token's ``expires_in_days`` as seconds (None: it does not expire)."""
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days < 1e6:
        raise InvalidInput("expires_in_days is a positive number of days", field="expires_in_days")
    return float(days) * 86400


@router.post(
    "/tokens",
    status_code=201,
    summary="A new API token (shown once)",
    responses=problems(400, 401, 415),
    openapi_extra=_body(
        "The token's name and its lifetime (none: it does not expire)",
        ("name",),
        name=_TEXT,
        expires_in_days=_OPT_NUMBER,
    ),
)
async def create_token(request: Request) -> Response:
    """Body ``{"name": …, "expires_in_days": 90}`` (no expiry when absent). The answer holds
    the token itself, once: only its hash is kept."""
    viewer = require_user(request)
    assert viewer.user_id is not None
    body = _object(await json_body(request), {"name", "expires_in_days"}, ("name",))
    days = _days(body.get("expires_in_days"))
    record, token = await run_in_threadpool(
        lambda: accounts(request).issue_token(viewer.user_id or "", body["name"], expires_in_s=days)
    )
    return _json({**record.as_dict(), "token": token}, 201)


@delete_route(
    router, "/tokens/{token_id}", summary="Revoke one of the caller's tokens", statuses=(401, 404)
)
def revoke_token(token_id: str, request: Request) -> Response:
    viewer = require_user(request)
    accounts(request).revoke_token(None if viewer.is_admin else viewer.user_id, token_id)
    return Response(status_code=204)


# ---------------------------------------------------------------------- groups


def _visible_group(store: AccountStore, viewer: Viewer, name: str) -> dict[str, Any]:
    """A group its members and administrators may read; 404 for everyone else."""
    if not viewer.is_admin and name not in viewer.groups:
        raise NotFound(f"no group named '{name}'", field="group")
    return store.group(name)


@router.get(
    "/groups",
    summary="The caller's groups (every group for an administrator)",
    responses=problems(401),
)
def list_groups(request: Request) -> Response:
    viewer = require_user(request)
    store = accounts(request)
    groups = store.groups(None if viewer.is_admin else viewer.user_id)
    return _json({"groups": groups})


@router.post(
    "/groups",
    status_code=201,
    summary="Create a group (administrators)",
    responses=problems(400, 401, 403, 409, 415),
    openapi_extra=_body(
        "The group", ("name",), name=_TEXT, description=_OPT_TEXT, monthly_allowance=_OPT_NUMBER
    ),
)
async def create_group(request: Request) -> Response:
    require_admin(request)
    body = _object(
        await json_body(request), {"name", "description", "monthly_allowance"}, ("name",)
    )
    allowance = body.get("monthly_allowance")
    group = await run_in_threadpool(
        lambda: accounts(request).create_group(
            body["name"],
            body.get("description"),
            None if allowance is None else cents(allowance, "monthly_allowance"),
        )
    )
    return _json(group, 201)


@router.get("/groups/{name}", summary="A group and its members", responses=problems(401, 404))
def get_group(name: str, request: Request) -> Response:
    return _json(_visible_group(accounts(request), require_user(request), name))


@router.put(
    "/groups/{name}/members/{user}",
    status_code=204,
    summary="Add a member (administrators)",
    responses=problems(401, 403, 404),
)
def add_member(name: str, user: str, request: Request) -> Response:
    require_admin(request)
    accounts(request).add_member(name, user)
    return Response(status_code=204)


@delete_route(router, "/groups/{name}/members/{user}", summary="Remove a member (administrators)")
def remove_member(name: str, user: str, request: Request) -> Response:
    require_admin(request)
    accounts(request).remove_member(name, user)
    return Response(status_code=204)


# ---------------------------------------------------------------------- users (administrators)


@router.get(
    "/users", summary="Every user and their credits (administrators)", responses=problems(401, 403)
)
def list_users(request: Request) -> Response:
    """Each user with their ``credits`` (balance, held, available…), so that an operator sees
    who can still run jobs in one request."""
    require_admin(request)
    balances = credit_store(request)
    users = accounts(request).users()
    return _json(
        {"users": [{**u.as_dict(), "credits": balances.balance(u.id).as_dict()} for u in users]}
    )


@router.post(
    "/users/{name}/tokens",
    status_code=201,
    summary="A new API token for a user (administrators; shown once)",
    responses=problems(400, 401, 403, 404, 415),
    openapi_extra=_body(
        "The token's name and its lifetime (none: it does not expire)",
        ("name",),
        name=_TEXT,
        expires_in_days=_OPT_NUMBER,
    ),
)
async def create_user_token(name: str, request: Request) -> Response:
    """What ``POST /accounts/tokens`` does for the caller, done by an administrator for another
    user (a service account, a user who lost theirs): the answer holds the token, once."""
    require_admin(request)
    body = _object(await json_body(request), {"name", "expires_in_days"}, ("name",))
    days = _days(body.get("expires_in_days"))
    store = accounts(request)
    user = await run_in_threadpool(store.user_by_name, name)
    record, token = await run_in_threadpool(
        lambda: store.issue_token(user.id, str(body["name"]), expires_in_s=days)
    )
    return _json({**record.as_dict(), "user": user.name, "token": token}, 201)


@router.post(
    "/users",
    status_code=201,
    summary="Create a user (administrators)",
    responses=problems(400, 401, 403, 404, 409, 415),
    openapi_extra=_body(
        "The user",
        ("name",),
        name=_TEXT,
        role=_TEXT,
        password=_OPT_TEXT,
        email=_OPT_TEXT,
        groups={"type": ["array", "null"], "items": _TEXT},
        credits=_OPT_NUMBER,
        monthly_allowance=_OPT_NUMBER,
        token=_OPT_BOOL,
    ),
)
async def create_user(request: Request) -> Response:
    """Body: ``{"name", "role", "password", "email", "groups": […], "credits": N,
    "monthly_allowance": N, "token": true}``; with ``token`` the answer holds a new API token
    for the user, once."""
    actor = require_admin(request)
    body = _object(
        await json_body(request),
        {"name", "role", "password", "email", "groups", "credits", "monthly_allowance", "token"},
        ("name",),
    )
    groups = body.get("groups") or []
    if not isinstance(groups, list):
        raise InvalidInput("groups is a list of group names", field="groups")
    allowance = body.get("monthly_allowance")
    grant = None if body.get("credits") in (None, 0) else cents(body["credits"], "credits")

    def run() -> dict[str, Any]:
        store = accounts(request)
        user = store.create_user(
            body["name"],
            role=body.get("role", "user"),
            email=body.get("email"),
            password=body.get("password"),
            groups=groups,
            monthly_allowance=None if allowance is None else cents(allowance, "monthly_allowance"),
        )
        if grant:
            credit_store(request).grant(user.id, grant, actor=actor.name, note="initial credits")
        doc = user.as_dict()
        if body.get("token"):
            doc["token"] = store.issue_token(user.id, "created with the account")[1]
        return doc

    return _json(await run_in_threadpool(run), 201)


@router.patch(
    "/users/{name}",
    summary="Change a user's role, password, allowance or state",
    responses=problems(400, 401, 403, 404, 415),
    openapi_extra=_body(
        "What changes",
        (),
        role=_OPT_TEXT,
        password=_OPT_TEXT,
        disabled=_OPT_BOOL,
        monthly_allowance=_OPT_NUMBER,
    ),
)
async def update_user(name: str, request: Request) -> Response:
    require_admin(request)
    body = _object(await json_body(request), {"role", "password", "disabled", "monthly_allowance"})
    allowance: Any = "keep"
    if "monthly_allowance" in body:
        a = body["monthly_allowance"]
        allowance = None if a is None else cents(a, "monthly_allowance")
    user = await run_in_threadpool(
        lambda: accounts(request).update_user(
            name,
            role=body.get("role"),
            password=body.get("password"),
            disabled=body.get("disabled"),
            monthly_allowance=allowance,
        )
    )
    return _json(user.as_dict())


# ---------------------------------------------------------------------- credits


@router.post(
    "/credits",
    summary="Grant credits to a user (administrators)",
    responses=problems(400, 401, 403, 404, 415),
    openapi_extra=_body(
        "The grant", ("user", "amount"), user=_TEXT, amount=_NUMBER, note=_OPT_TEXT
    ),
)
async def grant_credits(request: Request) -> Response:
    """Body ``{"user": NAME, "amount": N, "note": …}``: a top-up, written to the ledger."""
    actor = require_admin(request)
    body = _object(await json_body(request), {"user", "amount", "note"}, ("user", "amount"))
    amount = cents(body["amount"])
    user = accounts(request).user_by_name(str(body["user"]))
    balance = await run_in_threadpool(
        lambda: credit_store(request).grant(
            user.id, amount, actor=actor.name, note=body.get("note")
        )
    )
    return _json({"user": user.name, **balance.as_dict()})


def _rows_of(request: Request, user: str | None) -> str | None:
    """Whose rows a ledger or usage request reads: the caller's own; an administrator may name
    a user, or name none for everyone's (None). Another user's name is a 404 to others, as if
    there were no such user."""
    viewer = require_user(request)
    if viewer.is_admin:
        return None if user is None else accounts(request).user_by_name(user).id
    if user is not None and user != viewer.name:
        raise NotFound(f"no user named '{user}'", field="user")
    return viewer.user_id


@router.get("/ledger", summary="The credit ledger, newest first", responses=problems(400, 401, 404))
def ledger(
    request: Request,
    user: str | None = Query(None, description="A user's name (administrators)"),
    job: str | None = Query(None, description="Only the rows of this job"),
    limit: int = Query(100, ge=1, le=10000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Response:
    """The caller's own rows; an administrator may name a user, or omit it for everyone's."""
    user_id = _rows_of(request, user)
    rows, total = credit_store(request).ledger(user_id, limit=limit, offset=offset, job_id=job)
    return _json({"entries": rows, "numberMatched": total})


@router.get(
    "/usage",
    summary="Usage per user, service and provider (JSON or CSV)",
    response_class=Response,
    responses={
        **answer(("application/json", "text/csv"), "Totals per user, service and provider"),
        **problems(400, 401, 404),
    },
)
def usage(
    request: Request,
    start: str | None = Query(None, alias="from", description="RFC 3339 or a date"),
    end: str | None = Query(None, alias="to", description="RFC 3339 or a date"),
    user: str | None = Query(None, description="A user's name (administrators)"),
    format: str | None = Query(None, description="json (default) or csv"),
) -> Response:
    """Jobs, CPU-seconds, wall time and bytes read and written, totalled per user, service
    and provider for jobs that ended in [from, to]. Users see their own; administrators
    everyone's (or one user's)."""
    user_id = _rows_of(request, user)
    lo = hi = None
    if start:
        lo = parse_datetime_interval(f"{start}/..").start_us
    if end:
        hi = parse_datetime_interval(f"../{end}").end_us
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInput(f"from ({start}) is after to ({end})", field="from")
    fmt = (format or "").lower()
    if not fmt:
        fmt = "csv" if "text/csv" in request.headers.get("accept", "") else "json"
    if fmt not in ("json", "csv"):
        raise InvalidInput("format is json or csv", field="format")
    store = services(request).usage
    rows = store.report(user_id=user_id, start_us=lo, end_us=hi)
    if fmt == "csv":
        return Response(report_csv(rows), media_type="text/csv; charset=utf-8")
    meter = services(request).data_meter
    meter.flush()  # the downloads counted since the last batch are in the answer
    data = services(request).data_usage.report(user_id=user_id, start_us=lo, end_us=hi)
    return _json({"from": start, "to": end, "usage": rows, "data": data})


@router.get(
    "/data-prices",
    summary="Prices of data read and written, per collection (cents per GB)",
    responses=problems(401),
)
def data_prices(request: Request) -> Response:
    require_user(request)
    prices = services(request).data_usage.prices()
    return _json({c: asdict(p) for c, p in sorted(prices.items())})


@router.put(
    "/data-prices/{collection}",
    summary="Set the price of a collection's data (administrators; '*' for the rest)",
    responses=problems(400, 401, 403),
    openapi_extra=json_request(
        "Cents per GB (10⁹ bytes)",
        {
            "type": "object",
            "properties": {
                "read_cents_per_gb": {"type": "number", "minimum": 0},
                "write_cents_per_gb": {"type": "number", "minimum": 0},
            },
        },
    ),
)
async def set_data_price(collection: str, request: Request) -> Response:
    require_admin(request)
    if collection != ANY_COLLECTION:
        check_id(collection, field="collection")
    price = check_data_price(await json_body(request))
    await run_in_threadpool(services(request).data_usage.set_price, collection, price)
    return _json({"collection": collection, **asdict(price)})


@router.delete(
    "/data-prices/{collection}",
    summary="Remove a collection's data price (administrators)",
    status_code=204,
    responses=problems(401, 403, 404),
)
def remove_data_price(collection: str, request: Request) -> Response:
    require_admin(request)
    if not services(request).data_usage.remove_price(collection):
        raise NotFound(f"collection '{collection}' has no data price", field="collection")
    return Response(status_code=204)


def _viewer_name(request: Request) -> str | None:
    return caller(request).name

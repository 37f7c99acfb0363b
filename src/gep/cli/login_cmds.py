"""``gep login``, ``gep logout``, ``gep whoami``: who the CLI acts as on which server.

``gep login`` trades a password for an API token of its own (``POST /accounts/login`` gives a
short web session, which makes a named API token and is then ended) and keeps the server's
address and that token in the user's config (``$XDG_CONFIG_HOME/gep/config.json``, mode
0600), so that every later command reaches the same server as the same user without
GEP_URL/GEP_TOKEN. GEP_URL, GEP_TOKEN and ``gep --url`` still win over the saved login."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import quote

import typer

from gep.cli import common
from gep.cli.common import JSON_OPTION, client, console, emit_json, fail


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(
    url: str = typer.Option(None, "--url", help="The GEP server (default: gep --url, GEP_URL…)"),
    username: str = typer.Option(None, "--username", "-u", help="Your user name (prompted)"),
    password: str = typer.Option(
        None, "--password", help="Your password (prompted, hidden, when not given)"
    ),
    expires_in_days: float = typer.Option(
        None, "--expires-in-days", help="The token's lifetime (default: it does not expire)"
    ),
) -> None:
    """Log in to a GEP server and keep a new API token of yours for later commands.

    The server's address and the token go in your config ($XDG_CONFIG_HOME/gep/config.json,
    readable by you only); GEP_URL, GEP_TOKEN and gep --url still win over them."""
    if url:
        common.URL_OVERRIDE[:] = [url]
    target = common.server_url()
    if not username:
        username = typer.prompt("user name")
    if password is None:
        password = typer.prompt("password", hide_input=True)
    gep = client()
    session = gep._json(
        gep.http.post("/accounts/login", json={"username": username, "password": password})
    )["access_token"]
    body: dict[str, Any] = {"name": f"gep CLI on {socket.gethostname()}"}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    try:
        token = gep._json(gep.http.post("/accounts/tokens", json=body, headers=_bearer(session)))
    finally:
        # the web session has done its work: the API token is what the CLI keeps
        gep.http.post("/accounts/logout", headers=_bearer(session))
    saved = common.read_config()
    saved.update(url=target, token=token["token"], token_id=token["id"], user=username)
    path = common.write_config(saved)
    console.print(f"logged in to {target} as {username} (token {token['id']} saved in {path})")


def logout() -> None:
    """Revoke the token gep login saved and forget it.

    The token is forgotten even when the server cannot be reached to revoke it."""
    saved = common.read_config()
    token, token_id = saved.get("token"), saved.get("token_id")
    if not token:
        raise fail("not logged in (no saved token)", code=1)
    if saved.get("url"):
        common.URL_OVERRIDE[:] = [str(saved["url"])]
    gep = client()
    revoked = False
    try:
        r = gep.http.delete(f"/accounts/tokens/{quote(str(token_id), safe='')}",
                            headers=_bearer(str(token)))  # fmt: skip
        revoked = r.status_code == 204
    except Exception as exc:
        if not common.expected_failure(exc):
            raise
    for key in ("token", "token_id", "user"):
        saved.pop(key, None)
    common.write_config(saved)
    console.print("token revoked and forgotten" if revoked else "token forgotten")


def whoami(as_json: bool = JSON_OPTION) -> None:
    """The account the CLI acts as on the server: name, role, groups and credits."""
    gep = client()
    me = gep._json(gep.http.get("/accounts/me"))
    if as_json:
        emit_json(me)
        return
    credits = me.get("credits") or {}
    rows = [
        ("server", common.server_url()),
        ("user", me.get("name")),
        ("role", me.get("role")),
        ("groups", ", ".join(me.get("groups") or []) or "-"),
        ("credits", credits.get("available", credits.get("balance", ""))),
    ]
    common.emit_table(("field", "value"), rows, whole=("value",))


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)

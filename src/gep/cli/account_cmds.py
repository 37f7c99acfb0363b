"""``gep users``, ``gep groups``, ``gep tokens``, ``gep credits`` and ``gep usage``: accounts on
the GEP server the CLI talks to (``--url``/``GEP_URL``, as ``GEP_TOKEN`` or the saved login), so
they work against a remote GEP. Administrators' commands are refused with one line to others.

Two stay administrative, opening the database itself on the server's machine: ``gep users
create --local`` (the first administrator, before anyone could call the API as one) and ``gep
users demo-admin`` (``make run``'s administrator)."""

from __future__ import annotations

import secrets
from typing import Any

import typer

from gep.cli.common import JSON_OPTION, client, console, emit, emit_json, fail

users_app = typer.Typer(
    help="User accounts and their API tokens (administrators; `users me` for your own)",
    no_args_is_help=True,
)
groups_app = typer.Typer(help="Groups (communities) of users", no_args_is_help=True)
tokens_app = typer.Typer(help="Your API tokens: list, create, revoke", no_args_is_help=True)
credits_app = typer.Typer(
    help="Processing credits: balances, grants, prices and the ledger "
    "(without a command: your credits, or every user's for an administrator)"
)

LOCAL_HELP = (
    "Administrative: open the database directly instead of calling the server (run it on "
    "the server's machine; for the first administrator, before any exists)"
)


def _user_rows(users: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            u["name"],
            u["role"],
            ", ".join(u.get("groups") or []),
            (u.get("credits") or {}).get("available", ""),
            u.get("disabled", False),
        ]
        for u in users
    ]


_USER_COLUMNS = ("name", "role", "groups", "available credits", "disabled")


# ---------------------------------------------------------------------- users


@users_app.command("create")
def create_user(
    name: str = typer.Argument(..., help="User name (letters, digits, '.', '_', '-')"),
    role: str = typer.Option("user", "--role", help="user, developer (deploys services) or admin"),
    group: list[str] = typer.Option([], "--group", help="A group to join (created if new)"),
    credits: float = typer.Option(None, "--credits", help="Credits to grant at once"),
    allowance: float = typer.Option(None, "--allowance", help="Monthly allowance of credits"),
    email: str = typer.Option(None, "--email", help="The user's e-mail address"),
    password: str = typer.Option(
        None, "--password", help="A password for the web login (else none: tokens only)"
    ),
    token: bool = typer.Option(
        False, "--token", help="Also issue an API token, printed alone on the last line"
    ),
    local: bool = typer.Option(False, "--local", help=LOCAL_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a user (administrators); with --token, the last line printed is the new API
    token (shown once). With --local (administrative), the database is opened directly: the
    way to create the first administrator on the server's machine."""
    if local:
        user = _create_user_locally(name, role, group, credits, allowance, email, password, token)
    else:
        user = client().create_user(
            name,
            role=role,
            groups=group,
            credits=credits,
            monthly_allowance=allowance,
            email=email,
            password=password,
            token=token,
        )
    if as_json:
        emit_json(user)
        return
    groups = user.get("groups") or []
    console.print(
        f"user '{user['name']}' created (role {user['role']}"
        + (f", groups {', '.join(groups)}" if groups else "")
        + ")"
    )
    if user.get("token"):
        typer.echo(user["token"])


def _create_user_locally(
    name: str,
    role: str,
    groups: list[str],
    credits: float | None,
    allowance: float | None,
    email: str | None,
    password: str | None,
    token: bool,
) -> dict[str, Any]:
    """``users create --local``: the same account, written in the database itself."""
    from gep.accounts.credits import CreditStore
    from gep.accounts.money import cents
    from gep.accounts.store import AccountStore
    from gep.cli.common import run_or_exit, store_from_settings

    def run() -> dict[str, Any]:
        with store_from_settings() as store:
            accounts = AccountStore(store.engine)
            user = accounts.create_user(
                name,
                role=role,
                email=email,
                password=password,
                groups=groups,
                monthly_allowance=None if allowance is None else cents(allowance, "--allowance"),
            )
            if credits is not None and cents(credits, "--credits") > 0:
                CreditStore(store.engine).grant(
                    user.id, cents(credits, "--credits"), actor="gep users create --local"
                )
            doc = user.as_dict()
            if token:
                doc["token"] = accounts.issue_token(user.id, "gep users create")[1]
            return doc

    return run_or_exit(run)


@users_app.command("list")
def list_users(as_json: bool = JSON_OPTION) -> None:
    """Every user with their available credits (administrators)."""
    users = client().users()
    emit(users, as_json, _USER_COLUMNS, _user_rows(users), whole=["name"], empty="no users")


@users_app.command("me")
def me(as_json: bool = JSON_OPTION) -> None:
    """Your account: name, role, groups and credits."""
    doc = client().me()
    if as_json:
        emit_json(doc)
        return
    c = doc.get("credits") or {}
    rows = [
        ["name", doc["name"]],
        ["role", doc["role"]],
        ["groups", ", ".join(doc.get("groups") or []) or "-"],
        ["email", doc.get("email") or "-"],
        ["balance", c.get("balance")],
        ["held", c.get("held")],
        ["available", c.get("available")],
        ["allowance left", c.get("allowance_left")],
    ]
    emit(doc, False, ("field", "value"), rows, whole=["field"])


@users_app.command("token")
def new_token(
    name: str = typer.Argument(..., help="The user (yours, or anyone's for an administrator)"),
    label: str = typer.Option("gep users token", "--name", help="What the token is for"),
    days: float = typer.Option(None, "--days", help="Expires after this many days"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Issue an API token for a user; printed alone on the last line, once."""
    gep = client()
    mine = gep.me()["name"] == name
    issued = gep.create_token(label, expires_in_days=days, user=None if mine else name)
    if as_json:
        emit_json(issued)
        return
    console.print(f"token '{issued['id']}' for '{name}' (shown once):")
    typer.echo(issued["token"])


@users_app.command("set")
def set_user(
    name: str = typer.Argument(..., help="The user"),
    role: str = typer.Option(None, "--role", help="user, developer or admin"),
    password: str = typer.Option(None, "--password", help="A new password for the web login"),
    disabled: bool = typer.Option(
        None, "--disabled/--enabled", help="Refuse (or accept again) their logins and tokens"
    ),
    allowance: float = typer.Option(None, "--allowance", help="Their own monthly allowance"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a user's role, password, allowance or state (administrators)."""
    changes: dict[str, Any] = {"role": role, "password": password, "disabled": disabled}
    if allowance is not None:
        changes["monthly_allowance"] = allowance
    user = client().edit_user(name, **changes)
    if as_json:
        emit_json(user)
        return
    console.print(f"user '{user['name']}': role {user['role']}, disabled {user['disabled']}")


@users_app.command("demo-admin")
def demo_admin(
    name: str = typer.Option("admin", "--name", help="The administrator's user name"),
) -> None:
    """Administrative: opens the database directly (run it on the server's machine). The
    demo's administrator (``make run``): created if missing, given a fresh password and token,
    both printed, so that whoever started the demo can log in."""
    from gep.accounts.store import AccountStore
    from gep.cli.common import run_or_exit, store_from_settings
    from gep.core.errors import NotFound

    password = secrets.token_urlsafe(12)

    def run() -> str:
        with store_from_settings() as store:
            accounts = AccountStore(store.engine)
            try:
                accounts.user_by_name(name)
                accounts.update_user(name, role="admin", password=password, disabled=False)
            except NotFound:
                accounts.create_user(name, role="admin", password=password)
            user = accounts.user_by_name(name)
            return str(accounts.issue_token(user.id, "make run")[1])

    token = run_or_exit(run)
    console.print(f"demo administrator: user [bold]{name}[/bold], password [bold]{password}[/bold]")
    console.print("API token (export GEP_TOKEN=… for gep jobs, or Authorization: Bearer …):")
    typer.echo(token)


# ---------------------------------------------------------------------- tokens


@tokens_app.command("list")
def list_tokens(as_json: bool = JSON_OPTION) -> None:
    """Your API tokens (never their secrets)."""
    tokens = client().tokens()
    rows = [
        [t["id"], t["name"], t["created"], t.get("expires") or "never", t.get("last_used") or "-"]
        for t in tokens
        if not t.get("revoked")
    ]
    columns = ("id", "name", "created", "expires", "last used")
    emit(tokens, as_json, columns, rows, whole=["id"], empty="no API tokens")


@tokens_app.command("create")
def create_token(
    name: str = typer.Argument(..., help="What the token is for"),
    days: float = typer.Option(None, "--days", help="Expires after this many days"),
    as_json: bool = JSON_OPTION,
) -> None:
    """A new API token for you, printed alone on the last line, once."""
    issued = client().create_token(name, expires_in_days=days)
    if as_json:
        emit_json(issued)
        return
    console.print(f"token '{issued['id']}' (shown once):")
    typer.echo(issued["token"])


@tokens_app.command("revoke")
def revoke_token(
    token_id: str = typer.Argument(..., help="The token's id (gep tokens list)"),
) -> None:
    """Revoke one of your tokens at once."""
    client().revoke_token(token_id)
    console.print(f"token '{token_id}' revoked")


# ---------------------------------------------------------------------- groups


@groups_app.command("create")
def create_group(
    name: str = typer.Argument(..., help="The group's name"),
    description: str = typer.Option(None, "--description", help="What the group is"),
    allowance: float = typer.Option(None, "--allowance", help="Monthly credits of each member"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a group (administrators)."""
    group = client().create_group(name, description=description, monthly_allowance=allowance)
    if as_json:
        emit_json(group)
        return
    console.print(f"group '{name}' created")


@groups_app.command("add")
def add_member(
    group: str = typer.Argument(..., help="The group"),
    user: str = typer.Argument(..., help="The user to add"),
) -> None:
    """Put a user in a group (administrators)."""
    client().add_member(group, user)
    console.print(f"'{user}' is in '{group}'")


@groups_app.command("remove")
def remove_member(
    group: str = typer.Argument(..., help="The group"),
    user: str = typer.Argument(..., help="The user to remove"),
) -> None:
    """Take a user out of a group (administrators)."""
    client().remove_member(group, user)
    console.print(f"'{user}' left '{group}'")


@groups_app.command("list")
def list_groups(as_json: bool = JSON_OPTION) -> None:
    """Your groups (every group for an administrator), with their members."""
    groups = client().groups()
    rows = [
        [g["name"], ", ".join(g["members"]), g["monthly_allowance"], g.get("description") or ""]
        for g in groups
    ]
    columns = ("name", "members", "monthly allowance", "description")
    emit(groups, as_json, columns, rows, whole=["name"], empty="no groups")


# ---------------------------------------------------------------------- credits


@credits_app.callback(invoke_without_command=True)
def credits_overview(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Without a command: your credits, or every user's for an administrator."""
    if ctx.invoked_subcommand is not None:
        return
    gep = client()
    mine = gep.me()
    if mine.get("role") == "admin":
        users = gep.users()
        emit(users, as_json, _USER_COLUMNS, _user_rows(users), whole=["name"], empty="no users")
        return
    c = mine.get("credits") or {}
    rows = [
        [mine["name"], c.get("balance"), c.get("held"), c.get("available"), c.get("allowance_left")]
    ]
    columns = ("name", "balance", "held", "available", "allowance left")
    emit(c, as_json, columns, rows, whole=["name"])


@credits_app.command("grant")
def grant(
    name: str = typer.Argument(..., help="The user"),
    amount: float = typer.Argument(..., help="Credits (two decimals at most)"),
    note: str = typer.Option(None, "--note", help="Why (written to the ledger)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """A top-up by an administrator, written to the ledger."""
    b = client().grant_credits(name, amount, note=note)
    if as_json:
        emit_json(b)
        return
    console.print(f"'{name}': balance {b['balance']}, available {b['available']}")


@credits_app.command("ledger")
def ledger(
    user: str = typer.Option(None, "--user", help="Only this user's rows (administrators)"),
    job: str = typer.Option(None, "--job", help="Only this job's rows"),
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="Rows at most"),
    as_json: bool = JSON_OPTION,
) -> None:
    """The append-only ledger, newest first: yours; an administrator's shows everyone's."""
    gep = client()
    rows = gep.ledger(user=user, job=job, limit=limit)
    names: dict[str, str] = {}
    if rows and gep.me().get("role") == "admin":
        names = {u["id"]: u["name"] for u in gep.users()}
    for r in rows:
        r["user"] = names.get(r["user"], r["user"])
    table = [
        [
            r["seq"],
            r["time"],
            r["user"],
            r["kind"],
            r["amount"],
            r["held"],
            r["balance_after"],
            r["job"] or "",
            r["note"] or "",
        ]
        for r in rows
    ]
    columns = ("seq", "time", "user", "kind", "amount", "held", "balance", "job", "note")
    emit(rows, as_json, columns, table, whole=["job"], empty="the ledger is empty")


@credits_app.command("price")
def price(
    process_id: str = typer.Argument(..., help="The service"),
    per_job: float = typer.Option(None, "--per-job", help="Credits per job"),
    per_input: float = typer.Option(None, "--per-input", help="Per catalogue product named"),
    per_km2: float = typer.Option(None, "--per-km2", help="Per km² of the area processed"),
    per_cpu_s: float = typer.Option(None, "--per-cpu-s", help="Per CPU-second measured"),
    estimate_cpu_s: float = typer.Option(None, "--estimate-cpu-s", help="CPU-s a quote assumes"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a service's price, or change the parts given (administrators)."""
    given = {
        k: v
        for k, v in {
            "per_job": per_job,
            "per_input": per_input,
            "per_km2": per_km2,
            "per_cpu_s": per_cpu_s,
            "estimate_cpu_s": estimate_cpu_s,
        }.items()
        if v is not None
    }
    gep = client()
    p = gep.set_price(process_id, **given) if given else gep.price(process_id)
    doc = {"process": process_id, **p}
    emit(doc, as_json, ("part", "credits"), [[k, v] for k, v in p.items()], whole=["part"])


@credits_app.command("data-price")
def data_price(
    collection: str = typer.Argument(
        None, help="A collection, or '*' for all without one (none: every price)"
    ),
    read: float = typer.Option(None, "--read", help="Cents per GB read"),
    write: float = typer.Option(None, "--write", help="Cents per GB written"),
    remove: bool = typer.Option(False, "--remove", help="Remove the collection's price"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the prices of data, or set the parts given of a collection's (cents per GB;
    administrators)."""
    gep = client()
    if collection is None:
        if remove or read is not None or write is not None:
            raise fail("name the collection whose price to change")
        prices = gep.data_prices()
    elif remove:
        gep.remove_data_price(collection)
        prices = {}
        console.print(f"'{collection}': no data price")
    elif read is not None or write is not None:
        answer = gep.set_data_price(collection, read=read, write=write)
        prices = {collection: {k: v for k, v in answer.items() if k != "collection"}}
    else:
        prices = {k: v for k, v in gep.data_prices().items() if k == collection}
    rows = [[c, p.get("read_cents_per_gb"), p.get("write_cents_per_gb")] for c, p in prices.items()]
    if not remove:
        emit(
            prices,
            as_json,
            ("collection", "read (cents/GB)", "write (cents/GB)"),
            rows,
            whole=["collection"],
            empty="no data prices",
        )


# ---------------------------------------------------------------------- usage


def usage(
    start: str = typer.Option(None, "--from", help="RFC 3339 or a date"),
    end: str = typer.Option(None, "--to", help="RFC 3339 or a date"),
    user: str = typer.Option(None, "--user", help="Only this user (administrators)"),
    as_csv: bool = typer.Option(False, "--csv", help="The jobs table as CSV"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Jobs, CPU-seconds, wall time and bytes per user, service and provider; then the data
    read and written per user, source and collection, with its cost at the data prices.
    Yours; an administrator's is everyone's."""
    gep = client()
    if as_csv:
        typer.echo(gep.usage(start=start, end=end, user=user, csv=True), nl=False)
        return
    doc = gep.usage(start=start, end=end, user=user)
    if as_json:
        emit_json(doc)
        return
    from gep.cli.common import emit_table

    rows = [
        [
            r["user"],
            r["process"],
            r["provider"],
            r["jobs"],
            r["successful"],
            r["failed"],
            f"{r['cpu_s']:.1f}",
            f"{r['wall_s']:.1f}",
            _human(r["bytes_read"]),
            _human(r["bytes_written"]),
        ]
        for r in doc.get("usage", [])
    ]
    columns = (
        "user",
        "process",
        "provider",
        "jobs",
        "ok",
        "failed",
        "cpu s",
        "wall s",
        "read",
        "written",
    )
    emit(doc, False, columns, rows, whole=["user"], empty="no jobs in that period")
    data = doc.get("data") or []
    if data:
        emit_table(
            ("user", "data", "source", "collection", "events", "bytes", "cost (credits)"),
            [
                [
                    d["user"],
                    d["direction"],
                    d["source"],
                    d["collection"],
                    d["events"],
                    _human(d["bytes"]),
                    f"{d['cost_cents'] / 100:.2f}",
                ]
                for d in data
            ],
            whole=["user"],
        )


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(groups_app, name="groups")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(credits_app, name="credits")
    app.command("usage")(usage)

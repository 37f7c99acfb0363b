"""``gep users``, ``gep groups``, ``gep credits`` and ``gep usage``: the operator's commands on
accounts, run against the platform database (like ``gep db`` and ``gep harvest``)."""

from __future__ import annotations

import secrets
from typing import Any

import orjson
import typer
from rich.table import Table

from gep.cli.common import console, run_or_exit, store_from_settings
from gep.core.errors import InvalidInput

users_app = typer.Typer(help="User accounts and their API tokens", no_args_is_help=True)
groups_app = typer.Typer(help="Groups (communities) of users", no_args_is_help=True)
credits_app = typer.Typer(help="Processing credits: balances, grants, prices and the ledger")


def _accounts(store: Any) -> Any:
    from gep.accounts.store import AccountStore

    return AccountStore(store.engine)


def _credits(store: Any) -> Any:
    from gep.accounts.credits import CreditStore

    return CreditStore(store.engine)


# ---------------------------------------------------------------------- users


@users_app.command("create")
def create_user(
    name: str = typer.Argument(..., help="User name (letters, digits, '.', '_', '-')"),
    role: str = typer.Option("user", "--role", help="user, developer (deploys services) or admin"),
    group: list[str] = typer.Option([], "--group", help="A group to join (created if new)"),
    credits: str = typer.Option(None, "--credits", help="Credits to grant at once"),
    allowance: str = typer.Option(None, "--allowance", help="Monthly allowance of credits"),
    email: str = typer.Option(None, "--email"),
    password: str = typer.Option(
        None, "--password", help="A password for the web login (else none: tokens only)"
    ),
    token: bool = typer.Option(
        False, "--token", help="Also issue an API token, printed alone on the last line"
    ),
) -> None:
    """Create a user; with --token, the last line printed is the new API token (shown once)."""
    from gep.accounts.money import cents

    def run() -> tuple[Any, str | None]:
        with store_from_settings() as store:
            accounts = _accounts(store)
            user = accounts.create_user(
                name,
                role=role,
                email=email,
                password=password,
                groups=group,
                monthly_allowance=None if allowance is None else cents(allowance, "--allowance"),
            )
            if credits is not None and cents(credits, "--credits") > 0:
                _credits(store).grant(
                    user.id, cents(credits, "--credits"), actor="gep users create"
                )
            issued = accounts.issue_token(user.id, "gep users create")[1] if token else None
            return user, issued

    user, issued = run_or_exit(run)
    console.print(
        f"user '{user.name}' created (role {user.role}"
        + (f", groups {', '.join(user.groups)}" if user.groups else "")
        + ")"
    )
    if issued:
        typer.echo(issued)


@users_app.command("list")
def list_users(as_json: bool = typer.Option(False, "--json")) -> None:
    with store_from_settings() as store:
        users = _accounts(store).users()
        balances = {u.id: _credits(store).balance(u.id) for u in users}
    if as_json:
        out = [{**u.as_dict(), "credits": balances[u.id].as_dict()} for u in users]
        typer.echo(orjson.dumps(out).decode())
        return
    table = Table("name", "role", "groups", "available credits", "disabled")
    for u in users:
        b = balances[u.id].as_dict()
        table.add_row(u.name, u.role, ", ".join(u.groups), str(b["available"]), str(u.disabled))
    console.print(table)


@users_app.command("token")
def new_token(
    name: str = typer.Argument(..., help="The user"),
    label: str = typer.Option("gep users token", "--name", help="What the token is for"),
    days: float = typer.Option(None, "--days", help="Expires after this many days"),
) -> None:
    """Issue an API token for a user; printed alone on the last line, once."""

    def run() -> str:
        with store_from_settings() as store:
            accounts = _accounts(store)
            user = accounts.user_by_name(name)
            expires = None if days is None else days * 86400
            return str(accounts.issue_token(user.id, label, expires_in_s=expires)[1])

    token = run_or_exit(run)
    console.print(f"token for '{name}' (shown once):")
    typer.echo(token)


@users_app.command("set")
def set_user(
    name: str = typer.Argument(...),
    role: str = typer.Option(None, "--role"),
    password: str = typer.Option(None, "--password"),
    disabled: bool = typer.Option(None, "--disabled/--enabled"),
) -> None:
    """Change a user's role, password or state."""

    def run() -> Any:
        with store_from_settings() as store:
            return _accounts(store).update_user(
                name, role=role, password=password, disabled=disabled
            )

    user = run_or_exit(run)
    console.print(f"user '{user.name}': role {user.role}, disabled {user.disabled}")


@users_app.command("demo-admin")
def demo_admin(name: str = typer.Option("admin", "--name")) -> None:
    """The demo's administrator (``make run``): created if missing, given a fresh password and
    token, both printed, so that whoever started the demo can log in."""
    password = secrets.token_urlsafe(12)

    def run() -> str:
        from gep.core.errors import NotFound

        with store_from_settings() as store:
            accounts = _accounts(store)
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


# ---------------------------------------------------------------------- groups


@groups_app.command("create")
def create_group(
    name: str = typer.Argument(...),
    description: str = typer.Option(None, "--description"),
    allowance: str = typer.Option(None, "--allowance", help="Monthly credits of each member"),
) -> None:
    from gep.accounts.money import cents

    with store_from_settings() as store:
        run_or_exit(
            lambda: _accounts(store).create_group(
                name, description, None if allowance is None else cents(allowance, "--allowance")
            )
        )
    console.print(f"group '{name}' created")


@groups_app.command("add")
def add_member(group: str = typer.Argument(...), user: str = typer.Argument(...)) -> None:
    with store_from_settings() as store:
        run_or_exit(lambda: _accounts(store).add_member(group, user))
    console.print(f"'{user}' is in '{group}'")


@groups_app.command("remove")
def remove_member(group: str = typer.Argument(...), user: str = typer.Argument(...)) -> None:
    with store_from_settings() as store:
        run_or_exit(lambda: _accounts(store).remove_member(group, user))
    console.print(f"'{user}' left '{group}'")


@groups_app.command("list")
def list_groups(as_json: bool = typer.Option(False, "--json")) -> None:
    with store_from_settings() as store:
        groups = _accounts(store).groups()
    if as_json:
        typer.echo(orjson.dumps(groups).decode())
        return
    table = Table("name", "members", "monthly allowance", "description")
    for g in groups:
        table.add_row(
            g["name"], ", ".join(g["members"]), str(g["monthly_allowance"]), g["description"] or ""
        )
    console.print(table)


# ---------------------------------------------------------------------- credits


@credits_app.callback(invoke_without_command=True)
def credits_overview(ctx: typer.Context) -> None:
    """Without a command: every user's credits."""
    if ctx.invoked_subcommand is None:
        list_users(as_json=False)


@credits_app.command("grant")
def grant(
    name: str = typer.Argument(..., help="The user"),
    amount: str = typer.Argument(..., help="Credits (two decimals at most)"),
    note: str = typer.Option(None, "--note"),
) -> None:
    """A top-up by an administrator, written to the ledger."""
    from gep.accounts.money import cents

    def run() -> Any:
        with store_from_settings() as store:
            user = _accounts(store).user_by_name(name)
            return _credits(store).grant(user.id, cents(amount), actor="gep credits", note=note)

    balance = run_or_exit(run)
    b = balance.as_dict()
    console.print(f"'{name}': balance {b['balance']}, available {b['available']}")


@credits_app.command("ledger")
def ledger(
    user: str = typer.Option(None, "--user", help="Only this user's rows"),
    job: str = typer.Option(None, "--job", help="Only this job's rows"),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The append-only ledger, newest first."""

    def run() -> list[dict[str, Any]]:
        with store_from_settings() as store:
            user_id = None if user is None else _accounts(store).user_by_name(user).id
            names = {u.id: u.name for u in _accounts(store).users()}
            rows, _ = _credits(store).ledger(user_id, limit=limit, job_id=job)
            for r in rows:
                r["user"] = names.get(r["user"], r["user"])
            return rows

    rows = run_or_exit(run)
    if as_json:
        typer.echo(orjson.dumps(rows).decode())
        return
    table = Table("seq", "time", "user", "kind", "amount", "held", "balance", "job", "note")
    for r in rows:
        table.add_row(
            str(r["seq"]),
            r["time"],
            r["user"],
            r["kind"],
            str(r["amount"]),
            str(r["held"]),
            str(r["balance_after"]),
            (r["job"] or "")[:8],
            r["note"] or "",
        )
    console.print(table)


@credits_app.command("price")
def price(
    process_id: str = typer.Argument(..., help="The service"),
    per_job: float = typer.Option(None, "--per-job"),
    per_input: float = typer.Option(None, "--per-input", help="Per catalogue product named"),
    per_km2: float = typer.Option(None, "--per-km2", help="Per km² of the area processed"),
    per_cpu_s: float = typer.Option(None, "--per-cpu-s", help="Per CPU-second measured"),
    estimate_cpu_s: float = typer.Option(None, "--estimate-cpu-s", help="CPU-s a quote assumes"),
) -> None:
    """Show a service's price, or change the parts given."""
    from dataclasses import asdict

    from gep.accounts.credits import check_price

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

    def run() -> Any:
        with store_from_settings() as store:
            store_credits = _credits(store)
            if given:
                store_credits.set_price(
                    process_id, check_price({**asdict(store_credits.price(process_id)), **given})
                )
            return store_credits.price(process_id)

    p = run_or_exit(run)
    typer.echo(orjson.dumps({"process": process_id, **p.as_dict()}).decode())


@credits_app.command("data-price")
def data_price(
    collection: str = typer.Argument(..., help="A collection, or '*' for all without one"),
    read: float = typer.Option(None, "--read", help="Cents per GB read"),
    write: float = typer.Option(None, "--write", help="Cents per GB written"),
    remove: bool = typer.Option(False, "--remove", help="Remove the collection's price"),
) -> None:
    """Show the price of a collection's data, or set the parts given (cents per GB)."""
    from dataclasses import asdict

    from gep.accounts.data_usage import DataPrice, DataUsageStore, check_data_price

    def run() -> DataPrice | None:
        with store_from_settings() as store:
            data = DataUsageStore(store.engine)
            if remove:
                data.remove_price(collection)
                return None
            current = data.prices().get(collection, DataPrice())
            given = {"read_cents_per_gb": read, "write_cents_per_gb": write}
            if read is not None or write is not None:
                body = {**asdict(current), **{k: v for k, v in given.items() if v is not None}}
                data.set_price(collection, check_data_price(body))
            return data.prices().get(collection)

    p = run_or_exit(run)
    shown = asdict(p) if p is not None else None
    typer.echo(orjson.dumps({"collection": collection, "price": shown}).decode())


# ---------------------------------------------------------------------- usage


def usage(
    start: str = typer.Option(None, "--from", help="RFC 3339 or a date"),
    end: str = typer.Option(None, "--to", help="RFC 3339 or a date"),
    user: str = typer.Option(None, "--user"),
    as_csv: bool = typer.Option(False, "--csv"),
) -> None:
    """Jobs, CPU-seconds, wall time and bytes per user, service and provider; then the data
    read and written per user, source and collection, with its cost at the data prices."""
    from gep.accounts.data_usage import DataUsageStore
    from gep.accounts.usage import UsageStore, report_csv
    from gep.core.timeutil import parse_datetime_interval
    from gep.core.units import human_bytes

    def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        lo = parse_datetime_interval(f"{start}/..").start_us if start else None
        hi = parse_datetime_interval(f"../{end}").end_us if end else None
        if lo is not None and hi is not None and lo > hi:
            raise InvalidInput(f"--from {start} is after --to {end}")
        with store_from_settings() as store:
            user_id = None if user is None else _accounts(store).user_by_name(user).id
            rows: list[dict[str, Any]] = UsageStore(store.engine).report(
                user_id=user_id, start_us=lo, end_us=hi
            )
            data = DataUsageStore(store.engine).report(user_id=user_id, start_us=lo, end_us=hi)
            return rows, data

    rows, data = run_or_exit(run)
    if as_csv:
        typer.echo(report_csv(rows), nl=False)
        return
    table = Table(
        "user", "process", "provider", "jobs", "ok", "failed", "cpu s", "wall s", "read", "written"
    )
    for r in rows:
        table.add_row(
            r["user"], r["process"], r["provider"], str(r["jobs"]), str(r["successful"]),
            str(r["failed"]), f"{r['cpu_s']:.1f}", f"{r['wall_s']:.1f}",
            human_bytes(r["bytes_read"]), human_bytes(r["bytes_written"]),
        )  # fmt: skip
    console.print(table)
    if data:
        table = Table("user", "data", "source", "collection", "events", "bytes", "cost (credits)")
        for d in data:
            table.add_row(
                d["user"], d["direction"], d["source"], d["collection"], str(d["events"]),
                human_bytes(d["bytes"]), f"{d['cost_cents'] / 100:.2f}",
            )  # fmt: skip
        console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(groups_app, name="groups")
    app.add_typer(credits_app, name="credits")
    app.command("usage")(usage)

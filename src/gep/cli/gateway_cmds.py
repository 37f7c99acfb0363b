"""``gep mirrors`` and ``gep cache``: the data gateway's sources and its cache.

Mirrors and the cache's counters are the operator's, on the database (like ``gep harvest``);
``gep cache prefetch`` asks the running server (``GEP_BASE_URL``, ``GEP_TOKEN``), whose
cache the jobs read, and sees items as the token's user does.
"""

from __future__ import annotations

import typer
from rich.table import Table

from gep.cli.common import console, run_or_exit, settings, store_from_settings
from gep.core.errors import InvalidInput
from gep.gateway.config import GatewayConfig

mirrors = typer.Typer(
    help="Mirrors: other places a collection's products are read from (local folders in a "
    "data root, S3 prefixes, HTTP archives)",
    no_args_is_help=True,
)
cache = typer.Typer(help="The cache of remote inputs: counters, prefetching", no_args_is_help=True)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


def _gateway_config() -> GatewayConfig:
    """The server's gateway configuration (data roots, the cache folder) from the settings."""
    from gep.api.app import gateway_config, local_storage_root

    s = settings()
    return gateway_config(s, local_storage_root(s))


@mirrors.command("list")
def list_mirrors() -> None:
    """Every mirror, in the order retrieval tries them."""
    from gep.gateway.mirrors import MirrorStore

    with store_from_settings() as store:
        found = MirrorStore(store.engine).all()
    table = Table("name", "kind", "url", "collections", "priority", "match prefix", "credentials")
    for m in found:
        creds = ", ".join(f"{k}={v}" for k, v in m.credentials) or "-"
        table.add_row(
            m.name,
            str(m.kind),
            m.url,
            ", ".join(m.collections),
            str(m.priority),
            m.match_prefix or "(file name)",
            creds,
        )
    console.print(table)


@mirrors.command("add")
def add_mirror(
    name: str = typer.Argument(..., help="Name of the mirror (logs and stats name it)"),
    kind: str = typer.Option(..., "--kind", help="local, s3 or http"),
    url: str = typer.Option(..., "--url", help="Folder in a data root, s3://bucket/prefix, URL"),
    collection: list[str] = typer.Option(
        ..., "--collection", help="A collection it serves (repeat; '*' for all)"
    ),
    priority: int = typer.Option(100, "--priority", help="Smaller is tried first"),
    match_prefix: str = typer.Option(
        "", "--match-prefix", help="Hrefs starting with it map by the rest of their path"
    ),
    endpoint_url: str = typer.Option("", "--endpoint-url", help="S3-compatible endpoint"),
    credential: list[str] = typer.Option(
        [],
        "--credential",
        help="KEY=NAME: token_env, user_env, password_env, key_env, secret_env (names of "
        "GEP_MIRROR_* variables) or profile (an AWS profile); never the secret itself",
    ),
) -> None:
    """Add a mirror, or replace the one of that name."""
    from gep.gateway.mirrors import MirrorStore, check_mirror, mirror_from_body

    def go() -> None:
        creds: dict[str, str] = {}
        for pair in credential:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise InvalidInput(f"--credential '{pair[:40]}': write KEY=VARIABLE_NAME")
            creds[key.strip()] = value.strip()
        body = {
            "kind": kind,
            "url": url,
            "collections": collection,
            "priority": priority,
            "match_prefix": match_prefix,
            "endpoint_url": endpoint_url,
            "credentials": creds,
        }
        mirror = check_mirror(mirror_from_body(name, body), _gateway_config())
        with store_from_settings() as store:
            created = MirrorStore(store.engine).put(mirror)
        verb = "added" if created else "replaced"
        console.print(
            f"mirror [bold]{name}[/bold] ({kind}, {', '.join(mirror.collections)}) {verb}"
        )

    run_or_exit(go)


@mirrors.command("remove")
def remove_mirror(name: str = typer.Argument(..., help="Name of the mirror")) -> None:
    """Remove a mirror (cached products it served stay cached)."""
    from gep.gateway.mirrors import MirrorStore

    def go() -> None:
        with store_from_settings() as store:
            MirrorStore(store.engine).remove(name)
        console.print(f"mirror [bold]{name}[/bold] removed")

    run_or_exit(go)


@cache.command("stats")
def cache_stats() -> None:
    """Hits, misses, bytes and evictions per source, and what this host's cache holds."""
    from gep.gateway.cache import Cache

    with store_from_settings() as store:
        doc = Cache(store.engine, _gateway_config()).stats()
    table = Table("source", "hits", "misses", "fetched", "served", "failures", "evictions")
    rows = [*doc["sources"].items(), ("total", doc["totals"])]
    for source, c in rows:
        counts = [str(c["hits"]), str(c["misses"]), _human(c["bytes_fetched"])]
        counts += [_human(c["bytes_served"]), str(c["failures"]), str(c["evictions"])]
        table.add_row(source, *counts)
    console.print(table)
    held = doc["cache"]
    console.print(
        f"cache: {held['entries']} entries, {_human(held['bytes'])} of "
        f"{_human(held['max_bytes'])}, {held['pinned_entries']} pinned by queued or running jobs"
    )


@cache.command("prefetch")
def cache_prefetch(
    items: list[str] = typer.Argument(..., help="Items as collection/item"),
    asset: list[str] = typer.Option([], "--asset", help="Asset key (repeat); default: data"),
) -> None:
    """Ask the running server to fetch items' remote assets into its cache now."""
    from gep.cli.job_cmds import client
    from gep.client import GepClientError

    gep = client()
    body: dict[str, object] = {"items": items}
    if asset:
        body["assets"] = asset
    try:
        doc = gep._json(gep.http.post("/gateway/prefetch", json=body))
    except GepClientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    table = Table("item", "asset", "status")
    for a in doc["assets"]:
        table.add_row(a["item"], a["asset"], a["status"])
    console.print(table)
    console.print(f"{doc['queued']} assets queued")


def register(app: typer.Typer) -> None:
    app.add_typer(mirrors, name="mirrors")
    app.add_typer(cache, name="cache")

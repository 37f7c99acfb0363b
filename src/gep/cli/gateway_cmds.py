"""``gep mirrors`` and ``gep cache``: the data gateway's sources and its cache, on the GEP server
the CLI talks to (``--url``/``GEP_URL``). Mirrors and the cache's counters are an
administrator's; ``gep cache prefetch`` is anyone's, and sees items as the caller does."""

from __future__ import annotations

import typer

from gep.cli.common import JSON_OPTION, client, console, emit, emit_json, emit_table, fail

mirrors = typer.Typer(
    help="Mirrors: other places a collection's products are read from (local folders in a "
    "data root, S3 prefixes, HTTP archives; administrators)",
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


@mirrors.command("list")
def list_mirrors(as_json: bool = JSON_OPTION) -> None:
    """Every mirror, in the order retrieval tries them."""
    found = client().mirrors()
    rows = [
        [
            m["name"],
            m["kind"],
            m["url"],
            ", ".join(m["collections"]),
            m["priority"],
            m.get("match_prefix") or "(file name)",
            ", ".join(f"{k}={v}" for k, v in (m.get("credentials") or {}).items()) or "-",
        ]
        for m in found
    ]
    columns = ("name", "kind", "url", "collections", "priority", "match prefix", "credentials")
    emit(found, as_json, columns, rows, whole=["name"], empty="no mirrors")


@mirrors.command("add")
def add_mirror(
    name: str = typer.Argument(..., help="Name of the mirror (logs and stats name it)"),
    kind: str = typer.Option(..., "--kind", help="local, s3 or http"),
    url: str = typer.Option(..., "--url", help="Folder in a data root, s3://bucket/prefix, URL"),
    collection: list[str] = typer.Option(
        ..., "--collection", help="A collection it serves (repeat; '*' for all)"
    ),
    priority: int = typer.Option(100, "--priority", min=0, help="Smaller is tried first"),
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
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a mirror, or replace the one of that name (the server checks it first)."""
    creds: dict[str, str] = {}
    for pair in credential:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise fail(f"--credential '{pair[:40]}': write KEY=VARIABLE_NAME")
        creds[key.strip()] = value.strip()
    mirror = client().put_mirror(
        name,
        kind,
        url,
        collection,
        priority=priority,
        match_prefix=match_prefix,
        endpoint_url=endpoint_url,
        credentials=creds,
    )
    if as_json:
        emit_json(mirror)
        return
    verb = "added" if mirror.get("created") else "replaced"
    console.print(f"mirror [bold]{name}[/bold] ({kind}, {', '.join(mirror['collections'])}) {verb}")


@mirrors.command("remove")
def remove_mirror(name: str = typer.Argument(..., help="Name of the mirror")) -> None:
    """Remove a mirror (cached products it served stay cached)."""
    client().remove_mirror(name)
    console.print(f"mirror [bold]{name}[/bold] removed")


@cache.command("stats")
def cache_stats(as_json: bool = JSON_OPTION) -> None:
    """Hits, misses, bytes and evictions per source, and what the server's cache holds
    (administrators)."""
    doc = client().cache_stats()
    if as_json:
        emit_json(doc)
        return
    rows = []
    for source, c in [*doc["sources"].items(), ("total", doc["totals"])]:
        rows.append(
            [
                source,
                c["hits"],
                c["misses"],
                _human(c["bytes_fetched"]),
                _human(c["bytes_served"]),
                c["failures"],
                c["evictions"],
            ]
        )
    emit_table(
        ("source", "hits", "misses", "fetched", "served", "failures", "evictions"),
        rows,
        whole=["source"],
    )
    held = doc["cache"]
    console.print(
        f"cache: {held['entries']} entries, {_human(held['bytes'])} of "
        f"{_human(held['max_bytes'])}, {held['pinned_entries']} pinned by queued or running jobs"
    )


@cache.command("prefetch")
def cache_prefetch(
    items: list[str] = typer.Argument(..., help="Items as collection/item"),
    asset: list[str] = typer.Option([], "--asset", help="Asset key (repeat); default: data"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask the server to fetch items' remote assets into its cache now."""
    doc = client().prefetch(items, asset)
    rows = [[a["item"], a["asset"], a["status"]] for a in doc["assets"]]
    emit(doc, as_json, ("item", "asset", "status"), rows, whole=["item"], empty="no assets")
    if not as_json:
        console.print(f"{doc['queued']} assets queued")


def register(app: typer.Typer) -> None:
    app.add_typer(mirrors, name="mirrors")
    app.add_typer(cache, name="cache")

"""``gep catalog``: putting STAC records into the catalogue, and pre-rendering quicklooks.

Administrative: these open the database (and the storage) directly, because they read files
on the server's own disk (``GEP_HOME``, ``GEP_DATABASE_URL``): run them on the server's machine.
From elsewhere, add items through the API (``POST /stac/collections/{id}/items``, or ``gep
upload`` for files); quicklooks are otherwise rendered on their first request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gep.cli.common import console, run_or_exit, settings, store_from_settings

if TYPE_CHECKING:
    from rich.progress import Progress

    from gep.catalog.store import CatalogStore
    from gep.catalog.store_writes import IngestReport
    from gep.tiles.quicklook_cache import QuicklookCache, QuicklookReport

ADMINISTRATIVE = "Administrative: opens the database directly (run it on the server's machine). "

app = typer.Typer(
    help=ADMINISTRATIVE + "The catalogue: ingest STAC records from files, pre-render quicklooks",
    no_args_is_help=True,
)


def ingest_paths(
    store: CatalogStore,
    paths: list[Path],
    *,
    collection: str | None = None,
    create_collections: bool = True,
    progress: Progress | None = None,
    keys: list[tuple[str, str]] | None = None,
) -> IngestReport:
    """Ingest every record under ``paths``; collections first, then items in batches.

    ``keys``, when given, receives the (collection, id) of every item sent to the store.
    """
    from gep.catalog.store_writes import IngestFailure, IngestReport
    from gep.core.errors import GepError
    from gep.io.stac_files import iter_stac_records

    total = IngestReport()
    position = 0
    pending: list[Any] = []
    task = progress.add_task("ingesting", total=None) if progress else None

    def flush() -> None:
        nonlocal pending
        if not pending:
            return
        report = store.write_items(
            pending,
            collection=collection,
            mode="upsert",
            atomic=False,
            create_collections=create_collections,
            origin="ingest",  # new items are ingestion events: subscriptions see them
        )
        base = position - len(pending)
        total.written += report.written
        for f in report.failed:
            f.position += base
            total.failed.append(f)
        total.created_collections += report.created_collections
        if progress and task is not None:
            progress.update(task, advance=len(pending))
        pending = []

    def records() -> Iterator[Any]:
        for p in paths:
            yield from iter_stac_records(p)

    for rec in records():
        if rec.kind == "collection":
            flush()
            try:
                store.create_collection(rec.data, upsert=True)
            except GepError as exc:
                total.failed.append(
                    IngestFailure(
                        position,
                        rec.data.get("id") if isinstance(rec.data, dict) else None,
                        f"{rec.source}: {exc.message}",
                    )
                )
            position += 1
            continue
        if rec.kind == "error":
            ident = rec.data.get("id") if isinstance(rec.data, dict) else None
            total.failed.append(IngestFailure(position, ident, f"{rec.source}: {rec.error}"))
            position += 1
            continue
        item = rec.data
        if rec.collection and isinstance(item, dict) and not item.get("collection"):
            item = {**item, "collection": rec.collection}
        pending.append(item)
        if keys is not None and isinstance(item, dict):
            coll, item_id = collection or item.get("collection"), item.get("id")
            if isinstance(coll, str) and isinstance(item_id, str):
                keys.append((coll, item_id))
        position += 1
        if len(pending) >= store.batch_size:
            flush()
    flush()
    return total


@app.command("ingest")
def ingest(
    paths: list[Path] = typer.Argument(
        ...,
        help="STAC Item/Collection/ItemCollection JSON, "
        "NDJSON, a static catalogue, or folders of them",
    ),
    collection: str | None = typer.Option(
        None, "--collection", "-c", help="Put every item in this collection"
    ),
    create_collections: bool = typer.Option(True, help="Create missing collections"),
    quicklooks: bool = typer.Option(
        False,
        "--quicklooks",
        help="Also render the PNG quicklook of each ingested item that has local rasters "
        "and no thumbnail (otherwise made on first request)",
    ),
) -> None:
    """Administrative: opens the database directly (run it on the server's machine). Ingest
    STAC records from files (idempotent: re-ingesting updates in place)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gep.tiles.quicklook_cache import make_quicklooks

    keys: list[tuple[str, str]] | None = [] if quicklooks else None
    with (
        store_from_settings() as store,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress,
    ):
        report = ingest_paths(
            store,
            paths,
            collection=collection,
            create_collections=create_collections,
            progress=progress,
            keys=keys,
        )
        store.analyze()
        if keys:
            cache = _quicklook_cache()
            task = progress.add_task("quicklooks", total=len(keys))
            ql_report = make_quicklooks(
                cache,
                _ingested_items(store, list(dict.fromkeys(keys))),
                on_item=lambda: progress.update(task, advance=1),
            )
    for f in report.failed:
        console.print(
            f"[red]failed[/red] record {f.position} ({f.item_id or 'no id'}): {f.message}",
            soft_wrap=True,
        )
    if report.created_collections:
        console.print("created collections: " + ", ".join(report.created_collections))
    console.print(f"ingested {report.written} items, {len(report.failed)} failed")
    if keys:
        _print_quicklooks(ql_report, cache)
    if report.failed and report.written == 0:
        raise typer.Exit(1)


def _stored_items(store: CatalogStore, collection: str | None) -> Iterator[tuple[str, str, bytes]]:
    """Every stored item (of one collection), page by page, as the store keeps it."""
    from gep.catalog.search import SearchRequest

    if collection is not None:
        store.get_collection(collection)  # NotFound names the collection
    req = SearchRequest(collections=[collection] if collection else None, limit=500)
    while True:
        page = store.search(req)
        yield from page.items
        if not page.next_token:
            return
        req.token = page.next_token


def _ingested_items(
    store: CatalogStore, keys: list[tuple[str, str]]
) -> Iterator[tuple[str, str, bytes]]:
    """The items an ingest wrote, as stored (records that failed are not there)."""
    from gep.core.errors import NotFound

    for coll, item_id in keys:
        try:
            yield coll, item_id, store.get_item(coll, item_id)
        except NotFound:
            continue


def _quicklook_cache() -> QuicklookCache:
    from gep.tiles.quicklook_cache import QuicklookCache, storage_root

    s = settings()
    return QuicklookCache(storage_root(s.resolved_storage_url(), s.home / "storage"))


def _print_quicklooks(report: QuicklookReport, cache: QuicklookCache) -> None:
    for coll, item_id, message in report.failed:
        console.print(f"[red]failed[/red] {coll}/{item_id}: {message}", soft_wrap=True)
    console.print(
        f"quicklooks: {report.made} made, {report.cached} already cached, "
        f"{report.skipped} items skipped (own thumbnail or nothing to render), "
        f"{len(report.failed)} failed; in {cache.root}"
    )


@app.command("quicklooks")
def quicklooks(
    collection: str | None = typer.Option(
        None, "--collection", "-c", help="Only the items of this collection"
    ),
    force: bool = typer.Option(False, "--force", help="Render again even when cached"),
) -> None:
    """Administrative: opens the database directly (run it on the server's machine).
    Pre-generate the PNG quicklooks of items that ship no thumbnail (warms the cache that
    GET /stac/collections/{c}/items/{i}/quicklook serves; cached ones cost a stat each)."""
    from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gep.tiles.quicklook_cache import make_quicklooks

    cache = _quicklook_cache()
    with (
        store_from_settings() as store,
        Progress(
            TextColumn("[bold]{task.description}"),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("quicklooks", total=None)
        report = run_or_exit(
            lambda: make_quicklooks(
                cache,
                _stored_items(store, collection),
                force=force,
                on_item=lambda: progress.update(task, advance=1),
            )
        )
    _print_quicklooks(report, cache)
    if report.failed and report.made + report.cached == 0:
        raise typer.Exit(1)

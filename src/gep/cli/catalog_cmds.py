"""``gep catalog``: putting STAC records into the catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gep.catalog.search import SearchRequest
from gep.catalog.store import CatalogStore, IngestFailure, IngestReport
from gep.cli.common import console, run_or_exit, settings, store_from_settings
from gep.core.errors import GepError
from gep.io.stac_files import iter_stac_records
from gep.tiles.quicklook import wants_generated_thumbnail
from gep.tiles.quicklook_cache import QuicklookCache, storage_root

app = typer.Typer(help="The catalogue", no_args_is_help=True)


def ingest_paths(
    store: CatalogStore,
    paths: list[Path],
    *,
    collection: str | None = None,
    create_collections: bool = True,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest every record under ``paths``; collections first, then items in batches."""
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
) -> None:
    """Ingest STAC records (idempotent: re-ingesting updates in place)."""
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
        )
        store.analyze()
    for f in report.failed:
        console.print(
            f"[red]failed[/red] record {f.position} ({f.item_id or 'no id'}): {f.message}",
            soft_wrap=True,
        )
    if report.created_collections:
        console.print("created collections: " + ", ".join(report.created_collections))
    console.print(f"ingested {report.written} items, {len(report.failed)} failed")
    if report.failed and report.written == 0:
        raise typer.Exit(1)


@dataclass
class QuicklookReport:
    made: int = 0
    cached: int = 0
    #: items that have a thumbnail of their own or no local raster to render
    skipped: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def make_quicklooks(
    store: CatalogStore,
    cache: QuicklookCache,
    *,
    collection: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> QuicklookReport:
    """Render (or find cached) the quicklook of every item that would advertise one."""
    if collection is not None:
        store.get_collection(collection)  # NotFound names the collection
    report = QuicklookReport()
    req = SearchRequest(collections=[collection] if collection else None, limit=500)
    task = progress.add_task("quicklooks", total=None) if progress else None
    while True:
        page = store.search(req)
        for coll, item_id, content in page.items:
            item = orjson.loads(content)
            if not wants_generated_thumbnail(item):
                report.skipped += 1
                continue
            try:
                ql = cache.get_or_create(coll, item_id, item, force=force)
            except GepError as exc:
                report.failed.append((coll, item_id, exc.message))
                continue
            if ql.created:
                report.made += 1
            else:
                report.cached += 1
            if progress and task is not None:
                progress.update(task, advance=1)
        if not page.next_token:
            return report
        req.token = page.next_token


@app.command("quicklooks")
def quicklooks(
    collection: str | None = typer.Option(
        None, "--collection", "-c", help="Only the items of this collection"
    ),
    force: bool = typer.Option(False, "--force", help="Render again even when cached"),
) -> None:
    """Pre-generate the PNG quicklooks of items that ship no thumbnail (warms the cache that
    GET /stac/collections/{c}/items/{i}/quicklook serves)."""
    s = settings()
    cache = QuicklookCache(storage_root(s.resolved_storage_url(), s.home / "storage"))
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
        report = run_or_exit(
            lambda: make_quicklooks(
                store, cache, collection=collection, force=force, progress=progress
            )
        )
    for coll, item_id, message in report.failed:
        console.print(f"[red]failed[/red] {coll}/{item_id}: {message}", soft_wrap=True)
    console.print(
        f"quicklooks: {report.made} made, {report.cached} already cached, "
        f"{report.skipped} items skipped (own thumbnail or nothing to render), "
        f"{len(report.failed)} failed; in {cache.root}"
    )
    if report.failed and report.made + report.cached == 0:
        raise typer.Exit(1)

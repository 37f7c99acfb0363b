"""``gep catalog``: putting STAC records into the catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gep.catalog.store import CatalogStore, IngestFailure, IngestReport
from gep.cli.common import console, store_from_settings
from gep.core.errors import GepError
from gep.io.stac_files import iter_stac_records

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

"""``gep upload PATH… [--collection C]``: files to personal storage on the GEP server, with a
progress bar, through the SDK (large files in resumable chunks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from gep.cli.common import JSON_OPTION, client, console, emit_json


def upload(
    paths: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="Files to upload"
    ),
    collection: str = typer.Option(
        None, "--collection", "-c", help="A collection of yours (default: your uploads)"
    ),
    chunk_size: int = typer.Option(
        None,
        "--chunk-size",
        min=1 << 16,
        help="Files larger than this (bytes) go in resumable chunks of this size "
        "(default: the SDK's, 8 MiB)",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Upload files to your storage; each becomes a private STAC item.

    GeoTIFF, GeoJSON, KML, KMZ, zipped Shapefile, GeoPackage, CSV time series, Sentinel-1
    SAFE zip. Prints one line per file: the item's collection/id and its URL (--json: the
    items). Exits 2 if any file was refused."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from gep.client import GepClientError
    from gep.client.sdk import UPLOAD_CHUNK_BYTES

    gep = client()
    failed = 0
    items: list[dict[str, Any]] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        for path in paths:
            task = progress.add_task(path.name, total=path.stat().st_size)

            def show(sent: int, total: int, task: Any = task) -> None:
                progress.update(task, completed=sent, total=total)

            try:
                item = gep.upload(
                    path, collection, progress=show, chunk_size=chunk_size or UPLOAD_CHUNK_BYTES
                )
            except GepClientError as exc:
                failed += 1
                progress.console.print(f"[red]refused:[/red] {exc}")
                continue
            items.append(item)
            if not as_json:
                self_link = next(
                    (ln["href"] for ln in item.get("links", []) if ln.get("rel") == "self"), ""
                )
                typer.echo(f"{item['collection']}/{item['id']}\t{self_link}")
    if as_json:
        emit_json({"type": "FeatureCollection", "features": items})
    if failed:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("upload")(upload)

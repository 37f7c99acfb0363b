"""``gep demo``: the sample data that ``make run`` starts with."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import typer

from gep.catalog.demo import sample_files
from gep.cli.catalog_cmds import ingest_paths
from gep.cli.common import console, settings, store_from_settings

app = typer.Typer(help="Demo data", no_args_is_help=True)


@app.command("seed")
def seed(
    sar: bool = typer.Option(
        True, "--sar/--no-sar", help="Also simulate the SAR demo pairs (about a minute, once)"
    ),
) -> None:
    """Load the sample catalogue (idempotent: running it again changes nothing).

    The optical demo (``gep-optical``: Landsat-8 scenes and a simulated landslide) is always
    added. With ``--sar`` (the default) two simulated Sentinel-1 pairs with a known truth
    (a volcano, an earthquake) and their DEMs are written to storage and catalogued, for the
    ``dinsar`` and ``coin`` services.
    """
    files = sample_files()
    if not files:
        console.print("[red]no sample files found in the package[/red]")
        raise typer.Exit(1)
    with store_from_settings() as store:
        report = ingest_paths(store, files, create_collections=True)
        store.analyze()
    for f in report.failed:
        console.print(f"[red]failed[/red] {f.position} ({f.item_id}): {f.message}")
    console.print(f"demo catalogue: {report.written} items in {len(files) - 1} collections")
    if report.failed:
        raise typer.Exit(1)
    seed_sbas()
    seed_optical()
    if sar:
        seed_sar()


def seed_sbas() -> None:
    """Catalogue the Mexico City interferogram stack and publish its SBAS velocity map (the
    inversion runs once, in a second or two; later seeds reuse it)."""
    from gep.demo.sbas import COLLECTION, build_result, collection, interferogram_items

    storage = settings().resolved_storage_url()
    if not storage.startswith("file://"):
        console.print("[yellow]the SBAS demo needs a local storage (file://); skipped[/yellow]")
        return
    folder = Path(url2pathname(urlparse(storage).path)) / "demo" / "mexico-city"
    items = interferogram_items(folder / "interferograms")
    result = build_result(folder / "sbas", items, log=lambda m: console.print(m))
    with store_from_settings() as store:
        store.create_collection(collection(), upsert=True)
        store.write_items(items, mode="upsert", atomic=True)
        store.write_items([result], mode="upsert", atomic=True, create_collections=True)
    lo, hi = result["properties"]["gep:velocity_range_mm_yr"]
    console.print(
        f"SBAS demo: {len(items)} interferograms in {COLLECTION}; velocity map "
        f"results/{result['id']} ({lo:.0f} to {hi:.0f} mm/yr)"
    )


def seed_sar() -> None:
    """Simulate (once) and catalogue the SAR demo pairs and DEMs."""
    from gep.demo.sar import build_demo, collections

    storage = settings().resolved_storage_url()
    if not storage.startswith("file://"):
        console.print("[yellow]SAR demo pairs need a local storage (file://); skipped[/yellow]")
        return
    folder = Path(url2pathname(urlparse(storage).path)) / "demo"
    items = build_demo(folder, log=lambda m: console.print(m))
    with store_from_settings() as store:
        for coll in collections():
            store.create_collection(coll, upsert=True)
        report = store.write_items(items, mode="upsert", atomic=True)
    console.print(f"SAR demo: {report.written} items (simulated pairs and DEMs) in {folder}")


def seed_optical() -> None:
    """Catalogue the optical demo (``gep-optical``): a real Landsat-8 scene, the same with a
    simulated lava flow and clouded over (``hotspots``), and three dated images of a simulated
    landslide (``offset-tracking``); a few seconds, once."""
    from gep.demo.optical import OPTICAL_COLLECTION, build_demo, collection

    storage = settings().resolved_storage_url()
    if not storage.startswith("file://"):
        console.print("[yellow]the optical demo needs a local storage (file://); skipped[/yellow]")
        return
    folder = Path(url2pathname(urlparse(storage).path)) / "demo" / "optical"
    items = build_demo(folder)
    with store_from_settings() as store:
        store.create_collection(collection(), upsert=True)
        report = store.write_items(items, mode="upsert", atomic=True)
    console.print(f"optical demo: {report.written} items in {OPTICAL_COLLECTION}")

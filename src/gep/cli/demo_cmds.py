"""``gep demo``: the sample data that ``make run`` starts with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import typer

from gep.cli.common import console, settings, store_from_settings

app = typer.Typer(
    help="Administrative: opens the database directly (run it on the server's machine). Demo data",
    no_args_is_help=True,
)


@app.command("seed")
def seed(
    sar: bool = typer.Option(
        True, "--sar/--no-sar", help="Also simulate the SAR demo pairs (about a minute, once)"
    ),
    sar_pair: list[str] = typer.Option(
        [],
        "--sar-pair",
        help="Only this simulated pair (repeatable: rome-okada-thrust, colli-albani-mogi), "
        "without the Sentinel-1 SAFE pair: a quicker seed (the Geobrowser's tests use it)",
    ),
    apps: bool = typer.Option(
        True,
        "--apps/--no-apps",
        help="Also create the demo thematic apps (volcanoes, earthquake response) and their "
        "deployed service; --no-apps leaves them for `gep apps import`",
    ),
) -> None:
    """Administrative: opens the database directly (run it on the server's machine). Load
    the sample catalogue (idempotent: running it again changes nothing).

    The optical demo (``gep-optical``: Landsat-8 scenes and a simulated landslide) is always
    added. With ``--sar`` (the default) two simulated Sentinel-1 pairs with a known truth
    (a volcano, an earthquake) and their DEMs are written to storage and catalogued, for the
    ``dinsar`` and ``coin`` services, and a simulated Sentinel-1 IW SLC pair over the 2016
    Amatrice earthquake as two SAFE zips (``sentinel-1-slc``), as ESA distributes them. With
    ``--apps`` (the default) the demo thematic apps are created (docs/apps.md).
    """
    from gep.catalog.demo import sample_files
    from gep.cli.catalog_cmds import ingest_paths
    from gep.demo.sar import PAIRS

    names = [p.name for p in PAIRS]
    for name in sar_pair:  # refused before anything is written
        if name not in names:
            console.print(f"[red]--sar-pair {name}: no such demo pair; one of {', '.join(names)}")
            raise typer.Exit(2)
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
        seed_sar(sar_pair)
    from gep.demo.production import seed_production

    with store_from_settings() as store:
        seed_production(store, log=lambda m: console.print(m))
        if apps:
            from gep.demo.apps import seed_apps

            seed_apps(store, log=lambda m: console.print(m))


@app.command("ingest")
def ingest_new() -> None:
    """Administrative: opens the database directly (run it on the server's machine). Bring
    the demo's new products: the later dates of the generated Sentinel-1 archive and
    the USGS record of the 2016 Amatrice earthquake. A running ``gep serve`` fires the demo
    subscriptions on them (``gep subscriptions list``)."""
    from gep.demo.production import ingest_new as ingest

    with store_from_settings() as store:
        counts = ingest(store)
    console.print(
        f"ingested {counts['acquisitions']} new acquisitions and {counts['events']} earthquake(s)"
    )


def seed_sbas() -> None:
    """Catalogue the Mexico City interferogram stack and publish its SBAS velocity map (the
    inversion runs once, in a second or two; later seeds reuse it)."""
    from gep.demo.sbas import COLLECTION, build_results, collection, interferogram_items
    from gep.jobs.publish import ensure_result_collection
    from gep.processes.sbas import Sbas

    folder, store_files = _demo_place("mexico-city")
    items = interferogram_items(folder / "interferograms")
    results = build_results(folder / "sbas", items, log=lambda m: console.print(m))
    result = results[0]
    store_files([*items, *results])
    with store_from_settings() as store:
        store.create_collection(collection(), upsert=True)
        store.write_items(items, mode="upsert", atomic=True)
        # the sbas service's result collection, as its first job would make it
        ensure_result_collection(store, result["collection"], Sbas, results)
        store.write_items(results, mode="upsert", atomic=True)
    lo, hi = result["properties"]["gep:velocity_range_mm_yr"]
    console.print(
        f"SBAS demo: {len(items)} interferograms in {COLLECTION}; velocity map "
        f"{result['collection']}/{result['id']} ({lo:.0f} to {hi:.0f} mm/yr) and "
        f"{len(results) - 1} dated displacements"
    )


def seed_sar(only: list[str] | None = None) -> None:
    """Simulate (once) and catalogue the SAR demo pairs and DEMs (``only``: those pairs, and
    not the Sentinel-1 SAFE pair)."""
    from gep.demo.sar import PAIRS, build_demo, collections
    from gep.demo.sentinel1 import build_tops_demo

    pairs = tuple(p for p in PAIRS if not only or p.name in only)
    folder, store_files = _demo_place("")
    items = build_demo(folder, pairs=pairs, log=lambda m: console.print(m))
    if not only:  # a Sentinel-1 IW pair as ESA distributes it (SAFE zips), over Amatrice 2016
        items += build_tops_demo(folder, log=lambda m: console.print(m))
    store_files(items)
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

    folder, store_files = _demo_place("optical")
    items = build_demo(folder)
    store_files(items)
    with store_from_settings() as store:
        store.create_collection(collection(), upsert=True)
        report = store.write_items(items, mode="upsert", atomic=True)
    console.print(f"optical demo: {report.written} items in {OPTICAL_COLLECTION}")


def _demo_place(sub: str) -> tuple[Path, Callable[[list[dict[str, Any]]], None]]:
    """Where a demo's files are built, and how they reach storage: in place on a local
    storage (``storage/demo/<sub>``); on an object store, built in ``GEP_HOME/demo-build``
    and then stored under ``demo/<sub>`` (files already there with the same size are kept),
    the items' hrefs pointed at the stored copies before they are catalogued."""
    from gep.gateway.storage import Storage

    s = settings()
    url = s.resolved_storage_url()
    prefix = "/".join(p for p in ("demo", sub) if p)
    if url.startswith("file:"):
        return Path(url2pathname(urlparse(url).path)) / prefix, lambda items: None
    folder = (s.home / "demo-build" / prefix).resolve()
    storage = Storage.from_url(url, s.s3_endpoint_url)

    def store_files(items: list[dict[str, Any]]) -> None:
        storage.ensure()
        sent = storage.store_folder(folder, prefix, items, keep_same_size=True)
        console.print(f"{prefix}: {sent} bytes stored in {storage.url}")

    return folder, store_files

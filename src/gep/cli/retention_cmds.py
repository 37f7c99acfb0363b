"""``gep retention``: the collections' retention policies and the sweep that applies them.

The operator's, on the database and the storage the settings name (like ``gep mirrors``): it
needs no running server, and ``gep serve`` runs the same sweep every ``GEP_RETENTION_POLL_S``.
"""

from __future__ import annotations

import functools

import typer
from rich.table import Table

from gep.cli.common import console, run_or_exit, settings, store_from_settings

app = typer.Typer(
    help="Retention: expire job results and items older than their collection's policy "
    '("gep:retention": {"days": N}); pinned ones are kept',
    no_args_is_help=True,
)


@app.command("run")
def run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would expire"),
) -> None:
    """Expire now what the policies no longer keep: a job's items, then its files, then the job
    is dismissed with the reason in its log."""
    from gep.gateway.storage import Storage
    from gep.jobs.retention import Retention
    from gep.jobs.store import JobStore

    s = settings()
    with store_from_settings() as store:
        storage = Storage.from_url(s.resolved_storage_url(), s.s3_endpoint_url)
        report = run_or_exit(
            lambda: Retention(store, JobStore(store.engine), storage).sweep(dry_run=dry_run)
        )
    if not report.policies:
        console.print("no collection has a retention policy: everything is kept")
    for cid, policy in sorted(report.policies.items()):
        console.print(f"[bold]{cid}[/bold]: kept {policy.days} days")
    if report.expired:
        table = Table("collection", "job", "items", "files", "published")
        for e in report.expired:
            row = e.as_dict()
            items = ", ".join(e.items) or "-"
            table.add_row(e.collection, e.job or "-", items, str(e.files), row["published"])
        console.print(table)
    verb = "would expire" if dry_run else "expired"
    console.print(f"{len(report.expired)} {verb}; {report.kept_pinned} old ones kept (pinned)")


@app.command("policies")
def policies() -> None:
    """Every collection's retention policy (the others keep their items forever)."""
    from gep.catalog.retention import retention_of

    with store_from_settings() as store:
        collections, _ = store.list_collections(limit=1 << 30)
    shown = 0
    for coll in collections:
        policy = run_or_exit(functools.partial(retention_of, coll))
        if policy is not None:
            console.print(f"{coll['id']}: {policy.days} days")
            shown += 1
    if not shown:
        console.print("no collection has a retention policy: everything is kept")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="retention")

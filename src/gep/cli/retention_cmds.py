"""``gep retention``: the collections' retention policies and the sweep that applies them, on
the GEP server the CLI talks to (``--url``/``GEP_URL``). The sweep is an administrator's; ``gep
serve`` also runs it every ``GEP_RETENTION_POLL_S``. A policy is a member of its collection
(``"gep:retention": {"days": N}``), set by whoever may update the collection."""

from __future__ import annotations

import typer

from gep.cli.common import JSON_OPTION, client, console, emit, emit_json

app = typer.Typer(
    help="Retention: expire job results and items older than their collection's policy "
    '("gep:retention": {"days": N}); pinned ones are kept',
    no_args_is_help=True,
)

_NONE = "no collection has a retention policy: everything is kept"


@app.command("run")
def run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would expire"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Expire now what the policies no longer keep (administrators): a job's items, then its
    files, then the job is dismissed with the reason in its log."""
    report = client().run_retention(dry_run=dry_run)
    if as_json:
        emit_json(report)
        return
    policies = report.get("policies") or {}
    if not policies:
        console.print(_NONE)
    for cid, policy in sorted(policies.items()):
        console.print(f"[bold]{cid}[/bold]: kept {policy['days']} days")
    expired = report.get("expired") or []
    rows = [
        [
            e["collection"],
            e.get("jobID") or "-",
            ", ".join(e["items"]) or "-",
            e["files"],
            e["published"],
        ]
        for e in expired
    ]
    if rows:
        emit(
            report, False, ("collection", "job", "items", "files", "published"), rows, whole=["job"]
        )
    verb = "would expire" if dry_run else "expired"
    console.print(f"{len(expired)} {verb}; {report.get('kept_pinned', 0)} old ones kept (pinned)")


@app.command("policies")
def policies(as_json: bool = JSON_OPTION) -> None:
    """Every collection's retention policy you may see (the others keep their items forever)."""
    found = client().retention_policies()
    rows = [[cid, p.get("days")] for cid, p in sorted(found.items())]
    emit(found, as_json, ("collection", "days"), rows, whole=["collection"], empty=_NONE)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="retention")

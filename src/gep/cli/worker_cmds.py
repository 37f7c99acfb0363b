"""``gep worker``: a Dask worker that runs GEP jobs, joining a scheduler."""

from __future__ import annotations

import asyncio

import typer


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        scheduler: str = typer.Option(
            ..., "--scheduler", help="Scheduler address, e.g. tcp://10.0.0.5:8786"
        ),
        nthreads: int = typer.Option(2, help="Jobs run at once on this worker"),
        host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
        port: int = typer.Option(0, help="Port (0: any free one)"),
        name: str = typer.Option("", help="Worker name shown by the scheduler"),
    ) -> None:
        """Administrative: runs jobs on the server's database and storage (on a machine of the
        cluster). Join a Dask cluster and run GEP jobs. Everything a job needs comes from the server
        with it (the database URL, the storage URL and S3 endpoint); this host needs only
        its own credentials (AWS_* for S3 storage) and GEP_HOME, where jobs are worked on
        before their results are stored (GEP_HOME/work; it may start empty)."""
        from distributed import Worker

        from gep.cli.common import settings
        from gep.jobs.worker import set_work_root

        set_work_root((settings().home / "work").resolve())

        async def run() -> None:
            async with Worker(
                scheduler, nthreads=nthreads, host=host, port=port, name=name or None
            ) as w:
                await w.finished()

        asyncio.run(run())

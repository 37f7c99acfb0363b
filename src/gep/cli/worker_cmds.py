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
        """Join a Dask cluster and run GEP jobs (the job store is the database every worker
        reaches through GEP_DATABASE_URL, given by the server with each job)."""
        from distributed import Worker

        async def run() -> None:
            async with Worker(
                scheduler, nthreads=nthreads, host=host, port=port, name=name or None
            ) as w:
                await w.finished()

        asyncio.run(run())

"""``gep serve``: the HTTP API."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
        port: int = typer.Option(8000, help="Port"),
        workers: int = typer.Option(1, help="Worker processes"),
        log_level: str = typer.Option("info", help="uvicorn log level"),
    ) -> None:
        """Administrative: opens the database directly (run it on the server's machine). Serve
        the API (STAC, OpenSearch, …) on http://HOST:PORT."""
        import uvicorn

        from gep.api.login_limit import parse_proxies
        from gep.cli.common import settings, store_from_settings

        with store_from_settings():
            pass  # migrate once, before workers start racing to do it
        s = settings()
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 (or $FORWARDED_ALLOW_IPS) and
        # make it the client's address; only the proxies GEP_TRUSTED_PROXIES lists may do that
        # (the login limits key on that address: a client must not choose it)
        proxies = [str(n) for n in parse_proxies(s.trusted_proxies)]
        if workers > 1:
            uvicorn.run(
                "gep.api.asgi:app",
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                proxy_headers=bool(proxies),
                forwarded_allow_ips=proxies,
            )
        else:
            from gep.api.app import create_app

            uvicorn.run(
                create_app(s),
                host=host,
                port=port,
                log_level=log_level,
                proxy_headers=bool(proxies),
                forwarded_allow_ips=proxies,
            )

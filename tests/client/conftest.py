"""One real HTTP server for the SDK's tests: the app of ``tests.support.app`` served by uvicorn
on a free port in a thread, so that the SDK sends through its own httpx transport (timeouts and
connection failures mapped as they are for users) and GDAL (odc-stac) reads assets over HTTP.

The server records the requests it receives (method, path, Range header), so that a test can
check what reached it; its catalogue holds the real ASF stack of track 13 (176 Sentinel-1
frames) for the pair, stack and network searches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gep.api.app import create_app
from gep.catalog.backends import open_store
from gep.client import GepClient
from gep.io.crosswalk.asf import asf_stack_reference, asf_to_stac_item
from gep.io.crosswalk.asf_records import load_asf_records
from tests.support.app import ADMIN_TOKEN, app_settings
from tests.support.serving import free_port

STACK = (
    Path(__file__).parents[1]
    / "data/asf/S1A_IW_SLC__1SSV_20160528T141908_20160528T141938_011460_011746_335C_stack.yml"
)


@dataclass
class Served:
    """The running server: its URL, what it received, its home, and the stack's items."""

    base: str
    home: Path
    items: dict[str, dict[str, Any]]
    reference: str
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    def client(self, token: str | None = ADMIN_TOKEN, **kwargs: Any) -> GepClient:
        return GepClient(self.base, token=token or "", **kwargs)

    def requests_to(self, path_part: str) -> list[tuple[str, str, str | None]]:
        return [r for r in self.seen if path_part in r[1]]


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = Path(tmp_path_factory.mktemp("sdk"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = app_settings(home, base_url=base)
    records = load_asf_records(STACK)
    ref_id = asf_stack_reference(records)
    assert ref_id is not None
    items = [asf_to_stac_item(r, stack_reference=ref_id) for r in records]
    store = open_store(settings.resolved_database_url())
    store.upgrade()
    assert store.write_items(items, mode="upsert", create_collections=True).written == len(items)
    store.close()

    app = create_app(settings)
    state = Served(base, home, {i["id"]: i for i in items}, ref_id)

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            rng = headers.get(b"range")
            state.seen.append((scope["method"], scope["path"], rng.decode() if rng else None))
        await app(scope, receive, send)

    server = uvicorn.Server(
        uvicorn.Config(recording, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(60)


@pytest.fixture(scope="session")
def gep(served: Served) -> GepClient:
    """The administrator's SDK client on the server."""
    return served.client()

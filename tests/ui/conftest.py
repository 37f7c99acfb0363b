"""The Geobrowser in a real browser: Debian's ``chromium`` driven by Playwright against a real
``gep serve`` holding the demo data (``gep demo seed --sar-pair rome-okada-thrust``: the
Mexico City SBAS result, the optical demo, the demo subscriptions and the simulated Rome pair).

Screenshots go to ``tests/ui/screenshots/`` (git-ignored); the key ones are copied into
``docs/img/`` by hand when the app changes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gep import web
from tests.support.demo_server import PASSWORD, Server

SCREENSHOTS = Path(__file__).parent / "screenshots"
# what the page shows may take a while on 2 cores shared with the other tests (make test runs
# them side by side): the assertions wait up to 20 s, not Playwright's 5
expect.set_options(timeout=20_000)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: WebGL without a GPU: ANGLE on SwiftShader (MapLibre draws nothing without WebGL)
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
__all__ = ["PASSWORD", "Server"]


@pytest.fixture(scope="session")
def server(demo_server: Server) -> Server:
    """The seeded demo server of tests/conftest.py (the notebooks' tests share it)."""
    assert web.built(), "the Geobrowser is not built: `make ui` (make test runs it first)"
    return demo_server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: make test installs it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookie, no storage) at 1280×800; page errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
    # the app works offline: everything it loads itself stays on this machine (the API, its own
    # files, blob: and data: URLs its workers use); only images that catalogue records name
    # (remote products' thumbnails) may come from elsewhere
    outside: list[str] = []
    pg.on(
        "request",
        lambda r: None if _local(r.url) or r.resource_type == "image" else outside.append(r.url),
    )
    yield pg
    context.close()
    assert errors == [], f"the page threw: {errors}"
    assert outside == [], f"the page reached out of this machine: {outside}"


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("blob", "data") or parts.hostname in ("127.0.0.1", "localhost")


def api(server: Server) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=60
    )


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)


def sign_in(page: Page, name: str = "alice", password: str = PASSWORD) -> None:
    page.get_by_role("tab", name="Account").click()
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(f"#who:has-text('Signed in as {name}')")

"""Browser fixtures: Debian's Chromium driven by Playwright's sync API, against a real daphne.

Each test gets its own Playwright and browser (a second or so): the sync API keeps an
asyncio loop marked as running in this thread while it is alive, and a browser that outlived
its test would make every later ORM call in the session look like async code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from .helpers import off_loop, server_password_set

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

#: Longest wait for anything on the page that is not itself under test (login, first load).
PAGE_TIMEOUT_MS = 15_000


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    from tests.support.services import require_chromium

    executable = require_chromium()
    # Playwright's sync API runs an event loop in this thread; Django would then refuse the
    # test's own ORM calls as "async". They are plain sync calls between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class ShopPage:
    """One staff member's browser tab on the shop page, logged in."""

    page: object
    errors: list[str] = field(default_factory=list)

    def row(self, or_number: str):
        return self.page.locator(f'#transactions tbody tr[data-or="{or_number}"]')

    def connection_state(self) -> str:
        return self.page.get_attribute("#connection", "data-state")

    def wait_for_state(self, *states: str, timeout_ms: int = PAGE_TIMEOUT_MS) -> float:
        """Wait until the indicator shows one of ``states``; seconds waited."""
        started = time.monotonic()
        self.page.wait_for_function(
            "states => states.includes(document.getElementById('connection').dataset.state)",
            arg=list(states),
            timeout=timeout_ms,
        )
        return time.monotonic() - started


@pytest.fixture
def open_shop(browser, daphne_server):
    """``open_shop(user)``: a new browser context, logged in as ``user``, live and loaded."""
    contexts = []

    def open_(user, *, password: str | None = None, viewport=(1280, 800)) -> ShopPage:
        password = password or f"{user.username}-pass-123"
        off_loop(server_password_set, user, password)
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        shop = ShopPage(page=page)
        page.on("pageerror", lambda exc: shop.errors.append(str(exc)))
        page.goto(f"{daphne_server.base_url}/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_function(
            "() => !document.getElementById('shop-view').hidden"
            " || !document.getElementById('login-error').hidden"
        )
        if page.locator("#login-error").is_visible():
            raise AssertionError(f"login failed: {page.inner_text('#login-error')}")
        shop.wait_for_state("connected")
        # The list request that follows the first subscription (started in the same task
        # that showed "connected") has settled.
        page.wait_for_function("() => !document.querySelector('#transactions[aria-busy]')")
        return shop

    yield open_
    for context in contexts:
        context.close()

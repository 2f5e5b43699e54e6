"""Browser fixtures: Debian's Chromium driven by Playwright's sync API, against a real daphne.

Each test gets its own Playwright and browser (a second or so): the sync API keeps an
asyncio loop marked as running in this thread while it is alive, and a browser that outlived
its test would make every later ORM call in the session look like async code.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pytest
from django.db import connections

from .helpers import off_loop, server_password_set, session_script

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
            # ORM reads in the test body ran while Playwright's loop counted as running, so
            # Django gave them their own connection (its connections are context-local):
            # close it here, or the test database cannot be dropped at the end of the run.
            connections.close_all()


@dataclass
class ShopPage:
    """One staff member's browser tab on the shop page, logged in."""

    page: object
    errors: list[str] = field(default_factory=list)
    #: Every websocket frame the page received (JSON text), for checks the screen cannot
    #: show: the page ignores events of rows it does not display.
    frames: list[str] = field(default_factory=list)

    def frames_about(self, transaction_id: int) -> list[dict]:
        decoded = (json.loads(text) for text in self.frames)
        return [f for f in decoded if f.get("data", {}).get("transactionId") == transaction_id]

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
    """``open_shop(user)``: a new browser context, logged in as ``user``, live and loaded.

    ``via_form=True`` logs in through the page's form (username and password); otherwise the
    tab starts with a token pair in sessionStorage, as after an earlier login in the same
    tab (a password check costs a second of PBKDF2 on the server, and most tests are not
    about logging in).
    """
    contexts = []

    def open_(
        user,
        *,
        via_form: bool = False,
        password: str | None = None,
        viewport=(1280, 800),
        timezone_id: str | None = None,
    ) -> ShopPage:
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, timezone_id=timezone_id
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        contexts.append(context)
        if not via_form:
            context.add_init_script(script=session_script(user))
        page = context.new_page()
        shop = ShopPage(page=page)
        page.on("pageerror", lambda exc: shop.errors.append(str(exc)))
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: shop.frames.append(f)))
        if via_form:
            password = password or f"{user.username}-pass-123"
            off_loop(server_password_set, user, password)
            page.goto(f"{daphne_server.base_url}/")
            page.get_by_label("Username").fill(user.username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Log in").click()
        else:
            page.goto(f"{daphne_server.base_url}/")
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

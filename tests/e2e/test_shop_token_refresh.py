"""A stale access token (a tab that slept past its expiry) is refreshed without the user
noticing: REST answers 401 once, the page refreshes and retries; the websocket gets the new
token, never the refresh token."""

from __future__ import annotations

import json

import pytest

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_stale_access_token_is_refreshed_and_the_page_stays_live(
    open_shop, sales, make_transaction
):
    txn = off_loop(make_transaction, "750.00", created_by=sales)
    agent = open_shop(sales)
    page = agent.page
    session = json.loads(page.evaluate("sessionStorage.getItem('escashop.session')"))
    assert set(session) >= {"access", "refresh"}

    # The server refuses this access token; the page believes it is still valid for hours.
    stale = {**session, "access": session["access"][:-6] + "AAAAAA", "expiresAt": 4e12}
    page.evaluate("s => sessionStorage.setItem('escashop.session', s)", json.dumps(stale))
    refreshes, auth_frames = [], []
    page.on(
        "request",
        lambda r: (
            refreshes.append(r.post_data_json)
            if r.url.endswith("/api/auth/token/refresh/")
            else None
        ),
    )
    page.on(
        "websocket",
        lambda ws: ws.on("framesent", lambda payload: auth_frames.append(payload)),
    )
    page.reload()

    page.locator("#shop-view").wait_for(state="visible")
    agent.wait_for_state("connected")
    agent.row(txn.or_number).wait_for()
    assert refreshes == [{"refresh": session["refresh"]}]
    fresh = json.loads(page.evaluate("sessionStorage.getItem('escashop.session')"))
    assert fresh["access"] not in (session["access"], stale["access"])
    assert fresh["refresh"] == session["refresh"]
    sent = [json.loads(f) for f in auth_frames if '"authenticate"' in f]
    assert sent and all(f["token"] == fresh["access"] for f in sent)
    assert agent.errors == []


def test_logging_out_ends_the_session_on_the_server_too(open_shop, sales, daphne_server):
    """A refresh token copied from the tab before "Log out" is refused afterwards."""
    agent = open_shop(sales)
    page = agent.page
    session = json.loads(page.evaluate("sessionStorage.getItem('escashop.session')"))
    with page.expect_response(lambda r: r.url.endswith("/api/auth/logout/")) as logged_out:
        page.get_by_role("button", name="Log out").click()
    assert logged_out.value.status == 200
    page.locator("#login-view").wait_for(state="visible")
    assert page.evaluate("sessionStorage.getItem('escashop.session')") is None
    refused = page.request.post(
        f"{daphne_server.base_url}/api/auth/token/refresh/", data={"refresh": session["refresh"]}
    )
    assert refused.status == 401
    assert refused.json()["code"] == "token_not_valid"
    assert agent.errors == []


def test_an_empty_login_form_says_what_is_missing(browser, daphne_server):
    """It said "Request failed (400).", the server's field errors unread."""
    context = browser.new_context()
    try:
        page = context.new_page()
        console_errors = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{daphne_server.base_url}/")
        page.get_by_label("Username").fill("someone")
        page.get_by_label("Password").press("Enter")
        error = page.locator("#login-error")
        error.wait_for()
        assert error.inner_text() == "Enter your username and password."
        # The only console error is the refused login itself (no missing favicon).
        assert all("400" in text for text in console_errors), console_errors
    finally:
        context.close()

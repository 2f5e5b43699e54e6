"""Login throttling: failed attempts per username, all attempts per client address; 429 with
Retry-After; counts shared by every daphne process through the cache (Redis)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.core.cache.backends import base as cache_base
from django.core.cache.backends import locmem
from django.test import Client
from rest_framework.test import APIClient

from escashop.auth_api import LoginAddressThrottle, LoginFailureThrottle
from tests.api.conftest import CONFIGURED_CACHES

pytestmark = pytest.mark.django_db


def login(username: str, password: str, address: str = "10.0.0.1", **headers):
    return APIClient(REMOTE_ADDR=address, **headers).post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def fail(username: str, times: int, address: str = "10.0.0.1") -> None:
    for _ in range(times):
        assert login(username, "wrong", address).status_code == 401


def assert_throttled(resp) -> int:
    assert resp.status_code == 429
    assert "throttled" in resp.json()["detail"]
    wait = int(resp.headers["Retry-After"])
    assert 0 < wait <= 60
    return wait


def test_ten_failures_lock_the_username_even_for_the_right_password(cashier, cashier2):
    fail("carla", 10)
    assert_throttled(login("carla", "carla-pass-123"))
    # From another address too: the lock is on the account, not the client.
    assert_throttled(login("carla", "carla-pass-123", address="10.9.9.9"))
    # Another account is untouched.
    assert login("carlo", "carlo-pass-123").status_code == 200


def test_spaces_around_the_username_count_for_the_same_account(cashier):
    # The login trims the username, so padded variants reach carla's account: they must
    # count as carla's failures, not start counts of their own.
    for i in range(10):
        assert login(" " * (i % 3) + "carla" + "\t" * (i % 2), "wrong").status_code == 401
    assert_throttled(login("carla", "carla-pass-123"))
    assert_throttled(login("  carla ", "carla-pass-123"))


def test_a_username_sent_as_a_json_number_counts_for_that_account(db):
    # The login reads 1001 as "1001", so those failures are the account's, not uncounted.
    User.objects.create_user(username="1001", password="right-pass-123")
    for _ in range(10):
        resp = APIClient(REMOTE_ADDR="10.0.0.1").post(
            "/api/auth/token/", {"username": 1001, "password": "wrong"}, format="json"
        )
        assert resp.status_code == 401
    assert_throttled(login("1001", "right-pass-123"))


def admin_login(username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        "/admin/login/", {"username": username, "password": password, "next": "/admin/"}
    )


def test_the_admin_login_is_throttled_and_shares_the_api_logins_counts(admin_user):
    admin_user.is_staff = True
    admin_user.save()
    for _ in range(5):
        resp = admin_login("ada", "wrong")
        assert resp.status_code == 200 and resp.context["form"].errors  # the form again
    fail("ada", 5)  # the same account's failures over the API count with them
    refused = admin_login("ada", "ada-pass-123")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "_auth_user_id" not in refused.wsgi_request.session
    assert_throttled(login("ada", "ada-pass-123"))


def test_the_admin_logins_other_spellings_of_a_username_share_its_count(admin_user):
    # Django's login form reads usernames in NFKC: full-width letters sign in as "ada".
    admin_user.is_staff = True
    admin_user.save()
    fail("ada", 10)
    for spelling in ("\uff41da", "\uff41\uff44\uff41", " ada "):
        assert admin_login(spelling, "wrong").status_code == 429, spelling
        assert admin_login(spelling, "ada-pass-123").status_code == 429, spelling


def test_an_admin_login_success_clears_the_failures(admin_user):
    admin_user.is_staff = True
    admin_user.save()
    for _ in range(9):
        assert admin_login("ada", "wrong").status_code == 200
    assert admin_login("ada", "ada-pass-123").status_code == 302
    for _ in range(9):
        assert admin_login("ada", "wrong").status_code == 200
    assert admin_login("ada", "ada-pass-123").status_code == 302


def test_the_admin_login_counts_toward_the_per_address_limit(settings, admin_user):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login_username": "10/min", "login_address": "3/min"},
    }
    for who in ("x", "y", "z"):
        assert admin_login(who, "wrong", address="10.0.0.9").status_code == 200
    assert admin_login("ada", "ada-pass-123", address="10.0.0.9").status_code == 429
    assert_throttled(login("ada", "ada-pass-123", address="10.0.0.9"))
    # Showing the login page is not an attempt.
    assert Client(REMOTE_ADDR="10.0.0.10").get("/admin/login/").status_code == 200


def test_unknown_usernames_are_throttled_like_real_ones(db):
    fail("no-such-user", 10)
    assert_throttled(login("no-such-user", "x"))


def test_successes_do_not_count_and_clear_the_failures(cashier):
    for _ in range(15):
        assert login("carla", "carla-pass-123").status_code == 200
    fail("carla", 9)
    assert login("carla", "carla-pass-123").status_code == 200
    fail("carla", 9)
    assert login("carla", "carla-pass-123").status_code == 200


def test_the_lock_lifts_after_a_minute(cashier, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(LoginFailureThrottle, "timer", lambda self: now[0])
    # The slots expire in the cache: its clock (setting and checking expiry) moves with the
    # throttle's.
    clock = SimpleNamespace(time=lambda: now[0])
    monkeypatch.setattr(cache_base, "time", clock)
    monkeypatch.setattr(locmem, "time", clock)
    fail("carla", 10)
    wait = assert_throttled(login("carla", "carla-pass-123"))
    assert wait == 60
    now[0] += 30
    assert assert_throttled(login("carla", "carla-pass-123")) == 30
    now[0] += 31
    assert login("carla", "carla-pass-123").status_code == 200


def side_by_side(monkeypatch, attempts: list[tuple[str, str]]) -> list[int]:
    """The status codes of ``attempts`` (username, address) sent at once, each slow enough
    in its password check that all are in flight before any is answered."""

    def slow_wrong_password(**credentials):
        time.sleep(0.3)  # a slow hasher
        return None

    monkeypatch.setattr("rest_framework_simplejwt.serializers.authenticate", slow_wrong_password)
    codes: list[int] = []
    start = threading.Barrier(len(attempts))

    def attempt(username: str, address: str) -> None:
        start.wait(timeout=10)
        codes.append(login(username, "a-guess", address=address).status_code)

    threads = [threading.Thread(target=attempt, args=a) for a in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(codes)


def test_guesses_sent_side_by_side_cannot_overshoot_the_limit(cashier, monkeypatch):
    """Each attempt takes its place in the count before the password is checked: 20 wrong
    passwords sent at once get 10 answers of 401 and 10 of 429, not 20 guesses (the count
    was read before and written after the check)."""
    attempts = [("carla", f"10.1.0.{i}") for i in range(20)]
    assert side_by_side(monkeypatch, attempts) == [401] * 10 + [429] * 10
    assert_throttled(login("carla", "carla-pass-123"))


def test_one_address_cannot_overshoot_its_limit_side_by_side(settings, monkeypatch, db):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login_username": "10/min", "login_address": "5/min"},
    }
    attempts = [(f"user-{i}", "10.2.0.1") for i in range(12)]
    assert side_by_side(monkeypatch, attempts) == [401] * 5 + [429] * 7


def test_a_malformed_login_does_not_count_as_a_failure(cashier):
    for _ in range(15):
        resp = APIClient(REMOTE_ADDR="10.0.0.1").post(
            "/api/auth/token/", {"username": "carla"}, format="json"
        )
        assert resp.status_code == 400  # no password: never checked
    fail("carla", 9)
    assert login("carla", "carla-pass-123").status_code == 200


def test_per_address_limit_counts_every_attempt(settings, cashier, cashier2):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login_username": "10/min", "login_address": "5/min"},
    }
    for i in range(5):
        who = ("carla", "carlo")[i % 2]
        assert login(who, f"{who}-pass-123", address="10.0.0.7").status_code == 200
    assert_throttled(login("carla", "carla-pass-123", address="10.0.0.7"))
    # A forged X-Forwarded-For does not make a new client (no proxy is configured)...
    forged = login("carla", "carla-pass-123", address="10.0.0.7", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert_throttled(forged)
    # ...while another address is a new client.
    assert login("carla", "carla-pass-123", address="10.0.0.8").status_code == 200


def test_behind_a_proxy_the_forwarded_address_is_the_client(settings, cashier):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "NUM_PROXIES": 1,
        "DEFAULT_THROTTLE_RATES": {"login_username": "10/min", "login_address": "2/min"},
    }
    proxy = "10.0.0.1"
    for _ in range(2):
        resp = login("carla", "carla-pass-123", proxy, HTTP_X_FORWARDED_FOR="203.0.113.5")
        assert resp.status_code == 200
    assert_throttled(login("carla", "carla-pass-123", proxy, HTTP_X_FORWARDED_FOR="203.0.113.5"))
    assert (
        login("carla", "carla-pass-123", proxy, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code
        == 200
    )


def test_throttle_classes_read_rates_from_settings(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login_username": "3/hour", "login_address": "7/day"},
    }
    assert (LoginFailureThrottle().num_requests, LoginFailureThrottle().duration) == (3, 3600)
    assert (LoginAddressThrottle().num_requests, LoginAddressThrottle().duration) == (7, 86400)


def _http_login(base_url: str, username: str, password: str, reasons: list | None = None) -> int:
    request = urllib.request.Request(
        f"{base_url}/api/auth/token/",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        if reasons is not None:
            reasons.append(exc.reason)
        return exc.code


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_failures_counted_by_one_process_lock_the_account_in_another(daphne_server, settings):
    """Failures made against the daphne subprocess lock the account for this test process:
    both count in the same Redis cache."""
    settings.CACHES = CONFIGURED_CACHES
    assert "Redis" in settings.CACHES["default"]["BACKEND"]
    username = f"throttle-{uuid.uuid4().hex[:12]}"  # fresh counts, whatever Redis holds
    User.objects.create_user(username, password="right-pass-123")
    for _ in range(10):
        assert _http_login(daphne_server.base_url, username, "wrong") == 401
    assert_throttled(login(username, "right-pass-123"))
    # And the server, which counted them, refuses the right password too.
    reasons = []
    assert _http_login(daphne_server.base_url, username, "right-pass-123", reasons) == 429
    assert reasons == ["Too Many Requests"]  # Twisted had no phrase for 429: "Unknown Status"


def test_with_the_shared_cache_out_of_reach_logins_work_and_are_still_limited(
    settings, cashier, cashier2, caplog, monkeypatch
):
    """Redis speeds delivery up and shares these counts; its outage must not turn every
    login into a 500 (a screen whose token expires then could not log back in). Each
    process counts on its own meanwhile, so the limit still holds."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1: refused
            "KEY_PREFIX": f"unreachable-{uuid.uuid4().hex}",
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }
    counts = LoginFailureThrottle.cache  # reset by the _isolated_cache fixture
    assert login("carlo", "carlo-pass-123").status_code == 200
    # After the first failure the shared cache is left alone for a while: a Redis that hangs
    # costs a login one timeout, not one per cache call.
    tried = []
    real_get_many = type(counts)._call

    def counted(self, method, *args):
        tried.append(time.monotonic() - self._failed_at < self.RETRY_AFTER)
        return real_get_many(self, method, *args)

    monkeypatch.setattr(type(counts), "_call", counted)
    assert login("carlo", "carlo-pass-123").status_code == 200
    assert tried and all(tried)  # every call of that login went straight to local counts
    monkeypatch.undo()
    fail("carla", 10)
    assert_throttled(login("carla", "carla-pass-123"))
    assert "login throttling: the shared cache is out of reach" in caplog.text
    admin = Client(REMOTE_ADDR="10.0.0.1")
    assert admin.post("/admin/login/", {"username": "carlo", "password": "x"}).status_code == 200

"""Settings come from the environment and fail loudly; HTTPS hardening passes check --deploy."""

from __future__ import annotations

import socket
import subprocess

from tests.support.fresh_python import manage

DEPLOY_KEY = "k3Jr9-deploy-test-key-that-is-long-and-random-enough-0123456789abcdefXYZ"


def test_secret_key_is_required_when_debug_is_off():
    result = manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_debug_runs_with_nothing_else_set():
    result = manage("check", DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_bad_boolean_fails_loudly():
    result = manage("check", DJANGO_DEBUG="perhaps")
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr


def test_blank_variables_mean_their_defaults():
    """DATABASE_URL= and friends, as a compose file or a shell leaves them, are as if unset."""
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], "
        "s.CHANNEL_LAYERS['default']['BACKEND'], s.ALLOWED_HOSTS)"
    )
    blank = dict.fromkeys(
        [
            "DATABASE_URL",
            "REDIS_URL",
            "DJANGO_HTTPS",
            "DJANGO_ALLOWED_HOSTS",
            "DJANGO_CONN_MAX_AGE",
        ],
        "",
    )
    result = manage("shell", "-c", code, DJANGO_DEBUG=" ", DJANGO_SECRET_KEY=DEPLOY_KEY, **blank)
    assert result.returncode == 0, result.stderr
    # The last line: Django's shell may first say what it imported.
    assert result.stdout.splitlines()[-1].split() == [
        "False",
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "['localhost',",
        "'127.0.0.1',",
        "'[::1]']",
    ]


def test_blank_secret_key_is_still_refused_when_debug_is_off():
    result = manage("check", DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_check_deploy_is_clean_with_https_on():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=DEPLOY_KEY,
        DJANGO_HTTPS="1",
        DJANGO_ALLOWED_HOSTS="shop.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_unknown_channel_layer_flavour_fails_loudly():
    result = manage("check", DJANGO_DEBUG="1", ESCASHOP_CHANNEL_LAYER="fastest")
    assert result.returncode != 0
    assert "ESCASHOP_CHANNEL_LAYER" in result.stderr


def test_host_lists_ignore_spaces_after_commas():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.ALLOWED_HOSTS, s.CSRF_TRUSTED_ORIGINS)",
        DJANGO_DEBUG="1",
        DJANGO_ALLOWED_HOSTS="a.example.com, b.example.com ,",
        DJANGO_CSRF_TRUSTED_ORIGINS=" https://a.example.com",
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip().splitlines()[-1]  # after the shell's import notice
    assert printed == "['a.example.com', 'b.example.com'] ['https://a.example.com']"


def test_retention_days_must_be_a_sensible_number():
    for days in ("0", "-1", "1000000"):
        result = manage("check", DJANGO_DEBUG="1", ESCASHOP_EVENT_RETENTION_DAYS=days)
        assert result.returncode != 0
        assert "ESCASHOP_EVENT_RETENTION_DAYS" in result.stderr


def _printed(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]  # after the shell's import notice


def test_the_defaults_are_the_specs_numbers():
    """SPEC sections 4 to 6: login limits of 10 failures a minute per username and 100
    attempts a minute per address; authenticate within 10 s; more than 100 frames in 10 s
    closes; the log retained 7 days."""
    code = (
        "from django.conf import settings as s; from realtime import protocol as p; "
        "print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'], s.ESCASHOP_EVENT_RETENTION_DAYS, "
        "p.AUTH_TIMEOUT_SECONDS, p.RATE_LIMIT_FRAMES, p.RATE_LIMIT_SECONDS)"
    )
    printed = _printed(manage("shell", "-c", code, DJANGO_DEBUG="1"))
    assert printed == "{'login_username': '10/min', 'login_address': '100/min'} 7 10.0 100 10.0"


def test_https_redirects_unless_the_proxy_says_https():
    """SPEC section 7: DJANGO_HTTPS=1 redirects to HTTPS, honouring X-Forwarded-Proto from
    the TLS proxy (without it, every request behind the proxy would redirect for ever)."""
    code = (
        "from django.test import Client; c = Client(); "
        "plain = c.get('/api/auth/me/'); "
        "proxied = c.get('/api/auth/me/', headers={'X-Forwarded-Proto': 'https'}); "
        "print(plain.status_code, plain.headers.get('Location'), proxied.status_code)"
    )
    result = manage(
        "shell",
        "-c",
        code,
        DJANGO_SECRET_KEY=DEPLOY_KEY,
        DJANGO_HTTPS="1",
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    assert _printed(result) == "301 https://testserver/api/auth/me/ 401"


def test_numbers_out_of_range_fail_loudly_naming_the_variable():
    """Each of these passed `check` and broke later: tokens born expired, a 500 for any
    client sending X-Forwarded-For, a negative HSTS max-age, a pool psycopg refuses."""
    cases = [
        {"ESCASHOP_ACCESS_TOKEN_MINUTES": "0"},
        {"ESCASHOP_REFRESH_TOKEN_HOURS": "-1"},
        {"ESCASHOP_NUM_PROXIES": "-1"},
        {"DJANGO_CONN_MAX_AGE": "-5"},
        {"ESCASHOP_EVENT_POLL_SETTLE_SECONDS": "-1"},
        {"DJANGO_HTTPS": "1", "DJANGO_HSTS_SECONDS": "-1"},
        {"DATABASE_URL": "postgres://u@127.0.0.1:1/x", "DJANGO_DB_CONNECT_TIMEOUT": "0"},
    ]
    pool = {"DATABASE_URL": "postgres://u@127.0.0.1:1/x", "DJANGO_DB_POOL": "1"}
    cases += [
        {**pool, "DJANGO_DB_POOL_MIN": "-1"},
        {**pool, "DJANGO_DB_POOL_MAX": "0"},
        {**pool, "DJANGO_DB_POOL_TIMEOUT": "-3"},
        {**pool, "DJANGO_DB_POOL_TIMEOUT": "0"},
        {**pool, "DJANGO_DB_POOL_TIMEOUT": "nan"},
        {"ESCASHOP_EVENT_POLL_SETTLE_SECONDS": "nan"},
    ]
    for case in cases:
        result = manage("check", DJANGO_DEBUG="1", **case)
        assert result.returncode != 0, case
        assert list(case)[-1] in result.stderr, (case, result.stderr[-500:])


def test_pool_max_below_min_is_refused_at_start():
    """psycopg refused it only at each request's first query, with /healthz still 200."""
    result = manage(
        "check",
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://u@127.0.0.1:1/x",
        DJANGO_DB_POOL="1",
        DJANGO_DB_POOL_MAX="1",
    )
    assert result.returncode != 0
    assert "DJANGO_DB_POOL_MAX (1) must be at least DJANGO_DB_POOL_MIN (2)" in result.stderr


def test_postgresql_connections_give_up_connecting():
    """A PostgreSQL that accepts and never answers must not hold a request for ever."""
    code = "from django.conf import settings as s; print(s.DATABASES['default']['OPTIONS'])"
    url = "postgres://u@127.0.0.1:1/x"
    printed = _printed(manage("shell", "-c", code, DJANGO_DEBUG="1", DATABASE_URL=url))
    assert "'connect_timeout': 10" in printed
    printed = _printed(
        manage(
            "shell", "-c", code, DJANGO_DEBUG="1", DATABASE_URL=url, DJANGO_DB_CONNECT_TIMEOUT="3"
        )
    )
    assert "'connect_timeout': 3" in printed
    # One given in the URL wins.
    printed = _printed(
        manage("shell", "-c", code, DJANGO_DEBUG="1", DATABASE_URL=url + "?connect_timeout=7")
    )
    assert "'connect_timeout': 7" in printed or "'connect_timeout': '7'" in printed


def test_log_level_any_case_and_time_zone_are_checked():
    code = "from django.conf import settings as s; print(s.LOGGING['root']['level'], s.TIME_ZONE)"
    printed = _printed(manage("shell", "-c", code, DJANGO_DEBUG="1", DJANGO_LOG_LEVEL="debug"))
    assert printed == "DEBUG Asia/Manila"
    for name, value in [("DJANGO_LOG_LEVEL", "loud"), ("DJANGO_TIME_ZONE", "Mars/Base")]:
        result = manage("check", DJANGO_DEBUG="1", **{name: value})
        assert result.returncode != 0
        assert name in result.stderr and value in result.stderr


def test_a_database_that_never_answers_is_a_503_once_connecting_gives_up():
    """A listener that accepts and never answers, as a hung PostgreSQL does: without the
    pool, a request waited for ever (holding its request slot); now it gives up after
    DJANGO_DB_CONNECT_TIMEOUT and answers the API's 503."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)  # the kernel completes the handshake; nothing ever reads
        port = hung.getsockname()[1]
        code = (
            "import time; from django.test import Client; started = time.monotonic(); "
            "r = Client().post('/api/auth/token/', {'username': 'a', 'password': 'b'}, "
            "content_type='application/json'); "
            "print(r.status_code, r.headers.get('Retry-After'), time.monotonic() - started)"
        )
        result = manage(
            "shell",
            "-c",
            code,
            DJANGO_DEBUG="1",
            DJANGO_ALLOWED_HOSTS="testserver",
            DATABASE_URL=f"postgres://u@127.0.0.1:{port}/x",
            DJANGO_DB_CONNECT_TIMEOUT="2",
        )
    status, retry_after, elapsed = _printed(result).split()
    assert (status, retry_after) == ("503", "1")
    assert 1.5 <= float(elapsed) < 30


def test_the_cache_keys_take_the_deployments_channel_prefix_unless_told_otherwise():
    # Two deployments on one Redis server, told apart by ESCASHOP_CHANNEL_PREFIX as the docs
    # say, shared the login-throttle counts under the cache's own default prefix.
    code = (
        "from django.conf import settings as s; "
        "print(s.CHANNEL_LAYERS['default']['CONFIG']['prefix'], "
        "s.CACHES['default']['KEY_PREFIX'])"
    )
    common = {
        "DJANGO_SECRET_KEY": DEPLOY_KEY,
        "REDIS_URL": "redis://127.0.0.1:6379/0",  # read at start; nothing connects
        "ESCASHOP_CHANNEL_PREFIX": "staging",
    }
    alone = manage("shell", "-c", code, **common)
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.splitlines()[-1].split() == ["staging", "staging"]
    own = manage("shell", "-c", code, ESCASHOP_CACHE_PREFIX="throttle", **common)
    assert own.returncode == 0, own.stderr
    assert own.stdout.splitlines()[-1].split() == ["staging", "throttle"]

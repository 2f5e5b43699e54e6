"""``manage.py loadtest`` refuses bad options before touching the server, and makes its own
users when run on the server host."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from realtime.loadtest.api import Credentials
from realtime.loadtest.config import LoadConfig
from realtime.loadtest.runner import LoadTestError, Runner
from realtime.loadtest.users import LOAD_USERS, load_users_create, load_users_retire
from transactions.selectors import user_roles


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--writer"),
        (["--writer", "no-password"], "user:password"),
        (["--writer", "w:p", "--clients", "0"], "--clients"),
        (["--writer", "w:p", "--rate", "0", "--duration", "0"], "--settlements"),
        (["--writer", "w:p", "--settlements", "-3"], "--settlements"),
        (["--writer", "w:p", "--rate", "nan"], "--rate"),
        (["--writer", "w:p", "--drain", "-5"], "--drain"),
        (["--writer", "w:p", "--base-url", "127.0.0.1:8000"], "http://"),
        (["--writer", "w:p", "--write-base", "localhost:8001"], "http://"),
        # A URL urlsplit cannot read (it raised ValueError, a traceback) or without a host.
        (["--writer", "w:p", "--base-url", "http://[::1"], "http://"),
        (["--writer", "w:p", "--base-url", "http://127.0.0.1:port"], "http://"),
        (["--writer", "w:p", "--ws-base", "http://"], "http://"),
        (["--writer", "w:p", "--server-pid", "999999999"], "no such process"),
        (["--writer", "w:p", "--json", "/no/such/folder/x.json"], "no folder"),
        (["--writer", "w:p", "--balance", "random"], "--balance"),
        # Refused before --create-users writes anything.
        (["--create-users", "--clients", "0"], "--clients"),
        # --create-users used its own users and said nothing of these.
        (["--create-users", "--writer", "w:p"], "leave out --writer"),
        (["--create-users", "--watcher", "ghost:x"], "leave out --writer"),
        (["--writer", "w:p", "--open-timeout", "0"], "--open-timeout"),
    ],
)
def test_bad_options_are_refused(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("loadtest", *args)


def test_a_user_without_a_password_takes_it_from_the_environment(monkeypatch):
    assert Credentials.parse("carla", default_password="from-env") == Credentials(
        "carla", "from-env"
    )
    assert Credentials.parse("carla:on:line", default_password="x").password == "on:line"
    with pytest.raises(ValueError, match="ESCASHOP_LOADTEST_PASSWORD"):
        Credentials.parse("carla")
    with pytest.raises(ValueError):
        Credentials.parse(":pw", default_password="x")


def test_the_command_reads_the_password_variable(monkeypatch, closed_port):
    monkeypatch.setenv("ESCASHOP_LOADTEST_PASSWORD", "kept-off-the-command-line")
    # Past the credentials: refused only for the server it cannot reach.
    with pytest.raises(CommandError, match="cannot reach"):
        call_command("loadtest", "--base-url", f"http://127.0.0.1:{closed_port}", "--writer", "w")


def test_an_unreachable_server_is_a_clear_error(closed_port):
    with pytest.raises(CommandError, match="cannot reach"):
        call_command("loadtest", "--base-url", f"http://127.0.0.1:{closed_port}", "--writer", "w:p")


@pytest.mark.django_db
def test_load_users_get_one_role_each_and_a_fresh_password_every_run():
    load_users_create(password="first-password-123")
    names = load_users_create(password="second-password-456")
    assert names == LOAD_USERS
    for role, username in names.items():
        assert authenticate(username=username, password="first-password-123") is None
        user = authenticate(username=username, password="second-password-456")
        assert {r.value for r in user_roles(user)} == {role}


def test_refused_options_create_no_users(db):
    with pytest.raises(CommandError):
        call_command("loadtest", "--create-users", "--rate", "-1")
    assert not User.objects.filter(username__in=LOAD_USERS.values()).exists()


def test_load_users_are_retired_after_a_run(db):
    load_users_create(password="a-password-123")
    load_users_retire()
    users = User.objects.filter(username__in=LOAD_USERS.values())
    assert users.count() == 3
    assert not any(u.is_active or u.has_usable_password() for u in users)
    assert authenticate(username=LOAD_USERS["admin"], password="a-password-123") is None
    load_users_create(password="next-password-456")  # the next run gets them back
    assert authenticate(username=LOAD_USERS["admin"], password="next-password-456") is not None


def test_create_users_without_a_database_is_a_clear_error(monkeypatch):
    from django.db import OperationalError

    def unreachable(**_kwargs):
        raise OperationalError("couldn't get a connection after 10.00 sec")

    monkeypatch.setattr("realtime.management.commands.loadtest.load_users_create", unreachable)
    with pytest.raises(CommandError, match="--create-users: cannot write to the database"):
        call_command("loadtest", "--create-users")


def test_setup_and_the_invariant_check_turn_http_failures_into_clear_errors(closed_port):
    """An HTTP error or a server gone during setup was a traceback; during the invariant
    check it lost the whole report."""
    who = Credentials("w", "p")
    config = LoadConfig(
        base_url=f"http://127.0.0.1:{closed_port}", creator=who, writer=who, watchers=[who],
    )  # fmt: skip
    runner = Runner(config, log=lambda _line: None)
    runner.tokens = {who: "token"}
    with pytest.raises(LoadTestError, match="setup over REST failed"):
        runner.setup_transactions()
    runner.transaction_ids = [1, 2]
    (problem,) = runner.check_invariants()
    assert problem.startswith("could not check the invariants")
    runner.stopping.set()  # interrupted: no request is made any more
    assert runner.check_invariants() == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_ends_the_run_with_a_message_not_a_traceback(sig):
    """A server that accepts and never answers holds the login; the signal ends the run."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "loadtest", "--base-url", f"http://127.0.0.1:{port}",
             "--writer", "w:p"],
            cwd=settings.BASE_DIR, env={**os.environ, "DJANGO_DEBUG": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            conn, _ = server.accept()  # the login request has been sent
            with conn:
                proc.send_signal(sig)
                _out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
    assert proc.returncode == 1
    assert "interrupted" in err
    assert "Traceback" not in err

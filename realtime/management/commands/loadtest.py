"""``manage.py loadtest``: measure a live deployment over its REST API and websockets.

See docs/performance.md for the scenarios and what each figure means. Exit status 1 when a
frame was lost, duplicated or out of order, a client failed or dropped, or an invariant broke.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import math
import os
import secrets
import signal
import threading
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import Error as DatabaseError

from realtime.loadtest.api import PASSWORD_VARIABLE, Credentials
from realtime.loadtest.config import BALANCES, LoadConfig
from realtime.loadtest.procstat import listening_ports
from realtime.loadtest.runner import LoadTestError, Runner
from realtime.loadtest.users import load_users_create, load_users_retire

ROLES = ("admin", "cashier", "sales")


class Command(BaseCommand):
    help = (
        "Load-test a running deployment: N websocket clients subscribe to payment_status while "
        "settlements are recorded over REST; reports action-to-screen latency, lost and "
        "duplicated frames, server RSS per connection and CPU per delivered frame."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        a = parser.add_argument
        a("--base-url", default="http://127.0.0.1:8000", help="the deployment (REST and /ws/)")
        a(
            "--ws-base",
            action="append",
            default=[],
            metavar="URL",
            help="spread websocket clients over these base URLs (repeat; default --base-url)",
        )
        a(
            "--write-base",
            action="append",
            default=[],
            metavar="URL",
            help="spread writes over these base URLs (repeat; default --base-url)",
        )
        a(
            "--balance",
            choices=BALANCES,
            default="round-robin",
            help="how writes pick a --write-base: in turn, or the one with the fewest requests "
            "in flight (nginx's least_conn, as in deploy/nginx/)",
        )
        a(
            "--create-users",
            action="store_true",
            help="create loadtest-admin/-cashier/-sales with a fresh random password directly in "
            "the database of these settings (run on the server host); otherwise pass credentials",
        )
        a(
            "--client-role",
            choices=ROLES,
            default="admin",
            help="with --create-users: which user the websocket clients log in as",
        )
        a(
            "--creator",
            metavar="USER[:PASSWORD]",
            help=f"creates the transactions (sales or admin); a USER alone takes "
            f"${PASSWORD_VARIABLE}, kept off the command line",
        )
        a(
            "--writer",
            metavar="USER[:PASSWORD]",
            help=f"records settlements (cashier or admin); a USER alone takes ${PASSWORD_VARIABLE}",
        )
        a(
            "--watcher",
            action="append",
            default=[],
            metavar="USER[:PASSWORD]",
            help="websocket clients log in as these users, cycled (default: the writer)",
        )
        a("--clients", type=int, default=10, help="websocket clients")
        a("--rate", type=float, default=20.0, help="settlements per second (0: unthrottled)")
        a("--settlements", type=int, help="stop after this many settlements (default: --duration)")
        a("--duration", type=float, default=10.0, help="seconds of writing")
        a("--transactions", type=int, default=100, help="transactions the writes spread over")
        a("--in-flight", type=int, default=8, help="maximum concurrent settlement requests")
        a("--hold", type=float, default=0.0, help="seconds to hold connections idle first")
        a("--drain", type=float, default=10.0, help="seconds to wait for the last frames")
        a(
            "--server-pid",
            type=int,
            action="append",
            default=[],
            help="server process for /proc RSS and CPU (repeat for several)",
        )
        a("--connect-concurrency", type=int, default=100, help="simultaneous handshakes")
        a("--open-timeout", type=float, default=30.0, help="seconds to connect + subscribe")
        a("--json", metavar="PATH", help="also write the figures as JSON here ('-': stdout)")

    def handle(self, *args, **opts) -> None:
        # Ctrl-C and SIGTERM (`timeout`, a supervisor) raise KeyboardInterrupt in the main
        # thread, a blocking request there included (asyncio.run's own Ctrl-C handling only
        # cancels the task, which such a request does not notice for up to 30 s). Requests in
        # flight on other threads (setup, writes, the invariant check) end first, within
        # their 30 s timeout; nothing new starts. The `finally` below then retires the users
        # --create-users made.
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = {
            sig: signal.signal(sig, _interrupt)
            for sig in (signal.SIGINT, signal.SIGTERM)
            if in_main_thread  # only there can Python take signals
        }
        try:
            self._run(opts)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self, opts: dict) -> None:
        config = self._config(opts)
        self._warn_about_server_pids(config)
        runner = Runner(config, log=lambda line: self.stderr.write(line))
        try:
            report = asyncio.run(runner.run())
        except KeyboardInterrupt:
            raise CommandError(
                "interrupted: the run was stopped before its end, no report"
            ) from None
        except LoadTestError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            if exc.errno == errno.EMFILE:
                raise CommandError(
                    "the load generator ran out of file descriptors: raise its limit "
                    f"(ulimit -n) above --clients plus about 50 ({exc})"
                ) from exc
            raise CommandError(f"cannot reach {config.base_url}: {exc}") from exc
        finally:
            if opts["create_users"]:
                load_users_retire()
        # With --json -, stdout holds the JSON alone and the table goes to stderr.
        (self.stderr if opts["json"] == "-" else self.stdout).write(report.table())
        if opts["json"]:
            text = json.dumps(_finite(report.as_dict()), indent=2)
            if opts["json"] == "-":
                self.stdout.write(text)
            else:
                with open(opts["json"], "w") as fh:
                    fh.write(text + "\n")
        if not report.ok:
            raise CommandError("load test failed: see the table above")

    def _config(self, opts: dict) -> LoadConfig:
        # Checked before anything is created (--create-users writes to the database).
        for name in ("clients", "transactions", "in_flight", "connect_concurrency"):
            if opts[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("rate", "duration", "hold", "drain", "open_timeout"):
            if not math.isfinite(opts[name]) or opts[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} must be a number, at least 0")
        if opts["open_timeout"] == 0:
            raise CommandError("--open-timeout must be more than 0 (seconds to connect)")
        if opts["settlements"] is not None and opts["settlements"] < 0:
            raise CommandError("--settlements cannot be negative")
        for url in (opts["base_url"], *opts["ws_base"], *opts["write_base"]):
            try:
                parts = urlsplit(url)
                parts.port  # noqa: B018 (raises on a port that is not a number)
            except ValueError:
                parts = None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise CommandError(f"{url!r}: give base URLs as http://HOST:PORT or https://…")
        for pid in opts["server_pid"]:
            if not os.path.exists(f"/proc/{pid}/stat"):
                raise CommandError(f"--server-pid {pid}: no such process on this host")
        if opts["json"] not in (None, "-"):
            folder = os.path.dirname(os.path.abspath(opts["json"]))
            if not os.path.isdir(folder):
                raise CommandError(f"--json {opts['json']}: no folder {folder}")
        if opts["rate"] == 0 and opts["settlements"] is None and opts["duration"] == 0:
            raise CommandError("an unthrottled run needs --settlements or --duration")
        if opts["create_users"] and (opts["writer"] or opts["creator"] or opts["watcher"]):
            raise CommandError(
                "--create-users makes its own users: leave out --writer, --creator and --watcher"
            )
        try:
            if opts["create_users"]:
                password = secrets.token_urlsafe(18)
                try:
                    names = load_users_create(password=password)
                except DatabaseError as exc:
                    raise CommandError(
                        f"--create-users: cannot write to the database of these settings ({exc})"
                    ) from exc
                creator = Credentials(names["sales"], password)
                writer = Credentials(names["cashier"], password)
                watchers = [Credentials(names[opts["client_role"]], password)]
            else:
                if not opts["writer"]:
                    raise CommandError("pass --writer USER:PASSWORD, or --create-users")
                parse = functools.partial(
                    Credentials.parse, default_password=os.environ.get(PASSWORD_VARIABLE) or None
                )
                writer = parse(opts["writer"])
                creator = parse(opts["creator"]) if opts["creator"] else writer
                watchers = [parse(w) for w in opts["watcher"]] or [writer]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        return LoadConfig(
            base_url=opts["base_url"].rstrip("/"),
            creator=creator,
            writer=writer,
            watchers=watchers,
            clients=opts["clients"],
            rate=opts["rate"],
            settlements=opts["settlements"],
            duration=opts["duration"],
            transactions=opts["transactions"],
            in_flight=opts["in_flight"],
            hold=opts["hold"],
            drain=opts["drain"],
            server_pids=opts["server_pid"],
            ws_base_urls=[u.rstrip("/") for u in opts["ws_base"]],
            write_base_urls=[u.rstrip("/") for u in opts["write_base"]],
            balance=opts["balance"],
            connect_concurrency=opts["connect_concurrency"],
            open_timeout=opts["open_timeout"],
        )

    def _warn_about_server_pids(self, config: LoadConfig) -> None:
        """A --server-pid that listens on none of the URLs' ports is probably not the server
        (or sits behind a proxy): its RSS and CPU would measure something else."""
        if not config.server_pids:
            return
        ports = set()
        for url in (config.base_url, *config.ws_base_urls, *config.write_base_urls):
            parts = urlsplit(url)
            ports.add(parts.port or (443 if parts.scheme == "https" else 80))
        for pid in config.server_pids:
            listening = listening_ports(pid)
            if listening is not None and not listening & ports:  # None: cannot tell
                self.stderr.write(
                    f"warning: --server-pid {pid} listens on none of ports "
                    f"{', '.join(map(str, sorted(ports)))}: its RSS and CPU are that process's, "
                    "which is right only for a server behind a proxy"
                )


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _finite(value):
    """JSON has no NaN: unknown figures become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value

"""Black-box harness: a fresh database, `manage.py` in subprocesses, daphne, HTTP and /ws/.

Everything here talks to the product only through its public surfaces (SPEC section 7's
environment variables, `manage.py migrate` / `shell`, the REST API and the websocket), the
way the hidden acceptance tests do. No Django import of project code.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Acc-pass-1234!"  # every cast member's password


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict[str, str], *args: str, timeout: float = 120.0) -> str:
    """Run `python manage.py <args>` with exactly `env`; the stdout, or an error with output."""
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@dataclass
class Resp:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self):
        return json.loads(self.text)

    def __repr__(self) -> str:
        return f"<Resp {self.status} {self.text[:300]}>"


@dataclass
class Server:
    """A running daphne against a freshly migrated database."""

    port: int
    env: dict[str, str]
    tokens: dict[str, dict] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    log_path: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    # -- HTTP ------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        token: str | None = None,
        body=None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 15.0,
    ) -> Resp:
        hdrs = {"Accept": "application/json"}
        if user is not None:
            token = self.access(user)
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Resp(r.status, dict(r.headers), r.read().decode())
        except urllib.error.HTTPError as e:
            return Resp(e.code, dict(e.headers), e.read().decode())

    def get(self, path: str, **kw) -> Resp:
        return self.request("GET", path, **kw)

    def post(self, path: str, body=None, **kw) -> Resp:
        return self.request("POST", path, body=body, **kw)

    def patch(self, path: str, body=None, **kw) -> Resp:
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path: str, **kw) -> Resp:
        return self.request("DELETE", path, **kw)

    def login(self, username: str, password: str = PASSWORD) -> Resp:
        return self.post("/api/auth/token/", {"username": username, "password": password})

    def access(self, username: str) -> str:
        if username not in self.tokens:
            r = self.login(username)
            assert r.status == 200, r
            self.tokens[username] = r.json
        return self.tokens[username]["access"]

    def refresh(self, username: str) -> str:
        self.access(username)
        return self.tokens[username]["refresh"]

    def shell(self, code: str) -> str:
        return manage(self.env, "shell", "-c", code)

    # -- domain shortcuts (all over REST) --------------------------------------------------
    def customer(self, *, user: str = "acc_admin", name: str = "Juan Dela Cruz") -> dict:
        r = self.post("/api/customers/", {"name": name, "contact_number": "09171234567"}, user=user)
        assert r.status == 201, r
        return r.json

    def transaction(self, *, user: str = "acc_sales", amount: str = "1500.00", **extra) -> dict:
        cust = self.customer(user="acc_admin")
        body = {"customer": cust["id"], "amount": amount, "payment_mode": "cash", **extra}
        r = self.post("/api/transactions/", body, user=user)
        assert r.status == 201, r
        return r.json

    def settle(
        self, txn_id: int, amount: str, *, user: str = "acc_cashier", mode: str = "cash", **kw
    ) -> Resp:
        return self.post(
            f"/api/transactions/{txn_id}/settlements/",
            {"amount": amount, "payment_mode": mode},
            user=user,
            **kw,
        )


# -- websockets ----------------------------------------------------------------------------
WS_TIMEOUT = 5.0


async def ws_open(
    server: Server, *, query: str = "", headers: dict[str, str] | None = None
) -> ClientConnection:
    return await asyncio.wait_for(
        connect(
            server.ws_url + query,
            additional_headers=headers or {},
            max_size=None,
            open_timeout=WS_TIMEOUT,
            close_timeout=2,
        ),
        WS_TIMEOUT + 1,
    )


async def recv_text(ws: ClientConnection, timeout: float = WS_TIMEOUT) -> str:
    text = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(text, str), text
    return text


async def recv(ws: ClientConnection, timeout: float = WS_TIMEOUT) -> dict:
    return json.loads(await recv_text(ws, timeout))


async def send(ws: ClientConnection, frame) -> None:
    await ws.send(json.dumps(frame))


async def authed(server: Server, user: str) -> ClientConnection:
    """A connection authenticated by a first frame, with the `authenticated` reply consumed."""
    ws = await ws_open(server)
    await send(ws, {"type": "authenticate", "token": server.access(user)})
    frame = await recv(ws)
    assert frame["type"] == "authenticated", frame
    return ws


async def subscribed(
    server: Server, user: str, topic: str = "payment_status", since: int | None = None
) -> tuple[ClientConnection, dict]:
    ws = await authed(server, user)
    req = {"type": "subscribe", "topic": topic}
    if since is not None:
        req["since"] = since
    await send(ws, req)
    frame = await recv(ws)
    assert frame["type"] == "subscribed", frame
    return ws, frame


async def expect_close(ws: ClientConnection, timeout: float = WS_TIMEOUT) -> int | None:
    """Read until the server closes; the close code (frames before it are discarded)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None
    except TimeoutError:
        return None
    return None


async def collect(ws: ClientConnection, *, quiet: float = 1.0, limit: float = 8.0) -> list[str]:
    """Raw text frames until none arrives for `quiet` seconds (at most `limit` seconds)."""
    frames: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            frames.append(await recv_text(ws, min(quiet, max(0.01, deadline - time.monotonic()))))
        except TimeoutError:
            break
    return frames


async def frames_until(
    ws: ClientConnection, pred, *, timeout: float = WS_TIMEOUT
) -> tuple[list[dict], dict]:
    """Decoded frames up to and including the first that satisfies `pred`."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching frame within {timeout}s; saw {seen}")
        frame = await recv(ws, remaining)
        seen.append(frame)
        if pred(frame):
            return seen, frame


def env_base() -> dict[str, str]:
    """A minimal process environment: PATH and friends, none of the caller's DJANGO_* vars."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT")
    return {k: os.environ[k] for k in keep if k in os.environ} | {"PYTHONUNBUFFERED": "1"}

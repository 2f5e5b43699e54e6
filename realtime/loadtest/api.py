"""A minimal JSON client of the REST API (SPEC section 4) over keep-alive ``http.client``.

One ``ApiSession`` per thread: ``http.client`` connections are not thread-safe, and one
persistent connection per worker is what a real client pool does.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


class ApiError(RuntimeError):
    """A response other than the expected status; carries the status and a short body."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:300]}")
        self.status = status


#: The password of users given without one (``--writer cashier``).
PASSWORD_VARIABLE = "ESCASHOP_LOADTEST_PASSWORD"


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    @classmethod
    def parse(cls, text: str, *, default_password: str | None = None) -> Credentials:
        """``user:password`` (the password may contain colons), or a bare ``user`` with
        ``default_password`` (from the environment: a password on a command line is there
        for every local user to read in ``ps``)."""
        username, sep, password = text.partition(":")
        if not sep and username and default_password:
            return cls(username=username, password=default_password)
        if not sep or not username:
            raise ValueError(
                f"expected user:password, or a user with {PASSWORD_VARIABLE} set; got {username!r}"
            )
        return cls(username=username, password=password)


class ApiSession:
    """Keep-alive JSON requests to one base URL, authenticated with a bearer token."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 30.0):
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        expect: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
    ) -> dict:
        """Send one request (retrying once on a dropped keep-alive connection)."""
        payload = None if body is None else json.dumps(body).encode()
        hdrs = {"Accept": "application/json"}
        if payload is not None:
            hdrs["Content-Type"] = "application/json"
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        hdrs.update(headers or {})
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, self.prefix + path, body=payload, headers=hdrs)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection; a fresh one is fine once.
                self.close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                # A timeout or a broken response leaves http.client's connection mid-request,
                # refusing every later one: the next request gets a fresh connection.
                self.close()
                raise
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            text = raw.decode(errors="replace")
            if resp.status not in expect:
                raise ApiError(method, path, resp.status, text)
            return json.loads(text) if text else {}
        raise AssertionError("unreachable")

    # --- The calls the load test needs -------------------------------------------------

    def login(self, credentials: Credentials) -> str:
        data = self.request(
            "POST",
            "/api/auth/token/",
            {"username": credentials.username, "password": credentials.password},
        )
        self.token = data["access"]
        return self.token

    def me(self) -> dict:
        return self.request("GET", "/api/auth/me/")

    def customer_create(self, *, name: str) -> int:
        data = self.request(
            "POST",
            "/api/customers/",
            {"name": name, "contact_number": "0917 000 0000"},
            expect=(201,),
        )
        return data["id"]

    def transaction_create(self, *, customer_id: int, amount: str) -> int:
        data = self.request(
            "POST",
            "/api/transactions/",
            {"customer": customer_id, "amount": amount, "payment_mode": "cash"},
            expect=(201,),
        )
        return data["id"]

    def transaction_get(self, transaction_id: int) -> dict:
        return self.request("GET", f"/api/transactions/{transaction_id}/")

    def settlements_list(self, transaction_id: int) -> list[dict]:
        """Every settlement of a transaction, voided ones included, page by page."""
        rows, page = [], 1
        while True:
            data = self.request(
                "GET",
                f"/api/transactions/{transaction_id}/settlements/?page={page}&page_size=200",
            )
            rows += data["results"]
            if not data["next"]:
                return rows
            page += 1

    def settlement_create(
        self, *, transaction_id: int, amount: str, idempotency_key: str
    ) -> tuple[int, float]:
        """Record one settlement; returns its id and the monotonic time just before sending."""
        started = time.monotonic()
        data = self.request(
            "POST",
            f"/api/transactions/{transaction_id}/settlements/",
            {"amount": amount, "payment_mode": "cash", "notes": "loadtest"},
            expect=(201,),
            headers={"Idempotency-Key": idempotency_key},
        )
        return data["id"], started

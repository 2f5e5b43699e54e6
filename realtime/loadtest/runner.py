"""One load-test run: log in, set up transactions, open watchers, write, drain, measure.

Phases, in order (each reported through ``log``): logins; setup over REST (a customer, the
transactions, one warm-up settlement each so every transaction already has its cashier and
the audience of later events is fixed); open the websocket clients; hold; write settlements
at the given rate and concurrency; wait for the last frames; check the invariants over REST.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from .api import ApiError, ApiSession, Credentials
from .config import LoadConfig
from .procstat import ProcessGone, ProcSample, proc_sample
from .report import Report
from .stats import delivery
from .watchers import Watcher, open_watchers

WARMUP_AMOUNT = "1.00"
TRANSACTION_AMOUNT = "9999999.00"


class LoadTestError(RuntimeError):
    """The run cannot start or continue (bad credentials, a role that sees nothing, ...)."""


#: What a request to a server that went away (or answered nonsense) may raise: refused or
#: reset connections, an answer cut short, a body that is not JSON.
REQUEST_FAILURES = (ApiError, OSError, http.client.HTTPException, ValueError)

#: After the drain found every frame: how long to wait for late second copies.
DUPLICATE_GRACE_SECONDS = 1.0


class Balancer:
    """Picks each write's base URL (``LoadConfig.balance``): in turn, or the one with the
    fewest of the run's writes in flight, ties in turn. Used on the event loop only."""

    def __init__(self, urls: list[str], mode: str) -> None:
        self.urls = list(urls)
        self.mode = mode
        self.in_flight = dict.fromkeys(self.urls, 0)
        self._turn = 0

    def pick(self) -> str:
        n = len(self.urls)
        order = [self.urls[(self._turn + i) % n] for i in range(n)]
        self._turn = (self._turn + 1) % n
        least_busy = self.mode == "least-busy"  # then the first of the least busy in turn
        url = min(order, key=self.in_flight.__getitem__) if least_busy else order[0]
        self.in_flight[url] += 1
        return url

    def done(self, url: str) -> None:
        self.in_flight[url] -= 1


class Runner:
    def __init__(self, config: LoadConfig, *, log: Callable[[str], None]) -> None:
        self.config = config
        self.log = log
        #: Settlement id -> monotonic time just before its POST, and when it was due.
        self.sent_at: dict[int, float] = {}
        self.due_at: dict[int, float] = {}
        #: When (monotonic) the writing began: t=0 of the progress lines.
        self.writes_started: float | None = None
        self.ok_per_transaction: Counter[int] = Counter()
        self.write_errors: Counter[str] = Counter()
        self.first_errors: list[str] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self.tokens: dict[Credentials, str] = {}
        self.ids: dict[Credentials, int] = {}
        self.transaction_ids: list[int] = []
        #: Set to stop the setup thread between two transactions (Ctrl-C, SIGTERM).
        self.stopping = threading.Event()
        #: Server pids found gone when sampled (``_server_sample``).
        self.servers_gone: list[int] = []

    # --- Setup ------------------------------------------------------------------------

    def login_all(self) -> None:
        """One token per distinct user; refuse watchers that would not see every event."""
        cfg = self.config
        roles: dict[Credentials, set[str]] = {}
        for creds in {cfg.creator, cfg.writer, *cfg.watchers}:
            api = ApiSession(cfg.base_url)
            try:
                self.tokens[creds] = api.login(creds)
            except ApiError as exc:
                raise LoadTestError(
                    f"login of {creds.username!r} failed: HTTP {exc.status}"
                ) from exc
            me = api.me()
            self.ids[creds] = me["id"]
            roles[creds] = set(me.get("roles", []))
            api.close()
        if not roles[cfg.writer] & {"cashier", "admin"}:
            raise LoadTestError(f"writer {cfg.writer.username!r} is neither cashier nor admin")
        if not roles[cfg.creator] & {"sales", "admin"}:
            raise LoadTestError(f"creator {cfg.creator.username!r} is neither sales nor admin")
        for creds in cfg.watchers:
            r = roles[creds]
            sees_all = (
                "admin" in r
                or ("sales" in r and creds == cfg.creator)
                or ("cashier" in r and creds == cfg.writer)
            )
            if not sees_all:
                raise LoadTestError(
                    f"watcher {creds.username!r} (roles {sorted(r)}) would not see every event: "
                    "use an admin, the creator (sales) or the writer (cashier)"
                )

    def setup_transactions(self) -> None:
        cfg = self.config
        creator = ApiSession(cfg.base_url, token=self.tokens[cfg.creator])
        writer = ApiSession(cfg.base_url, token=self.tokens[cfg.writer])
        try:
            customer_id = creator.customer_create(name=f"Load test {uuid.uuid4().hex[:8]}")
            for n in range(cfg.transactions):
                if self.stopping.is_set():
                    return
                txn_id = creator.transaction_create(
                    customer_id=customer_id, amount=TRANSACTION_AMOUNT
                )
                writer.settlement_create(
                    transaction_id=txn_id, amount=WARMUP_AMOUNT, idempotency_key=uuid.uuid4().hex
                )
                self.transaction_ids.append(txn_id)
                if (n + 1) % 25 == 0:
                    self.log(f"setup: {n + 1}/{cfg.transactions} transactions")
        except REQUEST_FAILURES as exc:
            raise LoadTestError(f"setup over REST failed: {exc}") from exc
        finally:
            creator.close()
            writer.close()

    # --- Writes -------------------------------------------------------------------------

    def _session(self, url: str) -> ApiSession:
        sessions = getattr(self._local, "sessions", None)
        if sessions is None:
            sessions = self._local.sessions = {}
        if url not in sessions:
            sessions[url] = ApiSession(url, token=self.tokens[self.config.writer])
        return sessions[url]

    def _write_one(self, url: str, txn_id: int, due: float | None) -> None:
        try:
            settlement_id, started = self._session(url).settlement_create(
                transaction_id=txn_id,
                amount=self.config.settlement_amount,
                idempotency_key=uuid.uuid4().hex,
            )
        except Exception as exc:  # every failed write is counted, whatever it was
            key = f"HTTP {exc.status}" if isinstance(exc, ApiError) else type(exc).__name__
            with self._lock:
                self.write_errors[key] += 1
                if len(self.first_errors) < 5:
                    self.first_errors.append(str(exc))
            return
        with self._lock:
            self.sent_at[settlement_id] = started
            # A write held up behind a stall (the in-flight limit full, the loop late) went
            # out after it was due: measured from when it was due too, or the stall's
            # effect on every write queued behind it would not show (coordinated omission).
            self.due_at[settlement_id] = started if due is None else due
            self.ok_per_transaction[txn_id] += 1

    async def write_phase(self, pool: ThreadPoolExecutor, watchers: list[Watcher]) -> float:
        """Issue the settlements on schedule; returns the seconds the phase took."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(cfg.in_flight)
        balancer = Balancer(cfg.write_urls, cfg.balance)
        txns = itertools.cycle(self.transaction_ids)
        pending: set[asyncio.Future] = set()
        started = self.writes_started = time.monotonic()
        deadline = started + cfg.duration
        progress = asyncio.create_task(self._progress(started, watchers))
        n = 0
        try:
            while cfg.settlements is None or n < cfg.settlements:
                due = None  # unthrottled: each write is due when a slot frees
                if cfg.rate > 0:
                    due = started + n / cfg.rate
                    # The schedule, not the clock, ends a timed run: a write due before the
                    # deadline but held up by a stall still goes out (late, and timed from
                    # when it was due), and none is waited for past the deadline.
                    if cfg.settlements is None and due >= deadline:
                        break
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                elif cfg.settlements is None and time.monotonic() >= deadline:
                    break
                await gate.acquire()
                url = balancer.pick()
                future = loop.run_in_executor(pool, self._write_one, url, next(txns), due)
                future.add_done_callback(lambda _f, url=url: (balancer.done(url), gate.release()))
                pending.add(future)
                future.add_done_callback(pending.discard)
                n += 1
            if cfg.settlements is None:
                # A timed run lasts its duration: the settlements per second are counted
                # over it, not up to the last write sent (at 0.1/s for 2 s that was one
                # write in 10 ms: "100 a second").
                await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            if pending:
                await asyncio.wait(pending)
        finally:
            progress.cancel()
        return time.monotonic() - started

    async def _progress(self, started: float, watchers: list[Watcher]) -> None:
        while True:
            await asyncio.sleep(1.0)
            with self._lock:
                ok, errors = len(self.sent_at), sum(self.write_errors.values())
            frames = sum(w.frames for w in watchers)
            alive = sum(w.connected for w in watchers)
            self.log(
                f"t={time.monotonic() - started:5.1f}s  settlements ok {ok} err {errors}  "
                f"frames {frames}  clients {alive}/{len(watchers)}"
            )

    async def drain(self, watchers: list[Watcher]) -> bool:
        """Wait until every connected watcher has every written settlement (True), or time
        out (False)."""
        ids = set(self.sent_at)
        deadline = time.monotonic() + self.config.drain
        while time.monotonic() < deadline:
            if all(ids <= w.arrivals.keys() for w in watchers if w.connected):
                return True
            await asyncio.sleep(0.05)
        return False

    def check_invariants(self) -> list[str]:
        """Over the API, for each transaction: its paid amount is the warm-up plus every
        settlement that succeeded, and the sum of its settlements (none voided) as the API
        lists them; its balance is amount minus paid, its status partial."""
        cfg = self.config
        api = ApiSession(cfg.write_urls[0], token=self.tokens[cfg.writer])
        problems = []
        try:
            for txn_id in self.transaction_ids:
                if self.stopping.is_set():  # interrupted: stop at the next transaction
                    break
                if (problem := self._check_one(api, txn_id)) is not None:
                    problems.append(problem)
        except REQUEST_FAILURES as exc:
            # The server went away (or answered nonsense): the table still shows what was
            # measured, and the run fails.
            problems.append(f"could not check the invariants: {exc}")
        finally:
            api.close()
        return problems

    def _check_one(self, api: ApiSession, txn_id: int) -> str | None:
        """The invariants of one transaction (``check_invariants``): its problem, or None."""
        ok = self.ok_per_transaction[txn_id]
        want = Decimal(WARMUP_AMOUNT) + Decimal(self.config.settlement_amount) * ok
        txn = api.transaction_get(txn_id)
        paid, balance, amount = (
            Decimal(txn[k]) for k in ("paid_amount", "balance_amount", "amount")
        )
        rows = api.settlements_list(txn_id)
        listed = sum((Decimal(r["amount"]) for r in rows if not r["voided"]), Decimal(0))
        if (
            paid == want == listed
            and len(rows) == 1 + ok
            and balance == amount - paid
            and txn["payment_status"] == "partial"
        ):
            return None
        return (
            f"transaction {txn_id}: paid {paid} (expected {want}; its {len(rows)} "
            f"settlements listed sum to {listed}), balance {balance}, "
            f"status {txn['payment_status']}"
        )

    def _server_sample(self) -> ProcSample | None:
        """The server processes' RSS and CPU, or None when there are none or one ended."""
        if self.servers_gone:
            return None
        try:
            return proc_sample(self.config.server_pids)
        except ProcessGone as gone:
            self.servers_gone.append(gone.args[0])
            self.log(f"server process {gone.args[0]} has ended: no more server figures")
            return None

    # --- The run --------------------------------------------------------------------------

    async def run(self) -> Report:
        try:
            return await self._run()
        except asyncio.CancelledError:
            # Ctrl-C: the setup thread stops at its next transaction instead of making them
            # all while asyncio.run waits for it.
            self.stopping.set()
            raise

    async def _run(self) -> Report:
        cfg = self.config
        writing = cfg.writes
        self.login_all()
        if writing:
            self.log(f"setup: creating {cfg.transactions} transactions over REST")
            await asyncio.to_thread(self.setup_transactions)
        baseline = self._server_sample()
        tokens = itertools.cycle([self.tokens[c] for c in cfg.watchers])
        urls = itertools.cycle(cfg.ws_urls)
        watchers = [
            Watcher(index=i, url=next(urls), token=next(tokens), origin=cfg.origin)
            for i in range(cfg.clients)
        ]
        self.log(f"connecting {cfg.clients} websocket clients")
        t0 = time.monotonic()
        tasks = await open_watchers(
            watchers, concurrency=cfg.connect_concurrency, open_timeout=cfg.open_timeout
        )
        connect_seconds = time.monotonic() - t0
        connected = sum(w.connected for w in watchers)
        self.log(f"{connected}/{cfg.clients} clients subscribed in {connect_seconds:.1f}s")
        await asyncio.sleep(1.0)  # let the server settle before sampling its memory
        after_connect = self._server_sample()
        idle_cpu_percent = None
        if cfg.hold > 0:
            self.log(f"holding {connected} idle connections for {cfg.hold:g}s")
            await asyncio.sleep(cfg.hold)
            held = self._server_sample()
            if held is not None and after_connect is not None:
                idle_cpu_percent = 100 * (held.cpu_seconds - after_connect.cpu_seconds) / cfg.hold
        cpu_start = self._server_sample()
        own_start = proc_sample([os.getpid()])
        measure_started = time.monotonic()
        write_seconds = 0.0
        drained = False
        problems: list[str] = []
        if writing:
            with ThreadPoolExecutor(max_workers=cfg.in_flight, thread_name_prefix="write") as pool:
                write_seconds = await self.write_phase(pool, watchers)
            self.log(f"draining: up to {cfg.drain:g}s for the last frames")
            drained = await self.drain(watchers)
        cpu_end = self._server_sample()
        own_cpu = proc_sample([os.getpid()]).cpu_seconds - own_start.cpu_seconds
        measured_seconds = time.monotonic() - measure_started
        if drained:
            # Every client has every frame: a second copy of the last ones would still be on
            # its way. Wait for it before counting duplicates (outside the CPU window).
            await asyncio.sleep(DUPLICATE_GRACE_SECONDS)
        still_connected = sum(w.connected for w in watchers)
        failures = Counter(
            w.error or f"closed with {w.close_code}" for w in watchers if not w.connected
        )
        # Count now, in the window the CPU figures cover: frames that straggle in during the
        # invariant check below are late, and count as lost. Only clients that subscribed
        # are owed frames (one that never connected is a connect failure, reported as such).
        subscribed = [w for w in watchers if w.subscribed_at is not None]
        delivered = delivery(self.sent_at, (w.arrivals for w in subscribed))
        from_due = delivery(self.due_at, (w.arrivals for w in subscribed))
        out_of_order = sum(w.out_of_order for w in watchers)
        # Frames per second over the span they took to arrive, which a lagging server
        # stretches past the writing.
        last_arrival = max(
            (min(times) for w in watchers for times in w.arrivals.values()), default=0.0
        )
        delivery_seconds = max(write_seconds, last_arrival - measure_started)
        if writing:
            self.log(f"checking {len(self.transaction_ids)} transactions over REST")
            problems = await asyncio.to_thread(self.check_invariants)
        for w in watchers:
            await w.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        return Report(
            config=cfg,
            connected=connected,
            still_connected=still_connected,
            connect_seconds=connect_seconds,
            connect_failures=failures,
            write_seconds=write_seconds,
            delivery_seconds=delivery_seconds,
            settlements_ok=len(self.sent_at),
            write_errors=dict(self.write_errors),
            first_errors=list(self.first_errors),
            delivery=delivered,
            out_of_order=out_of_order,
            baseline=baseline,
            after_connect=after_connect,
            cpu_start=cpu_start,
            cpu_end=cpu_end,
            invariant_problems=problems,
            generator_cpu_seconds=own_cpu,
            measured_seconds=measured_seconds,
            idle_cpu_percent=idle_cpu_percent,
            decoded=delivery(self.sent_at, (w.decoded for w in subscribed)),
            from_due=from_due,
            writes_started=self.writes_started,
            servers_gone=list(self.servers_gone),
        )

"""Crash test (issue 10): `kill -9` of the server during a bounded ingest loses nothing acknowledged.

Run: `.venv/bin/python benchmarks/crash.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
[--events 200000] [--kills 3] [--seed 1] [--keep]` (see benchmarks/README.md). PostgreSQL only; Linux (it
reads /proc to see the killed process group gone).

1. Creates a fresh database on the `--pg` server, migrates it, makes an admin key with
   `app.keys.service.create_key`, and starts the real server, `csroi serve --workers 2`, as a subprocess in
   its own process group (DATABASE_URL set, CSROI_MIGRATE_ON_START=false, a free port), then waits for /healthz.
2. `--threads` client threads post seeded batches, in a seeded order: usage events (`POST /v1/events`) and
   revenue events (`POST /v1/revenue-events`), every event with a deterministic id. A batch is acknowledged
   when it gets a 2xx answer; a connection error or a 5xx leaves it unacknowledged.
3. Kill k of `--kills` fires once a seeded share of the events (spread over the run) is acknowledged: SIGKILL
   to the server's whole process group (parent and workers, as a power loss would). Odd-numbered kills (1, 3,
   …) aim at the narrowest window, a batch committed but not yet answered: a statement trigger the script
   adds to `usage_event` and `revenue_event` (test instrumentation, not part of the schema) sends a NOTIFY,
   which PostgreSQL delivers when a batch's transaction commits, and the kill follows the next one received.
   Even-numbered kills come after a seeded random delay of up to `--max-delay` seconds instead, so they land
   anywhere in the requests in flight (`--aim commit` or `--aim random` makes every kill one kind).
   The script then waits until the group is gone and the database has no session of the server left (their
   open transactions rolled back), counts how many events of each unacknowledged batch are stored
   (all-or-nothing: 0 or all), restarts the server and retries those batches first. Their ids are
   idempotent: a retry of a batch that was in fact committed must answer `duplicates` = its size, one that
   was not `accepted` = its size. A batch is partial if either the count after the crash or the retry's
   answer is anything else.
4. After the last round has posted everything, it checks the database directly: every event of every
   acknowledged batch is stored with its content (usage: customer, kind, time, value, properties; revenue:
   customer, product, date, ARR in cents), nothing is stored that was not posted, and the ledger is sound:
   `arr_change` and `arr_month` equal a rebuild from `revenue_event` (`app.ledger.ingest.rebuild_ledger`,
   in a transaction rolled back afterwards), and each customer's ARR (the sum of its changes) equals the one
   computed here from the posted events (each (customer, product, date) is posted once, so the answer does
   not depend on arrival order).

By default the customers exist before the events arrive (created as a CRM sync would, with
`app.customers.service.ensure_customers`); `--new-customers` leaves them to be created as stubs by the
concurrent batches themselves. Either way, concurrent batches sometimes deadlock in PostgreSQL today (a 500
to the client, which the script retries like any client and counts on its own line, not as a failure; see
"Crash safety" in docs/benchmarks.md).

It prints one table and exits 1 if any acknowledged event is lost or altered, any batch is partial, anything
unposted is stored, the ledger disagrees, or a batch never got an answer. The database is dropped at the end
unless `--keep`. A check, not a timing: the run time is printed for information.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app import migrate
from app.customers import service as customers_service
from app.db import make_engine, make_sessionmaker
from app.keys import service as keys_service
from app.keys.service import Scope
from app.ledger.ingest import rebuild_ledger

ROOT = Path(__file__).resolve().parent.parent
KINDS = ["login", "feature_used", "active_users", "ticket_opened", "seats"]
PRODUCTS = ["platform", "analytics", "seats"]
OFFSETS = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
MAX_ATTEMPTS = 20
console = Console(stderr=True)


@dataclass
class Batch:
    """One POST body and what is known about it."""

    index: int
    kind: str  # "usage" or "revenue"
    ids: list[str]
    body: bytes
    attempts: int = 0
    acked: bool = False
    failed: bool = False  # an attempt failed (crash or error): the next answer must be all-or-nothing
    crash_counts: list[int] = field(default_factory=list)  # events stored, counted after each crash it was in
    retry_answer: tuple[int, int] | None = None  # (accepted, duplicates) of the answer after a failure


@dataclass
class Book:
    """The generated events: expected stored content by id, and the batches."""

    customers: list[str]
    usage: dict[str, tuple[str, str, datetime, int, dict[str, Any]]]
    revenue: dict[str, tuple[str, str, date, int]]
    batches: list[Batch]


def make_book(*, events: int, revenue_share: float, customers: int, batch: int, revenue_batch: int, seed: int) -> Book:
    """Seeded events and batches; every (customer, product, effective date) of revenue occurs once."""
    rng = random.Random(seed)
    names = [f"crash-c{i:05d}" for i in range(customers)]
    n_revenue = int(events * revenue_share)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    usage: dict[str, tuple[str, str, datetime, int, dict[str, Any]]] = {}
    usage_json: list[dict[str, Any]] = []
    for i in range(events - n_revenue):
        event_id, customer, kind = f"crash-u{i:07d}", rng.choice(names), rng.choice(KINDS)
        occurred = start + timedelta(seconds=rng.randrange(90 * 86400), microseconds=rng.randrange(1_000_000))
        micros = rng.randrange(100) * 1_000_000 if rng.random() < 0.5 else rng.randrange(10**9)
        properties: dict[str, Any] = {"feature": f"f{rng.randrange(9)}", "n": i} if kind == "feature_used" else {}
        item: dict[str, Any] = {
            "id": event_id,
            "customer": customer,
            "kind": kind,
            "occurred_at": occurred.astimezone(rng.choice(OFFSETS)).isoformat(),
        }
        if micros % 1_000_000 == 0:
            item["value"] = micros // 1_000_000
        else:
            item["value"] = f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
        if properties:
            item["properties"] = properties
        usage[event_id] = (customer, kind, occurred, micros, properties)
        usage_json.append(item)
    revenue: dict[str, tuple[str, str, date, int]] = {}
    revenue_json: list[dict[str, Any]] = []
    last: dict[tuple[str, str], date] = {}
    for i in range(n_revenue):
        event_id, customer, product = f"crash-r{i:07d}", rng.choice(names), rng.choice(PRODUCTS)
        day = last.get((customer, product), date(2024, 1, 1)) + timedelta(days=rng.randint(1, 45))
        last[(customer, product)] = day
        cents = 0 if rng.random() < 0.1 else rng.randrange(1_000_00, 200_000_00)
        revenue[event_id] = (customer, product, day, cents)
        revenue_json.append(
            {
                "id": event_id,
                "customer": customer,
                "product": product,
                "effective_date": day.isoformat(),
                "arr": f"{cents // 100}.{cents % 100:02d}",
            }
        )
    batches = []
    for kind, items, size in (("usage", usage_json, batch), ("revenue", revenue_json, revenue_batch)):
        for s in range(0, len(items), size):
            chunk = items[s : s + size]
            body = json.dumps({"events": chunk}).encode()
            batches.append(Batch(index=0, kind=kind, ids=[e["id"] for e in chunk], body=body))
    rng.shuffle(batches)
    for index, b in enumerate(batches):
        b.index = index
    return Book(customers=names, usage=usage, revenue=revenue, batches=batches)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def group_alive(pgid: int) -> bool:
    """True while a process of the group is running (zombies, dead but not yet reaped, do not count)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class Server:
    """`csroi serve --workers N` in its own process group, restarted on the same port."""

    def __init__(self, url: str, workers: int, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log = log
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "CSROI_MIGRATE_ON_START": "false",
            "CSROI_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait for /healthz; seconds it took."""
        started = time.perf_counter()
        argv = ["serve", "--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from app.cli import main; main()", *argv],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"the server did not answer /healthz; its log ends with:\n{tail}")

    def stop(self) -> None:
        """Kill -9 whatever of the group still runs (nothing, after a normal end)."""
        if self.proc is not None:
            self.kill()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group, then wait until none of it runs."""
        assert self.proc is not None
        pgid = self.proc.pid  # start_new_session: the parent leads its group
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=60)
        deadline = time.monotonic() + 60
        while group_alive(pgid):
            if time.monotonic() > deadline:
                raise SystemExit(f"process group {pgid} still runs 60 s after signal {sig}")
            time.sleep(0.05)
        self.proc = None


@dataclass
class State:
    """Shared between the client threads, the killer and the main loop (under `lock`)."""

    total_events: int
    todo: deque[Batch]
    lock: threading.Lock = field(default_factory=threading.Lock)
    killed: threading.Event = field(default_factory=threading.Event)
    crashed: list[Batch] = field(default_factory=list)  # failed because of the current round's kill
    acked_events: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)  # 5xx / connection errors with no kill
    anomalies: list[str] = field(default_factory=list)  # answers that break the contract (4xx, wrong counts)
    partial: list[str] = field(default_factory=list)
    given_up: list[Batch] = field(default_factory=list)


PATHS = {"usage": "/v1/events", "revenue": "/v1/revenue-events"}


def client(state: State, base: str, key: str, progress: Progress, task: Any) -> None:
    """Post batches until there are none left or the server has been killed."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
        while True:
            with state.lock:
                if state.killed.is_set() or not state.todo:
                    return
                batch = state.todo.popleft()
                batch.attempts += 1
                state.requests += 1
            try:
                response = http.post(PATHS[batch.kind], content=batch.body)
                status, error = response.status_code, f"{response.status_code} {response.text[:300]}"
            except httpx.HTTPError as exc:
                status, error = 0, f"{type(exc).__name__}: {exc}"
            with state.lock:
                if 200 <= status < 300:
                    answer(state, batch, response.json())
                    progress.update(task, completed=state.acked_events)
                elif state.killed.is_set() and (status == 0 or status >= 500):
                    batch.failed = True
                    state.crashed.append(batch)
                elif status == 0 or status >= 500:
                    # Not caused by a kill: note it, and retry later in this round like a client would.
                    batch.failed = True
                    state.errors.append(f"batch {batch.index} ({batch.kind}): {error}")
                    if batch.attempts >= MAX_ATTEMPTS:
                        state.given_up.append(batch)
                    else:
                        state.todo.append(batch)
                else:
                    state.anomalies.append(f"batch {batch.index} ({batch.kind}) answered {error}")
                    state.given_up.append(batch)
            if status >= 500 and not state.killed.is_set():
                time.sleep(0.2)


def answer(state: State, batch: Batch, body: dict[str, Any]) -> None:
    """Record a 2xx answer; a batch that failed before must come back all-or-nothing."""
    accepted, duplicates, size = int(body["accepted"]), int(body["duplicates"]), len(batch.ids)
    batch.acked = True
    state.acked_events += size
    if not batch.failed:
        if (accepted, duplicates) != (size, 0):
            state.anomalies.append(f"batch {batch.index} ({batch.kind}) first post answered {body}, size {size}")
        return
    batch.retry_answer = (accepted, duplicates)
    if accepted + duplicates != size or duplicates not in {0, size}:
        state.partial.append(f"batch {batch.index} ({batch.kind}, {size} events): retry answered {body}")
    elif batch.crash_counts and duplicates != batch.crash_counts[-1]:
        state.anomalies.append(
            f"batch {batch.index}: {batch.crash_counts[-1]} events stored after the crash, retry answered {body}"
        )


def killer(state: State, server: Server, plan: "KillPlan", listener: psycopg.Connection[Any]) -> None:
    """Kill -9 the server's process group once `plan.threshold` events are acknowledged, then after the plan's
    delay (random) or at the next batch commit the trigger announces (commit)."""
    while True:
        with state.lock:
            if state.acked_events >= plan.threshold or not state.todo:
                break
        time.sleep(0.005)
    assert server.proc is not None
    pgid = server.proc.pid
    if plan.aim == "commit":
        list(listener.notifies(timeout=0.001))  # commits announced before now
        plan.saw_commit = any(True for _ in listener.notifies(timeout=10, stop_after=1))
    else:
        time.sleep(plan.delay)
    # No lock before the kill (the window after a commit is a few milliseconds); `killed` first, so that
    # clients count the errors that follow as caused by it.
    state.killed.set()
    os.killpg(pgid, signal.SIGKILL)
    plan.at = time.perf_counter()
    with state.lock:
        plan.acked = state.acked_events


@dataclass
class KillPlan:
    """When kill k fires, and what it met."""

    number: int
    threshold: int
    aim: str  # "random" or "commit"
    delay: float
    at: float = 0.0
    acked: int = 0
    saw_commit: bool = False
    in_flight: int = 0
    stored_whole: int = 0
    settle: float = 0.0  # seconds until the killed server's database sessions were gone


NOTIFY_SQL = """
CREATE FUNCTION crash_test_notify() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_notify('crash_test_commit', TG_TABLE_NAME); RETURN NULL; END $$;
CREATE TRIGGER crash_test_notify AFTER INSERT ON usage_event FOR EACH STATEMENT EXECUTE FUNCTION crash_test_notify();
CREATE TRIGGER crash_test_notify AFTER INSERT ON revenue_event FOR EACH STATEMENT EXECUTE FUNCTION crash_test_notify();
"""


def settle(conn: psycopg.Connection[Any], database: str, ours: list[int]) -> float:
    """Wait until the killed server's database sessions are gone (their transactions ended); seconds waited.

    `ours`: the backend pids of this script's own connections.
    """
    started = time.perf_counter()
    while True:
        left = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
            " AND pid <> ALL(%s)",
            (database, ours),
        ).fetchone()
        if not left or left[0] == 0:
            return time.perf_counter() - started
        if time.perf_counter() - started > 120:
            raise SystemExit(f"{left[0]} session(s) of the killed server still open after 120 s")
        time.sleep(0.05)


def count_stored(conn: psycopg.Connection[Any], batches: list[Batch]) -> None:
    """Append to each batch's `crash_counts` how many of its events are stored (one statement per table)."""
    for kind, table in (("usage", "usage_event"), ("revenue", "revenue_event")):
        chosen = [b for b in batches if b.kind == kind]
        if not chosen:
            continue
        numbers = [b.index for b in chosen for _ in b.ids]
        ids = [i for b in chosen for i in b.ids]
        rows = conn.execute(
            f"SELECT t.b, count(e.id) FROM unnest(%s::int[], %s::text[]) AS t(b, id)"
            f" LEFT JOIN {table} e ON e.id = t.id GROUP BY t.b",
            (numbers, ids),
        ).fetchall()
        counts = dict(rows)
        for b in chosen:
            b.crash_counts.append(int(counts.get(b.index, 0)))


@dataclass
class Checks:
    """What the final look at the database found."""

    lost: int = 0  # acknowledged events missing
    altered: int = 0  # acknowledged events stored with other content
    unposted: int = 0  # stored events nobody posted
    arr_change_rows: int = 0
    ledger_equal: bool = False
    arr_customers: int = 0
    arr_mismatches: int = 0
    notes: list[str] = field(default_factory=list)


def check_database(url: str, book: Book) -> Checks:
    """Every acknowledged event stored as posted, nothing else, and a ledger equal to its rebuild."""
    checks = Checks()
    acked = [b for b in book.batches if b.acked]
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        usage = {
            r[0]: r[1:]
            for r in conn.execute("SELECT id, customer_id, kind, occurred_at, value, properties FROM usage_event")
        }
        revenue = {
            r[0]: r[1:] for r in conn.execute("SELECT id, customer_id, product, effective_date, arr FROM revenue_event")
        }
    expected: dict[str, Any] = {"usage": book.usage, "revenue": book.revenue}
    stored: dict[str, Any] = {"usage": usage, "revenue": revenue}
    for b in acked:
        for event_id in b.ids:
            row = stored[b.kind].get(event_id)
            if row is None:
                checks.lost += 1
            elif tuple(row) != expected[b.kind][event_id]:
                checks.altered += 1
                if len(checks.notes) < 5:
                    checks.notes.append(f"{event_id}: stored {row}, posted {expected[b.kind][event_id]}")
    checks.unposted = len(usage.keys() - book.usage.keys()) + len(revenue.keys() - book.revenue.keys())

    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        # The ledger as ingest left it, then rebuilt from revenue_event in the same transaction, rolled back.
        change_sql = text("SELECT * FROM arr_change ORDER BY customer_id, product, effective_date")
        month_sql = text("SELECT * FROM arr_month ORDER BY customer_id, month")
        before = (session.execute(change_sql).all(), session.execute(month_sql).all())
        sums = text("SELECT customer_id, sum(delta_cents) FROM arr_change GROUP BY customer_id")
        arr: dict[str, int] = {row[0]: int(row[1]) for row in session.execute(sums)}  # the ledger as left
        customers = list(session.scalars(text("SELECT DISTINCT customer_id FROM revenue_event")))
        rebuild_ledger(session, customers)
        after = (session.execute(change_sql).all(), session.execute(month_sql).all())
        checks.ledger_equal = before == after
        checks.arr_change_rows = len(before[0])
        session.rollback()
    engine.dispose()
    # Each customer's ARR now, from the posted events: per product, the ARR of its latest date.
    latest: dict[tuple[str, str], tuple[date, int]] = {}
    for customer, product, day, cents in book.revenue.values():
        if (customer, product) not in latest or day > latest[(customer, product)][0]:
            latest[(customer, product)] = (day, cents)
    expected_arr: dict[str, int] = {}
    for (customer, _), (_, cents) in latest.items():
        expected_arr[customer] = expected_arr.get(customer, 0) + cents
    checks.arr_customers = len(expected_arr)
    checks.arr_mismatches = sum(1 for c in expected_arr.keys() | arr.keys() if arr.get(c, 0) != expected_arr.get(c, 0))
    return checks


@contextmanager
def fresh_database(server_url: str, *, keep: bool) -> Iterator[tuple[str, str]]:
    """A new database on the server (name, URL), dropped afterwards unless `keep`."""
    name = f"csroi_crash_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield name, make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            console.print(f"kept database {name}")
        else:
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str, book: Book, *, new_customers: bool) -> str:
    """Migrate, add the commit trigger, create the customers (unless `new_customers`); an admin key."""
    migrate.upgrade(url)
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute(NOTIFY_SQL)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        if not new_customers:
            customers_service.ensure_customers(session, book.customers)
        key = keys_service.create_key(session, name="crash test", scopes=[Scope.admin]).secret
        session.commit()
    engine.dispose()
    return key


def kill_plans(args: argparse.Namespace) -> list[KillPlan]:
    """Kill k (1-based) once about k / (kills + 1) of the events are acknowledged, ± 30 % of that spacing."""
    rng = random.Random(args.seed + 1)
    plans = []
    for k in range(1, args.kills + 1):
        threshold = int(args.events * (k + rng.uniform(-0.3, 0.3)) / (args.kills + 1))
        aim = args.aim if args.aim != "mixed" else ("commit" if k % 2 == 1 else "random")
        plans.append(KillPlan(number=k, threshold=threshold, aim=aim, delay=rng.uniform(0, args.max_delay)))
    return plans


def after_kill(conn: psycopg.Connection[Any], name: str, ours: list[int], state: State, plan: KillPlan) -> None:
    """Once the killed server's sessions are gone: how much of each batch in flight is stored (0 or all)."""
    plan.settle = settle(conn, name, ours)
    number = plan.number
    victims = state.crashed
    count_stored(conn, victims)
    for b in victims:
        if b.crash_counts[-1] not in {0, len(b.ids)}:
            state.partial.append(
                f"batch {b.index} ({b.kind}): {b.crash_counts[-1]} of {len(b.ids)} events stored after kill {number}"
            )
    plan.in_flight = len(victims)
    plan.stored_whole = sum(1 for b in victims if b.crash_counts[-1] == len(b.ids))
    state.todo.extendleft(reversed(victims))  # retried first after the restart
    state.crashed = []


def ingest_with_kills(
    args: argparse.Namespace, name: str, url: str, key: str, *, state: State, plans: list[KillPlan], server: Server,
    restarts: list[float],
) -> None:  # fmt: skip
    """Post every batch through `len(plans) + 1` server lifetimes, killing the first `len(plans)`."""
    db = url.replace("+psycopg", "")
    with (
        psycopg.connect(db, autocommit=True) as conn,
        psycopg.connect(db, autocommit=True) as listener,
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        ) as progress,
    ):  # fmt: skip
        listener.execute("LISTEN crash_test_commit")
        task = progress.add_task("round 1", total=args.events)
        for number in range(1, len(plans) + 2):
            progress.update(task, description=f"round {number}")
            restarts.append(server.start())
            state.killed.clear()
            threads = [
                threading.Thread(target=client, args=(state, server.base, key, progress, task), daemon=True)
                for _ in range(args.threads)
            ]
            for t in threads:
                t.start()
            plan = plans[number - 1] if number <= len(plans) else None
            kill_thread = None
            if plan:
                kill_thread = threading.Thread(target=killer, args=(state, server, plan, listener), daemon=True)
                kill_thread.start()
            for t in threads:
                t.join()
            if kill_thread is None or plan is None:
                server.kill(signal.SIGTERM)
                break
            kill_thread.join()
            server.kill()  # already signalled: wait until the whole group is gone
            after_kill(conn, name, [conn.info.backend_pid, listener.info.backend_pid], state, plan)


def run(args: argparse.Namespace, name: str, url: str) -> int:
    """The crash rounds and the checks; the exit code."""
    started = time.perf_counter()
    book = make_book(
        events=args.events, revenue_share=args.revenue_share, customers=args.customers, batch=args.batch,
        revenue_batch=args.revenue_batch, seed=args.seed,
    )  # fmt: skip
    key = prepare(url, book, new_customers=args.new_customers)
    plans = kill_plans(args)
    state = State(total_events=args.events, todo=deque(book.batches))
    restarts: list[float] = []
    server = Server(url, args.workers, Path(tempfile.mkdtemp(prefix="csroi-crash-")) / "server.log")
    usage_batches = sum(1 for b in book.batches if b.kind == "usage")
    console.print(
        f"{args.events:,} events: {usage_batches} usage batches (≤ {args.batch:,}), "
        f"{len(book.batches) - usage_batches} revenue batches (≤ {args.revenue_batch:,}), {args.customers:,} "
        f"customers{' created by the batches' if args.new_customers else ''}; {len(plans)} kill(s) at about "
        f"{', '.join(f'{p.threshold:,}' for p in plans)} acknowledged events; server log {server.log}"
    )
    try:
        ingest_with_kills(args, name, url, key, state=state, plans=plans, server=server, restarts=restarts)
    finally:
        server.stop()  # after an error mid-round, nothing of the server may be left running
    checks = check_database(url, book)
    report(
        args, book, state, checks, plans=plans, restarts=restarts, log=server.log,
        seconds=time.perf_counter() - started,
    )  # fmt: skip
    unanswered = [b for b in book.batches if not b.acked]
    if unanswered:
        console.print(f"{len(unanswered)} batch(es) never acknowledged")
    failed = (
        checks.lost or checks.altered or checks.unposted or state.partial or state.anomalies or unanswered
        or not checks.ledger_equal or checks.arr_mismatches
    )  # fmt: skip
    console.print("FAILED" if failed else "OK: nothing acknowledged was lost, no batch was partial")
    if failed or args.keep:
        console.print(f"server log: {server.log}")
    else:
        shutil.rmtree(server.log.parent, ignore_errors=True)
    return 1 if failed else 0


def report(
    args: argparse.Namespace, book: Book, state: State, checks: Checks, *, plans: list[KillPlan],
    restarts: list[float], log: Path, seconds: float,
) -> None:  # fmt: skip
    """The kills, one line each, and the table."""
    start = min(p.at for p in plans) if plans else 0.0
    for number, p in enumerate(plans, 1):
        aim = f"at a commit ({'seen' if p.saw_commit else 'none seen in 10 s'})" if p.aim == "commit" else (
            f"after {p.delay * 1000:.0f} ms")  # fmt: skip
        console.print(
            f"kill {number}: {p.acked:,} events acknowledged (threshold {p.threshold:,}), {aim}, "
            f"{p.at - start:+.1f} s from kill 1; {p.in_flight} batch(es) in flight: {p.stored_whole} "
            f"committed, {p.in_flight - p.stored_whole} not (the server's sessions gone after {p.settle:.1f} s)"
        )
    retried = [b for b in book.batches if b.retry_answer is not None and b.crash_counts]
    retried_dup = sum(1 for b in retried if b.retry_answer and b.retry_answer[1] == len(b.ids))
    acked = [b for b in book.batches if b.acked]
    deadlocks = sum(1 for line in log.read_text(errors="replace").splitlines() if "DeadlockDetected" in line)
    rows = [
        ("events posted", f"{args.events:,} ({sum(len(b.ids) for b in acked):,} acknowledged)"),
        ("batches acknowledged", f"{len(acked):,} of {len(book.batches):,} ({state.requests:,} POSTs with retries)"),
        ("kill -9 of the server's process group", f"{len(plans)} ({sum(p.aim == 'commit' for p in plans)} aimed at "
         "a commit)"),
        ("batches in flight at the kills: committed / not", f"{sum(p.stored_whole for p in plans)} / "
         f"{sum(p.in_flight - p.stored_whole for p in plans)}"),
        ("retried batches: answered duplicates / accepted", f"{retried_dup} / {len(retried) - retried_dup}"),
        ("acknowledged events lost", f"{checks.lost + checks.altered:,}"
         + (f" ({checks.lost:,} missing, {checks.altered:,} altered)" if checks.altered else "")),
        ("partial batches", f"{len(state.partial)}"),
        ("stored events nobody posted", f"{checks.unposted:,}"),
        ("arr_change and arr_month equal a rebuild", f"{'yes' if checks.ledger_equal else 'NO'} "
         f"({checks.arr_change_rows:,} arr_change rows)"),
        ("customers whose ARR differs from the events", f"{checks.arr_mismatches} of {checks.arr_customers:,}"),
        ("answers not caused by a kill (5xx, connection)", f"{len(state.errors)} ({deadlocks} deadlocks logged)"),
        ("server start to /healthz", f"{', '.join(f'{s:.1f}' for s in restarts)} s"),
        ("run time", f"{seconds:.0f} s"),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows)
    print(f"| {'crash test':<{width}} | result |")
    print(f"| {'-' * width} | ------ |")
    for label, value in rows:
        print(f"| {label:<{width}} | {value} |")
    for line in (state.partial + state.anomalies + state.errors[:5] + checks.notes)[:20]:
        console.print(f"  {line}", markup=False, soft_wrap=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--events", type=int, default=200_000, help="events in total (default 200,000)")
    parser.add_argument("--kills", type=int, default=3, help="kill -9 rounds (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--revenue-share", type=float, default=0.1, help="share of revenue events (default 0.1)")
    parser.add_argument("--batch", type=int, default=1_000, help="usage events per batch (default 1,000)")
    parser.add_argument("--revenue-batch", type=int, default=250, help="revenue events per batch (default 250)")
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--max-delay", type=float, default=0.25, help="seconds of seeded delay before a random kill")
    parser.add_argument("--aim", choices=["mixed", "random", "commit"], default="mixed", help="kill timing (mixed)")
    parser.add_argument("--new-customers", action="store_true", help="let the batches create the customers")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    args = parser.parse_args()
    with fresh_database(args.pg, keep=args.keep) as (name, url):
        code = run(args, name, url)
    sys.exit(code)


if __name__ == "__main__":
    main()

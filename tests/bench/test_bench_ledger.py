"""Ledger benchmark: RecordOwnershipEvent into a large ledger over real gRPC (SQLite, PostgreSQL).

    ./dev bench -k ledger
    DPM_BENCH_LEDGER_SIZES=10000,100000 DPM_BENCH_LEDGER_SECONDS=5 ./dev bench -k ledger

For each engine and ledger size (10^4, 10^5, 10^6 organizations by default)
a fresh catalog database is loaded through the catalog's bulk path
(``dpm.catalog.seeding``: the setup, timed but not the measured path) with a
layered ownership graph: every organization has two holders taken from the
organizations a few layers above it (about 2 holdings per organization (sometimes 1), up to
~10 layers deep, like groups, funds and their holdings). Then a catalog server
runs as its own process (``dpmatch serve catalog``, what ``dpmatch up`` starts,
with its outbox relay publishing to Redis and its audit log) and 1 or 8
closed-loop callers send RecordOwnershipEvent as admin for a fixed time: half
stake_acquired of 0.1% between random organizations, half stake_changed on a
stake of the seeded graph.

Baseline, measured in the same run for each engine and number of callers: a
bare gRPC server in its own process that does one equivalent INSERT + COMMIT
per call into the same engine (no auth, no audit, no ledger logic): the
limit of the stack, so ``ours/base`` shows what the ledger costs over the raw
write. Targets (issue 7): >= 500 events/s sustained and p99 <= 20 ms at 10^6
organizations. Only what is met is asserted; the rest is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import redis
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, insert

from dpm.catalog import seeding
from dpm.catalog.store import MIGRATIONS_DIR
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth, db
from dpm.platform.embedded_redis import free_port
from tests.conftest import drop_postgres_database, postgres_database_url
from tests.inprocess import wait_serving

pytestmark = [pytest.mark.bench, pytest.mark.timeout(7200)]

SIZES = tuple(
    int(n) for n in os.environ.get("DPM_BENCH_LEDGER_SIZES", "10000,100000,1000000").split(",")
)
SECONDS = float(os.environ.get("DPM_BENCH_LEDGER_SECONDS", "8"))
WARM_UP_SECONDS = 1.0
CALLERS = (1, 8)
TARGET_RATE = 500.0  # events/s
TARGET_P99_MS = 20.0
TARGET_SIZE = 1_000_000
SERVICE = "dpm.catalog.v1.CatalogService"
DPMATCH = [sys.executable, "-m", "dpm.cli.main"]


# --- the ledger -----------------------------------------------------------------------------


def synthetic_ledger(
    n: int, seed: int = 7
) -> tuple[list[seeding.NewOrganization], list[seeding.Stake]]:
    """``n`` organizations; organization i is held by (up to) two of the organizations i/16 .. i/2
    (at most 80% in total), so chains run about ten layers deep and never close a cycle."""
    rng = random.Random(seed)
    orgs = [seeding.NewOrganization(f"org-{i}", f"Organization {i}") for i in range(n)]
    stakes: list[seeding.Stake] = []
    first = dt.date(2000, 1, 1)
    for i in range(1, n):
        low, high = i // 16, max(i // 2, 1)
        holders = {low + int(rng.random() * (high - low)) for _ in range(2)}
        for holder in sorted(holders):
            stakes.append(
                seeding.Stake(
                    event_id=f"seed-{len(stakes)}",
                    holder=f"org-{holder}",
                    held=f"org-{i}",
                    equity=round(rng.uniform(0.05, 0.4), 4),
                    effective=first + dt.timedelta(days=rng.randrange(7000)),
                )
            )
    return orgs, stakes


def seed(url: str, orgs: list[seeding.NewOrganization], stakes: list[seeding.Stake]) -> float:
    """Migrate and bulk-load the ledger; the seconds it took."""
    started = time.perf_counter()
    database = db.Database.open(url, MIGRATIONS_DIR)
    try:
        with database.write() as session:
            seeding.load(session, orgs, stakes, seeding.text_progress(f"seeding {len(orgs):,}"))
        # Settle the load before measuring: fold SQLite's write-ahead log in; vacuum
        # PostgreSQL's new tables now rather than by autovacuum during the run.
        raw = database.engine.raw_connection()
        try:
            if url.startswith("sqlite"):
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]
                raw.cursor().execute("VACUUM (ANALYZE)")
        finally:
            raw.close()
    finally:
        database.close()
    return time.perf_counter() - started


class Events:
    """RecordOwnershipEvent requests: half new 0.1% stakes, half changes of seeded stakes."""

    def __init__(self, n: int, stakes: list[tuple[str, str, float]], prefix: str) -> None:
        self._n = n
        self._stakes = stakes
        self._prefix = prefix
        self._count = 0
        self._lock = threading.Lock()

    def next(self, rng: random.Random) -> catalog_pb2.RecordOwnershipEventRequest:
        with self._lock:
            self._count += 1
            number = self._count
        event = ownership_pb2.OwnershipEvent(event_id=f"{self._prefix}-{number}")
        if number % 2:
            holder, held, equity = self._stakes[rng.randrange(len(self._stakes))]
            event.effective_date = (
                dt.date(2024, 1, 1) + dt.timedelta(rng.randrange(300))
            ).isoformat()
            change = event.stake_changed
            change.equity_fraction = round(equity * rng.uniform(0.5, 1.0), 4)
        else:
            holder, held = (f"org-{i}" for i in rng.sample(range(self._n), 2))
            event.effective_date = "2025-06-01"
            change = event.stake_acquired
            change.equity_fraction = 0.001
        change.holder, change.held = f"organizations/{holder}", f"organizations/{held}"
        return catalog_pb2.RecordOwnershipEventRequest(event=event)


# --- the servers ----------------------------------------------------------------------------


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _env(**values: str) -> dict[str, str]:
    # OTEL_PYTHON_DISABLED_INSTRUMENTATIONS passes: "sqlalchemy,redis" measures the
    # catalog without the spans of its SQL statements.
    kept = ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",)
    clean = {
        k: v for k, v in os.environ.items() if k in kept or not k.startswith(("DPM_", "OTEL_"))
    }
    return {**clean, **values}


@contextmanager
def catalog_server(
    url: str, token_secret: str, redis_url: str, deployment: str, log: Path
) -> Iterator[str]:
    """``dpmatch serve catalog`` on ``url``: its own process, outbox relay to Redis."""
    port = free_port()
    env = _env(
        DPM_TOKEN_SECRET=token_secret,
        DPM_DATABASE_URL=url,
        DPM_HOST="127.0.0.1",
        DPM_PORT=str(port),
        DPM_REDIS_URL=redis_url,
        DPM_DEPLOYMENT=deployment,
        DPM_DATA_DIR=str(log.parent),
    )
    address = f"127.0.0.1:{port}"
    with process([*DPMATCH, "serve", "catalog"], env, log) as proc:
        try:
            wait_serving(address, timeout=120)
        except Exception:
            raise AssertionError(f"catalog did not come up:\n{log.read_text()[-3000:]}") from None
        assert proc.poll() is None
        yield address


@contextmanager
def baseline_server(url: str, log: Path) -> Iterator[str]:
    """The bare server of this module's ``__main__``, in its own process."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "tests.bench.test_bench_ledger",
        "--url",
        url,
        "--port",
        str(port),
    ]
    with process(args, _env(), log) as proc:
        address = f"127.0.0.1:{port}"
        with grpc.insecure_channel(address) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=60)
            except grpc.FutureTimeoutError:
                state = "exited" if proc.poll() is not None else "running"
                raise AssertionError(f"baseline {state}:\n{log.read_text()[-3000:]}") from None
        yield address


def serve_baseline(url: str, port: int, workers: int = 16) -> None:
    """RecordOwnershipEvent as one INSERT + COMMIT of the event (same engine settings as
    the services: ``dpm.platform.db.make_engine``), answering the event back."""
    engine = db.make_engine(url)
    metadata = MetaData()
    table = Table(
        "baseline_events",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("event_id", String(128), unique=True),
        Column("payload", JSON),
    )
    metadata.create_all(engine)

    def record(request: catalog_pb2.RecordOwnershipEventRequest, _: object) -> bytes:
        event = request.event
        with engine.begin() as conn:
            conn.execute(
                insert(table),
                {"event_id": event.event_id, "payload": {"bytes": len(event.SerializeToString())}},
            )
        return event.SerializeToString()

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "RecordOwnershipEvent": grpc.unary_unary_rpc_method_handler(
                record,
                request_deserializer=catalog_pb2.RecordOwnershipEventRequest.FromString,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(workers))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(5).wait()
    engine.dispose()


# --- the load -------------------------------------------------------------------------------


@dataclass
class Result:
    rate: float
    p50: float
    p99: float
    calls: int
    errors: Counter[str]


def drive(
    address: str,
    token: str,
    callers: int,
    make: Callable[[random.Random], catalog_pb2.RecordOwnershipEventRequest],
) -> Result:
    """``callers`` closed-loop threads, one channel each; latencies after the warm-up."""
    started = time.monotonic()
    measure_from = started + WARM_UP_SECONDS
    end = measure_from + SECONDS
    latencies: list[list[float]] = [[] for _ in range(callers)]
    errors: Counter[str] = Counter()
    lock = threading.Lock()

    def caller(index: int) -> None:
        rng = random.Random(index)
        metadata = (("authorization", f"Bearer {token}"),)
        with grpc.insecure_channel(address) as channel:
            stub = catalog_pb2_grpc.CatalogServiceStub(channel)
            while (now := time.monotonic()) < end:
                request = make(rng)
                begun = time.perf_counter()
                try:
                    stub.RecordOwnershipEvent(request, metadata=metadata, timeout=30)
                except grpc.RpcError as error:
                    with lock:
                        errors[f"{error.code().name}: {error.details()}"[:160]] += 1
                if now >= measure_from:
                    latencies[index].append((time.perf_counter() - begun) * 1000)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples = sorted(ms for part in latencies for ms in part)
    q = statistics.quantiles(samples, n=100)
    return Result(len(samples) / SECONDS, q[49], q[98], len(samples), errors)


# --- the benchmark --------------------------------------------------------------------------


@dataclass
class Row:
    engine: str
    size: int
    holdings: int
    seed_s: float
    callers: int
    ours: Result
    base: Result


@contextmanager
def database(engine: str, tmp_path: Path, name: str) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / f'{name}.db'}"
        return
    url = postgres_database_url()
    assert url is not None
    try:
        yield url
    finally:
        drop_postgres_database(url)


def engines() -> list[str]:
    found = ["sqlite"]
    probe = postgres_database_url()
    if probe is not None:
        drop_postgres_database(probe)
        found.append("postgresql")
    return found


def cleanup_broker(redis_url: str, deployment: str) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = [*client.scan_iter(f"{deployment}*"), *client.scan_iter(f"*{deployment}.rematch*")]
    if keys:
        client.delete(*keys)
    client.close()


def test_bench_ledger(tmp_path: Path, token_secret: str, redis_url: str) -> None:
    admin = auth.admin_token(token_secret)
    deployment = f"benchledger{uuid.uuid4().hex[:8]}"
    rows: list[Row] = []
    all_errors: Counter[str] = Counter()
    try:
        for engine in engines():
            base: dict[int, Result] = {}
            with (
                database(engine, tmp_path, "baseline") as url,
                baseline_server(url, tmp_path / f"baseline-{engine}.log") as address,
            ):
                for callers in CALLERS:
                    events = Events(1000, [("org-0", "org-1", 0.5)], f"base-{callers}")
                    base[callers] = drive(address, admin, callers, events.next)
            for size in SIZES:
                with database(engine, tmp_path, f"ledger-{size}") as url:
                    orgs, stakes = synthetic_ledger(size)
                    holdings, seed_s = len(stakes), seed(url, orgs, stakes)
                    pairs = [(s.holder, s.held, s.equity) for s in stakes]
                    del orgs, stakes
                    log = tmp_path / f"catalog-{engine}-{size}.log"
                    with catalog_server(url, token_secret, redis_url, deployment, log) as address:
                        for callers in CALLERS:
                            events = Events(size, pairs, f"bench-{callers}")
                            result = drive(address, admin, callers, events.next)
                            all_errors.update(result.errors)
                            rows.append(
                                Row(engine, size, holdings, seed_s, callers, result, base[callers])
                            )
                            seed_s = float("nan")
    finally:
        cleanup_broker(redis_url, deployment)

    print()
    print(
        f"{'engine':<10} {'orgs':>9} {'holdings':>9} {'seed s':>7} {'callers':>7} "
        f"{'ev/s':>6} {'p50 ms':>7} {'p99 ms':>7} | {'base ev/s':>9} {'p50 ms':>7} "
        f"{'p99 ms':>7} | {'ours/base':>9} {'ev/s/500':>8} {'20ms/p99':>8}"
    )
    for r in rows:
        seed_s = f"{r.seed_s:>7.1f}" if r.seed_s == r.seed_s else f"{'':>7}"
        print(
            f"{r.engine:<10} {r.size:>9,} {r.holdings:>9,} {seed_s} {r.callers:>7} "
            f"{r.ours.rate:>6.0f} {r.ours.p50:>7.1f} {r.ours.p99:>7.1f} | "
            f"{r.base.rate:>9.0f} {r.base.p50:>7.1f} {r.base.p99:>7.1f} | "
            f"{r.ours.rate / r.base.rate:>9.2f} {r.ours.rate / TARGET_RATE:>8.2f} "
            f"{TARGET_P99_MS / r.ours.p99:>8.2f}"
        )
    print(
        f"targets at {TARGET_SIZE:,} organizations: >= {TARGET_RATE:.0f} events/s "
        f"(ev/s/500 >= 1), p99 <= {TARGET_P99_MS:.0f} ms (20ms/p99 >= 1); "
        f"each row ran {SECONDS:.0f} s after {WARM_UP_SECONDS:.0f} s of warm-up"
    )
    at_target = [r for r in rows if r.size == TARGET_SIZE]
    met = [r for r in at_target if r.ours.rate >= TARGET_RATE and r.ours.p99 <= TARGET_P99_MS]
    missed = [r for r in at_target if r not in met]
    for r in missed:
        print(
            f"NOT MET: {r.engine}, {r.callers} caller(s): {r.ours.rate:.0f} ev/s, "
            f"p99 {r.ours.p99:.1f} ms"
        )
    if not at_target:
        print(f"NOT MEASURED: {TARGET_SIZE:,} organizations (DPM_BENCH_LEDGER_SIZES)")
    for error, count in all_errors.most_common(5):
        print(f"error x{count}: {error}")
    assert not all_errors, "calls failed"
    for r in met:
        assert r.ours.rate >= TARGET_RATE and r.ours.p99 <= TARGET_P99_MS


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the bare baseline server of the ledger bench")
    parser.add_argument("--url", required=True)
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    serve_baseline(options.url, options.port)

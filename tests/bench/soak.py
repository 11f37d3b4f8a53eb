"""Bounded soak: the whole stack under 80% of its measured maximum throughput.

    ./dev soak [--minutes N] [--data-dir D] [--threads T]
    python -m tests.bench.soak --minutes 2

Starts `dpmatch up --seed --auto-ports` in a fresh data directory (the same
processes a user runs), measures the maximum throughput of a mixed workload
with T closed-loop client threads (~85% GetRecommendations with the labs' own
tokens, ~10% RecordOwnershipEvent as admin, ~5% UpdateClient with a lab's
token), then runs the same mix paced at 80% of it for N minutes. Every 30 s
it prints calls/s, errors by status code, p50/p99 latency and the RSS of
every process of the stack; at the end a table of RSS per process. Exits
non-zero when any call failed (RESOURCE_EXHAUSTED included), any process's
RSS grew by more than 50% (and 16 MB) after the first minute (the warm-up),
or the stack fell more than 5% of the calls behind the schedule. Always stops
the stack. Not part of the test run.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import redis
from google.protobuf import field_mask_pb2

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.cli.seed import holdings_as_of, load_demo_data
from dpm.cli.stackfile import Stack
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc
from tests.bench.stack import dpmatch_up, stack_rss

READ_SHARE, EVENT_SHARE = 0.85, 0.10  # the rest: UpdateClient
LOAD_FRACTION = 0.8
REPORT_EVERY = 30.0
WARM_UP = 60.0
BEHIND_LIMIT = 0.05  # the stack must make 95% of the calls the paced schedule asks for
MAX_GROWTH = 0.5
MIN_GROWTH_MB = 16  # a process a few MB in size (redis-server) may grow 50% by a few MB
EVENT_DATE = "2025-06-20"  # before the labs' pinned as_of (2025-06-30): events change results
STAKES = (0.001, 0.002)


# --- the stack ------------------------------------------------------------------------------


def redis_line(stack: Stack) -> str:
    """Keys, memory and the longest list (the broker's queues) in the stack's Redis."""
    try:
        client = redis.Redis.from_url(stack.redis_url, socket_timeout=2)
        info = client.info("memory")
        lists = {
            k.decode(): int(client.llen(k)) for k in client.scan_iter(count=1000, _type="list")
        }
        queue = max(lists.items(), key=lambda kv: kv[1], default=("-", 0))
        used = int(info["used_memory"])
        return (
            f"redis: {client.dbsize()} keys, {mb(used)} MB used, longest list {queue[0]}={queue[1]}"
        )
    except redis.RedisError as exc:
        return f"redis: {exc}"


def mb(value: int) -> str:
    return f"{value / 2**20:.0f}"


def rss_line(rss: dict[tuple[str, int], int]) -> str:
    return " ".join(f"{name}[{pid}]={mb(v)}" for (name, pid), v in sorted(rss.items()))


# --- the workload ---------------------------------------------------------------------------


@dataclass
class Window:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window = Window()
        self.total = Window()
        self.first_errors: list[str] = []

    def record(self, kind: str, ms: float, error: grpc.RpcError | None) -> None:
        with self.lock:
            for w in (self.window, self.total):
                w.by_kind.setdefault(kind, []).append(ms)
                w.latencies.append(ms)
                w.kinds[kind] += 1
                if error is not None:
                    w.errors[error.code().name] += 1
            if error is not None and len(self.first_errors) < 10:
                self.first_errors.append(f"{kind}: {error.code().name}: {error.details()}")

    def take(self) -> Window:
        with self.lock:
            window, self.window = self.window, Window()
        return window


def quantiles(latencies: list[float]) -> tuple[float, float]:
    lat = sorted(latencies)
    if not lat:
        return 0.0, 0.0
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def describe(w: Window, now: float) -> str:
    seconds = max(now - w.started, 1e-9)
    lat = w.latencies
    p50, p99 = quantiles(lat)
    errors = ",".join(f"{k}={v}" for k, v in sorted(w.errors.items())) or "none"
    return (
        f"{len(lat) / seconds:7.1f} calls/s  errors {errors}  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
    )


class Workload:
    """The mixed calls; one client thread per call in flight, each bound to one lab."""

    def __init__(self, stack: Stack, vendors: list[str], investor: str) -> None:
        self.stack = stack
        self.labs = sorted(stack.client_tokens)
        self.vendors = vendors
        self.investor = investor
        self.run = f"soak-{int(time.time())}"
        self.ids = itertools.count()
        self.ids_lock = threading.Lock()

    def event_id(self) -> str:
        with self.ids_lock:
            return f"{self.run}-{next(self.ids)}"

    def stake(
        self, vendor: str, fraction: float, acquired: bool
    ) -> catalog_pb2.RecordOwnershipEventRequest:
        change = ownership_pb2.StakeChange(
            holder=str(OrganizationName(self.investor)),
            held=str(OrganizationName(vendor)),
            equity_fraction=fraction,
        )
        event = ownership_pb2.OwnershipEvent(
            event_id=self.event_id(), effective_date=EVENT_DATE, summary="soak"
        )
        (event.stake_acquired if acquired else event.stake_changed).CopyFrom(change)
        return catalog_pb2.RecordOwnershipEventRequest(event=event)

    def prepare(self) -> None:
        """The investor's first small stake in each vendor: later events only change it."""
        with self.stack.channel("catalog") as channel:
            catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
            for vendor in self.vendors:
                catalog.RecordOwnershipEvent(self.stake(vendor, STAKES[0], acquired=True))

    def client(self, index: int, stats: Stats, wait_turn: Callable[[], bool]) -> None:
        lab = self.labs[index % len(self.labs)]
        token = self.stack.client_tokens[lab]
        rng = random.Random(index)
        with ExitStack() as channels:
            matching = matching_pb2_grpc.MatchingServiceStub(
                channels.enter_context(self.stack.channel("matching", token))
            )
            requirements = requirements_pb2_grpc.RequirementsServiceStub(
                channels.enter_context(self.stack.channel("requirements", token))
            )
            catalog = catalog_pb2_grpc.CatalogServiceStub(
                channels.enter_context(self.stack.channel("catalog"))
            )
            read = matching_pb2.GetRecommendationsRequest(name=f"clients/{lab}/recommendations")
            while wait_turn():
                draw = rng.random()
                call: Callable[[], object]
                if draw < READ_SHARE:
                    kind, call = "read", lambda: matching.GetRecommendations(read)
                elif draw < READ_SHARE + EVENT_SHARE:
                    request = self.stake(rng.choice(self.vendors), rng.choice(STAKES), False)
                    kind, call = "event", functools.partial(catalog.RecordOwnershipEvent, request)
                else:
                    update = self.update(lab, rng)
                    kind, call = "update", functools.partial(requirements.UpdateClient, update)
                started = time.perf_counter()
                try:
                    call()
                    error = None
                except grpc.RpcError as exc:
                    error = exc
                stats.record(kind, (time.perf_counter() - started) * 1000, error)

    @staticmethod
    def update(lab: str, rng: random.Random) -> requirements_pb2.UpdateClientRequest:
        client = requirements_pb2.Client(name=f"clients/{lab}")
        if rng.random() < 0.5:
            client.display_name = f"{lab} (soak {rng.randrange(1000)})"
            path = "display_name"
        else:
            client.neutrality_policy.max_competitor_equity = rng.choice((0.25, 0.26))
            path = "neutrality_policy.max_competitor_equity"
        return requirements_pb2.UpdateClientRequest(
            client=client, update_mask=field_mask_pb2.FieldMask(paths=[path])
        )


def choose_vendors(count: int) -> tuple[str, list[str]]:
    """An investor and vendors whose recorded equity leaves room for its small stake."""
    facts, demo = load_demo_data()
    held: dict[str, float] = {}
    holders: dict[str, set[str]] = {}
    for row in holdings_as_of(facts, demo):
        held[row["held"]] = held.get(row["held"], 0.0) + (row["equity_fraction"] or 0.0)
        holders.setdefault(row["held"], set()).add(row["holder"])
    investor = "accel"
    vendors = [
        o["id"]
        for o in facts["organizations"]
        if o["kind"] == "vendor"
        and held.get(o["id"], 0.0) <= 0.9
        and investor not in holders.get(o["id"], set())
    ]
    return investor, vendors[:count]


def drive(
    workload: Workload,
    threads: int,
    stats: Stats,
    seconds: float,
    rate: float | None,
    tick: Callable[[float], None],
) -> None:
    """Run the mix for ``seconds``: closed loop (rate None) or paced at ``rate`` calls/s."""
    start = time.monotonic()
    end = start + seconds
    slots = itertools.count()
    lock = threading.Lock()

    def wait_turn() -> bool:
        if rate is None:
            return time.monotonic() < end
        with lock:
            at = start + next(slots) / rate
        if at >= end or time.monotonic() >= end:  # calls still owed at the end are dropped
            return False
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return True

    workers = [
        threading.Thread(target=workload.client, args=(i, stats, wait_turn), daemon=True)
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    while any(w.is_alive() for w in workers):
        time.sleep(0.5)
        tick(time.monotonic() - start)
    for worker in workers:
        worker.join()


# --- the run --------------------------------------------------------------------------------


def soak(
    data_dir: Path, minutes: float, threads: int, measure_seconds: float, concurrency: int
) -> int:
    with dpmatch_up(data_dir, concurrency) as (stack, root):
        print(f"soak: stack up in {data_dir} (dpmatch up pid {root.pid})", flush=True)
        investor, vendors = choose_vendors(8)
        workload = Workload(stack, vendors, investor)
        workload.prepare()
        print(
            f"soak: labs {', '.join(workload.labs)}; events: {investor} 0.1-0.2% of "
            f"{', '.join(vendors)}",
            flush=True,
        )

        # 1. the maximum: closed loop for measure_seconds
        probe = Stats()
        drive(workload, threads, probe, measure_seconds, None, lambda _: None)
        window = probe.take()
        maximum = len(window.latencies) / measure_seconds
        print(
            f"soak: maximum with {threads} threads over {measure_seconds:.0f} s: "
            f"{describe(window, window.started + measure_seconds)}",
            flush=True,
        )
        if window.errors:
            print("soak: errors while measuring: " + "; ".join(probe.first_errors), flush=True)
        rate = LOAD_FRACTION * maximum
        print(
            f"soak: running at {rate:.0f} calls/s ({LOAD_FRACTION:.0%}) for {minutes:g} min",
            flush=True,
        )

        # 2. the soak, paced
        stats = Stats()
        start_rss = stack_rss(root)
        print(f"  RSS MB at start: {rss_line(start_rss)}", flush=True)
        warm_rss: dict[tuple[str, int], int] = {}
        next_report = REPORT_EVERY

        def tick(elapsed: float) -> None:
            nonlocal next_report, warm_rss
            if not warm_rss and elapsed >= WARM_UP:
                warm_rss = stack_rss(root)
            if elapsed >= next_report:
                next_report += REPORT_EVERY
                window = stats.take()
                line = describe(window, time.monotonic())
                events = quantiles(window.by_kind.get("event", []))
                line += f"  (events p50 {events[0]:.0f} ms, p99 {events[1]:.0f} ms)"
                print(
                    f"[{elapsed:5.0f} s] {line}\n  RSS MB: {rss_line(stack_rss(root))}"
                    f"\n  {redis_line(stack)}",
                    flush=True,
                )

        drive(workload, threads, stats, minutes * 60, rate, tick)
        end_rss = stack_rss(root)
        total = stats.total
        elapsed = time.monotonic() - total.started
        warm_rss = warm_rss or start_rss

        print(f"\nsoak: {minutes:g} min at target {rate:.0f} calls/s (max measured {maximum:.0f})")
        print(f"  overall: {describe(total, total.started + elapsed)}")
        owed = rate * elapsed - len(total.latencies)
        behind = owed > BEHIND_LIMIT * rate * elapsed
        if owed > 0.01 * rate * elapsed:
            print(
                f"  behind schedule: {owed:.0f} calls owed at the end were not made "
                f"({owed / (rate * elapsed):.0%}; the limit is {BEHIND_LIMIT:.0%})"
            )
        print(f"  {redis_line(stack)}")
        for kind, latencies in sorted(total.by_kind.items()):
            p50, p99 = quantiles(latencies)
            print(f"  {kind:<7} {len(latencies):>8} calls  p50 {p50:6.1f} ms  p99 {p99:7.1f} ms")
        print(
            f"\n  {'process':<24} {'pid':>7} {'start MB':>9} {'1 min MB':>9} {'end MB':>9} "
            f"{'growth':>8}"
        )
        grown = []
        for key in sorted(set(start_rss) | set(end_rss)):
            name, pid = key
            base = warm_rss.get(key) or start_rss.get(key)
            end = end_rss.get(key)
            growth = f"{(end / base - 1):+.0%}" if base and end else "gone" if not end else "new"
            print(
                f"  {name:<24} {pid:>7} {mb(start_rss[key]) if key in start_rss else '-':>9} "
                f"{mb(warm_rss[key]) if key in warm_rss else '-':>9} "
                f"{mb(end) if end else '-':>9} {growth:>8}"
            )
            too_much = base and end and end > base * (1 + MAX_GROWTH) + MIN_GROWTH_MB * 2**20
            if too_much or not end or key not in start_rss:
                grown.append(f"{name}[{pid}] {growth}")
        errors = sum(total.errors.values())
        print(f"\n  errors: {errors}" + (f" ({dict(total.errors)})" if errors else ""))
        for line in stats.first_errors:
            print(f"    {line}")
        if grown:
            print(
                f"  RSS grew more than {MAX_GROWTH:.0%} after warm-up, or a process changed: "
                + ", ".join(grown)
            )
        failed = bool(errors or grown or behind)
        print(f"soak: {'FAILED' if failed else 'passed'}; stopping the stack", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--data-dir", type=Path, help="fresh directory (default: a temporary one)")
    parser.add_argument("--threads", type=int, default=16, help="client threads (calls in flight)")
    parser.add_argument("--measure-seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        if any(args.data_dir.iterdir()):
            parser.error(f"{args.data_dir} is not empty: the soak needs a fresh data directory")
        return soak(
            args.data_dir, args.minutes, args.threads, args.measure_seconds, args.concurrency
        )
    with tempfile.TemporaryDirectory(prefix="dpm-soak-") as directory:
        return soak(
            Path(directory), args.minutes, args.threads, args.measure_seconds, args.concurrency
        )


if __name__ == "__main__":
    sys.exit(main())

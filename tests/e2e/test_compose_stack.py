"""``docker-compose.yml``, run the closest way without a container engine.

Every dpmatch service of the file starts as a local process: its command
(``dpmatch <command>``) with the environment the file gives it, interpolated
from ``.env.example`` as an operator's ``.env`` would be (a fresh token secret,
this run's deployment name). Service hostnames map to loopback and ports stay
as in the file; this machine's PostgreSQL and Redis stand in for their
containers (fresh databases, this run's key prefix), and an OTLP receiver in
the test stands in for the collector. Services start in ``depends_on`` order,
each condition waited on as compose would (``service_healthy`` by running the
service's own healthcheck command); the scenario plays through the stack; then
every process gets the file's stop signal and must exit within its
``stop_grace_period``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.cli import seed as seed_cmd
from dpm.cli.stackfile import CLIENT_TOKENS_FILE, Stack
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.platform import auth
from dpm.platform.events import SCHEMA_VERSION, OwnershipChanged, Queue
from dpm.platform.outbox import celery_publisher
from tests.conftest import IN_CI, drop_postgres_database, postgres_database_url
from tests.e2e.test_scale_ai_scenario import META_STAKE, short

ROOT = Path(__file__).resolve().parents[2]
DPMATCH = [sys.executable, "-m", "dpm.cli.main"]
# The containers this machine's own servers stand in for, and where those listen.
STAND_INS = {"postgres": "127.0.0.1:5432", "redis": "127.0.0.1:6379"}
# Where the file's own services listen: a loopback address of their own, as each
# container has. On 127.0.0.1 a fixed port such as 50054 can be taken at any moment
# as the source port of some process's outgoing connection (the ephemeral range
# covers it); connections from here leave from 127.0.0.1, never from this address.
HOST = "127.0.0.2"
COLLECTOR = "otel-collector"
OTLP_PORT = 4317

pytestmark = pytest.mark.timeout(600)


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}``."""

    def value(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        current = env.get(name, "")
        if op == ":?" and not current:
            raise AssertionError(f"compose refuses to start: {name}: {arg}")
        return current if current or op != ":-" else arg

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", value, text)


def dotenv(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, val = line.partition("=")
            pairs[key.strip()] = val.strip()
    return pairs


def seconds(duration: str | None, default: float) -> float:
    if not duration:
        return default
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", str(duration))
    assert match, duration
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(2)]


def start_order(services: dict[str, Any]) -> list[str]:
    """Services in ``depends_on`` order (each after everything it depends on)."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"depends_on cycle: {' -> '.join((*path, name))}"
        if name in order:
            return
        for dependency in services[name].get("depends_on", {}):
            visit(dependency, (*path, name))
        order.append(name)

    for name in services:
        visit(name, ())
    return order


class Collector(
    trace_service_pb2_grpc.TraceServiceServicer, metrics_service_pb2_grpc.MetricsServiceServicer
):
    """Stands in for the OpenTelemetry Collector: keeps each trace's (service, span name)s,
    and the metrics' (service, metric name)s."""

    def __init__(self) -> None:
        self.traces: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.metrics: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
            with self._lock:
                for resource_metrics in request.resource_metrics:
                    service = next(
                        a.value.string_value
                        for a in resource_metrics.resource.attributes
                        if a.key == "service.name"
                    )
                    for scope_metrics in resource_metrics.scope_metrics:
                        for metric in scope_metrics.metrics:
                            self.metrics.add((service, metric.name))
            return metrics_service_pb2.ExportMetricsServiceResponse()
        with self._lock:
            for resource_spans in request.resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                )
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        spans = self.traces[span.trace_id.hex()]
                        spans.add((service, span.name))
                        # A database client's span also as "db:<system>" (its name is
                        # the statement's first word: SELECT, EVALSHA, ...).
                        spans.update(
                            (service, f"db:{a.value.string_value}")
                            for a in span.attributes
                            if a.key in ("db.system", "db.system.name")
                        )
        return trace_service_pb2.ExportTraceServiceResponse()

    def trace(self, trace_id: str) -> set[tuple[str, str]]:
        with self._lock:
            return set(self.traces.get(trace_id, ()))

    def services(self) -> set[str]:
        with self._lock:
            return {service for spans in self.traces.values() for service, _ in spans}


@contextmanager
def collector() -> Iterator[Collector]:
    receiver = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(receiver, server)
    server.add_insecure_port(f"{HOST}:{OTLP_PORT}")
    server.start()
    try:
        yield receiver
    finally:
        server.stop(0)


@dataclass
class Running:
    name: str
    service: dict[str, Any]
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class ComposeStack:
    """The file's dpmatch services as local processes."""

    compose: dict[str, Any]
    env: dict[str, str]
    databases: dict[str, str]
    logs: Path
    running: dict[str, Running] = field(default_factory=dict)

    def service_env(self, service: dict[str, Any]) -> dict[str, str]:
        env = {k: interpolate(str(v), self.env) for k, v in service["environment"].items()}
        for key, value in env.items():
            for host in self.compose["services"]:  # host:port, not a URL's scheme
                address = STAND_INS[host].partition(":")[0] if host in STAND_INS else HOST
                value = re.sub(rf"(?<![\w.-]){re.escape(host)}:(?=\d)", f"{address}:", value)
            env[key] = value
        if service.get("ports"):  # a container listens on its own address
            env["DPM_HOST"] = HOST
        if "DPM_DATABASE_URL" in env:  # postgresql://dpm:dpm@postgres:5432/<db> -> this run's
            env["DPM_DATABASE_URL"] = self.databases[env["DPM_DATABASE_URL"].rpartition("/")[2]]
        return env

    def start(self, name: str) -> None:
        service = self.compose["services"][name]
        for dependency, condition in service.get("depends_on", {}).items():
            self.wait(dependency, condition["condition"])
        if name in STAND_INS or name == COLLECTOR:
            return
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("DPM_", "OTEL_"))}
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [*DPMATCH, *service["command"]],
                env={**clean, **self.service_env(service)},
                cwd=self.logs,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.running[name] = Running(name, service, process, log)

    def wait(self, name: str, condition: str) -> None:
        if name in STAND_INS:
            host, _, port = STAND_INS[name].partition(":")
            socket.create_connection((host, int(port)), timeout=5).close()
            return
        if name == COLLECTOR:
            return  # the test's receiver is up before anything starts
        running = self.running[name]
        if condition == "service_started":
            assert running.process.poll() is None, self.tail(name)
        elif condition == "service_completed_successfully":
            code = running.process.wait(timeout=120)
            assert code == 0, f"{name} exited {code}:\n{self.tail(name)}"
        else:
            assert condition == "service_healthy", condition
            self.healthy(running)

    def healthy(self, running: Running) -> None:
        """The service's healthcheck command, as compose runs it (retries after start_period)."""
        check = running.service["healthcheck"]
        kind, program, *args = check["test"]
        assert kind == "CMD" and program == "dpmatch", check["test"]
        deadline = time.monotonic() + seconds(check.get("start_period"), 0)
        deadline += seconds(check.get("interval"), 30) * int(check.get("retries", 3))
        while True:
            assert running.process.poll() is None, self.tail(running.name)
            probe = subprocess.run(
                [*DPMATCH, *(a.replace("127.0.0.1:", f"{HOST}:") for a in args)],
                capture_output=True,
                timeout=seconds(check.get("timeout"), 30) + 10,
            )
            if probe.returncode == 0:
                return
            assert time.monotonic() < deadline, f"{running.name} never healthy"
            time.sleep(seconds(check.get("interval"), 30) / 5)

    def stop(self) -> dict[str, int | None]:
        """The stop signal to every process, in reverse start order; each one's exit code
        (None: still running after its grace period, so killed)."""
        ended: dict[str, int | None] = {}
        for running in reversed(list(self.running.values())):
            if running.process.poll() is not None:
                ended[running.name] = running.process.returncode
                continue
            stop_signal = getattr(signal, running.service.get("stop_signal", "SIGTERM"))
            grace = seconds(running.service.get("stop_grace_period"), 10)
            running.process.send_signal(stop_signal)
            try:
                code: int | None = running.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                running.process.kill()  # what compose does after the grace period
                running.process.wait()
                code = None
            ended[running.name] = code
        return ended

    def tail(self, name: str) -> str:
        return self.running[name].log.read_text(errors="replace")[-3000:]


def free(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) != 0


def test_the_compose_file_runs_and_plays_the_scenario(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    # What a plain `docker compose up` starts: services with `profiles` (observability)
    # start only when their profile is asked for.
    compose["services"] = {n: s for n, s in compose["services"].items() if not s.get("profiles")}
    published = [
        int(str(p).partition(":")[0])
        for s in compose["services"].values()
        for p in s.get("ports", [])
    ]
    busy = [p for p in [*published, OTLP_PORT] if not free(f"{HOST}:{p}")]
    if busy:
        if IN_CI:
            pytest.fail(f"the compose file's ports are taken: {busy}")
        pytest.skip(f"the compose file's ports are taken here: {busy}")
    missing = [name for name, address in STAND_INS.items() if free(address)]
    if missing:
        if IN_CI:
            pytest.fail(f"CI has nothing to stand in for {missing}")
        pytest.skip(f"nothing here stands in for {missing} ({STAND_INS})")
    databases = {name: postgres_database_url() for name in ("catalog", "requirements")}
    if None in databases.values():
        pytest.skip("no PostgreSQL to stand in for the compose file's")
    deployment = f"compose{uuid.uuid4().hex[:8]}"
    env = {
        **dotenv(ROOT / ".env.example"),
        "DPM_TOKEN_SECRET": secrets.token_urlsafe(32),
        "DPM_DEPLOYMENT": deployment,
        # Exports while the run lasts, not only the flush at the end (gauges of objects
        # closed on the way out have nothing to say then).
        "OTEL_METRIC_EXPORT_INTERVAL": "2000",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    stack = ComposeStack(compose, env, {k: str(v) for k, v in databases.items()}, logs)
    try:
        with collector() as otlp:
            try:
                for name in start_order(compose["services"]):
                    stack.start(name)
                for running in stack.running.values():  # every one comes up
                    if "healthcheck" in running.service:
                        stack.healthy(running)
                trace_id = play(compose, env, tmp_path)
                # A message no worker can read (a schema version from the future) is
                # dropped and counted, not retried forever.
                publish = celery_publisher(f"redis://{STAND_INS['redis']}/0", deployment)
                publish(OwnershipChanged.TASK, Queue.REMATCH, {"v": SCHEMA_VERSION + 1})
                # One trace from the recording call to the re-matched set, across processes.
                deadline = time.monotonic() + 30
                while absent := END_TO_END - spans_by_role(otlp.trace(trace_id)):
                    assert time.monotonic() < deadline, (
                        f"missing {sorted(absent)} from {sorted(otlp.trace(trace_id))}"
                    )
                    time.sleep(0.5)
            finally:
                ended = stack.stop()
        services = otlp.services()
        exported = spans_by_role(otlp.metrics)
    finally:
        for url in databases.values():
            if url:
                drop_postgres_database(url)
    for name, code in ended.items():
        service = compose["services"][name]
        if service.get("restart") == "no":
            assert code == 0, f"{name} exited {code}"
            continue
        grace = seconds(service.get("stop_grace_period"), 10)
        assert code is not None, (
            f"{name} was killed after its {grace:.0f} s grace:\n{stack.tail(name)}"
        )
        assert code in (0, -signal.SIGTERM), f"{name} exited {code}:\n{stack.tail(name)}"
    # Every service's spans reached the collector the file points them at.
    assert {f"dpm-{n}" for n in ("catalog", "requirements", "neutrality", "matching")} <= services
    # And the metrics an operator watches, the workers' flushed as their processes end.
    assert exported >= OPERATOR_METRICS, sorted(exported)


OPERATOR_METRICS = {
    ("dpm-catalog", "dpm.ledger.events"),
    ("dpm-catalog", "dpm.outbox.backlog"),
    ("dpm-catalog", "dpm.outbox.published"),
    ("dpm-matching", "dpm.recommendations.reads"),
    ("dpm-worker", "dpm.worker.task_duration"),
    ("dpm-worker", "dpm.rematch.clients"),
    ("dpm-worker", "dpm.rematch.event_to_fresh"),
    ("dpm-catalog", "dpm.worker.queue_depth"),
    ("dpm-worker", "dpm.worker.dead_messages"),
}


# (service, span) that the trace of a recorded ownership event must hold: the call and
# its SQL, the outbox relay's publish, the worker's re-match (either worker process), its
# reads and its Redis writes, and the notice a watching lab receives.
END_TO_END = {
    ("dpm-catalog", "/dpm.catalog.v1.CatalogService/RecordOwnershipEvent"),
    ("dpm-catalog", "db:postgresql"),
    ("dpm-catalog", "apply_async/dpm.ownership_changed"),
    ("dpm-worker", "run/dpm.ownership_changed"),
    ("dpm-worker", "run/dpm.rematch_clients"),
    ("dpm-worker", "dpm.matching.build"),
    ("dpm-worker", "db:redis"),
    ("dpm-worker", "/dpm.neutrality.v1.NeutralityService/ScorePolicy"),
    ("dpm-neutrality", "/dpm.neutrality.v1.NeutralityService/ScorePolicy"),
    ("dpm-requirements", "/dpm.requirements.v1.RequirementsService/BatchGetClients"),
    ("dpm-requirements", "db:postgresql"),
    ("dpm-matching", "dpm.matching.watch_notice"),
}


def spans_by_role(spans: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """(service, span or metric) pairs with both worker services (``worker``,
    ``worker-beat``) as one."""
    return {("dpm-worker" if s.startswith("dpm-worker") else s, name) for s, name in spans}


def play(compose: dict[str, Any], env: dict[str, str], data_dir: Path) -> str:
    """Seed from the host (as deploy/README.md says), record Meta's stake in a trace of
    the test's own, and see the worker re-match Google's set without Scale AI; the
    trace id."""
    addresses = {}
    for name in ("catalog", "requirements", "neutrality", "matching"):
        (port,) = compose["services"][name]["ports"]
        addresses[name] = f"{HOST}:{str(port).partition(':')[0]}"
    admin = auth.admin_token(env["DPM_TOKEN_SECRET"])
    seed_cmd.seed(Stack(addresses, admin, ""), data_dir)
    google = json.loads((data_dir / CLIENT_TOKENS_FILE).read_text())["google"]
    name = "clients/google/recommendations"
    with Stack(addresses, google, "").channel("matching") as channel:
        matching = matching_pb2_grpc.MatchingServiceStub(channel)
        # Google's data team watches its set; the notice ends the event's trace.
        watch = matching.WatchRecommendations(
            matching_pb2.WatchRecommendationsRequest(name=name), timeout=60
        )
        before = next(watch)
        assert "scale-ai" in [short(r.vendor) for r in before.ranked]
        trace_id = secrets.token_hex(16)
        with Stack(addresses, admin, "").channel("catalog") as catalog:
            recorded = catalog_pb2_grpc.CatalogServiceStub(catalog).RecordOwnershipEvent(
                catalog_pb2.RecordOwnershipEventRequest(event=META_STAKE),
                metadata=(("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01"),),
            )
        after = next(watch)
        while after.versions.graph_version < recorded.graph_version:
            after = next(watch)
        # Closing the channel ends the watch.
    assert "scale-ai" not in [short(r.vendor) for r in after.ranked]
    return trace_id

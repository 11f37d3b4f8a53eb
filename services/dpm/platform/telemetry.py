"""OpenTelemetry tracing and metrics, configured by the standard OTEL_* variables.

Exporting is on when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER /
OTEL_METRICS_EXPORTER) is set; otherwise spans are still created, so logs carry
trace ids, but nothing is sent anywhere.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

_configured = False


def _exporter_choice(kind: str) -> str:
    explicit = os.environ.get(f"OTEL_{kind}_EXPORTER", "")
    if explicit:
        return explicit.split(",")[0].strip()
    return "otlp" if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else "none"


def _span_exporter() -> SpanExporter | None:
    choice = _exporter_choice("TRACES")
    if choice == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if choice == "console":
        return ConsoleSpanExporter()
    return None


def _metric_reader() -> MetricReader | None:
    choice = _exporter_choice("METRICS")
    if choice == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return PeriodicExportingMetricReader(OTLPMetricExporter())
    if choice == "console":
        return PeriodicExportingMetricReader(ConsoleMetricExporter())
    return None


def configure_telemetry(service: str, metrics_port: int = 0, metrics_host: str = "") -> None:
    """Install tracer and meter providers once per process (call after any fork); with a
    ``metrics_port``, also serve the metrics for Prometheus there (GET /metrics)."""
    global _configured
    if _configured:
        return
    _configured = True
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    tracer_provider = TracerProvider(resource=resource)
    exporter = _span_exporter()
    if exporter is not None:
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    readers = [r for r in (_metric_reader(),) if r is not None]
    if metrics_port:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        readers.append(PrometheusMetricReader())
        start_http_server(metrics_port, addr=metrics_host or "127.0.0.1")
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    instrument_storage()


def instrument_storage() -> None:
    """Spans for every Redis command (arguments replaced by "?") and SQL statement, in the
    trace of the call or task that runs it. Engines made before this call are not traced:
    it comes first in a process (``configure_telemetry``). OTEL_PYTHON_DISABLED_
    INSTRUMENTATIONS=redis,sqlalchemy turns either off (each span costs ~20 us)."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The standard switch of OpenTelemetry's auto-instrumentation, honoured here too.
    disabled = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    for name, instrumentor in (
        ("redis", RedisInstrumentor()),
        ("sqlalchemy", SQLAlchemyInstrumentor()),
    ):
        if name in {d.strip() for d in disabled.split(",")}:
            continue
        if not instrumentor.is_instrumented_by_opentelemetry:
            # The SQLAlchemy instrumentation declares "< 2.1" and would refuse 2.1;
            # it uses only the engine events 2.1 keeps (the compose test sees its spans).
            instrumentor.instrument(skip_dep_check=True)


def shutdown_telemetry() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        meter_provider.shutdown()


tracer = trace.get_tracer("dpm")
meter = metrics.get_meter("dpm")

# The few numbers an operator watches; all names start with "dpm.".


class Tally:
    """A counter for a hot path: each attribute set is a plain integer, reported when
    metrics are collected (an observable counter). The SDK's synchronous ``add``
    cost about 5 us per call, x5 under load: a fifth of a cache hit's own work."""

    def __init__(self, name: str, description: str) -> None:
        self._counts: dict[tuple[tuple[str, str], ...], int] = {}
        self._lock = threading.Lock()
        meter.create_observable_counter(name, callbacks=[self._observe], description=description)

    def counter(self, **attributes: str) -> Callable[[], None]:
        """Adds one to the count of ``attributes`` each time it is called."""
        key = tuple(sorted(attributes.items()))
        self._counts.setdefault(key, 0)

        def add() -> None:
            with self._lock:
                self._counts[key] += 1

        return add

    def _observe(self, _options: CallbackOptions) -> list[Observation]:
        with self._lock:
            counts = list(self._counts.items())
        return [Observation(value, dict(key)) for key, value in counts]


# Histogram buckets for durations in seconds (the SDK's defaults, 0-5-10-25..., are made
# for milliseconds).
SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

recommendation_reads = Tally(
    "dpm.recommendations.reads", "GetRecommendations answers, by cache outcome"
)
count_memory_hit = recommendation_reads.counter(cache="hit", tier="memory")
count_redis_hit = recommendation_reads.counter(cache="hit", tier="redis")
count_miss = recommendation_reads.counter(cache="miss")
recommendation_computations = meter.create_histogram(
    "dpm.recommendations.compute_duration",
    unit="s",
    description="One computation of clients' sets (a chunk in a worker, one client on a miss)",
    explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
)
ledger_events = meter.create_counter(
    "dpm.ledger.events", description="Ownership events recorded (replays not counted)"
)
outbox_published = meter.create_counter(
    "dpm.outbox.published", description="Outbox rows handed to the broker"
)
rematched_clients = meter.create_counter(
    "dpm.rematch.clients", description="Clients re-matched by the workers, by trigger"
)

limit_refusals = meter.create_counter(
    "dpm.calls.refused", description="Calls refused for a limit (RESOURCE_EXHAUSTED), by caller"
)
task_duration = meter.create_histogram(
    "dpm.worker.task_duration",
    unit="s",
    description="Celery task runs, by task and outcome",
    explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
)
task_retries = meter.create_counter(
    "dpm.worker.task_retries", description="Celery tasks put back for a retry, by task"
)
dead_messages = meter.create_counter(
    "dpm.worker.dead_messages",
    description="Tasks that failed for good, by task: acknowledged late, their message is "
    "gone (a failure worth a retry is retried instead: dpm.worker.task_retries)",
)
event_to_fresh = meter.create_histogram(
    "dpm.rematch.event_to_fresh",
    unit="s",
    description="From an ownership event's commit to a chunk of the clients it affects "
    "holding re-matched sets (one sample per chunk; the largest is the event's)",
    explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
)

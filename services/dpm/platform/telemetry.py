"""OpenTelemetry tracing and metrics, configured by the standard OTEL_* variables.

Exporting is on when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER /
OTEL_METRICS_EXPORTER) is set; otherwise spans are still created, so logs carry
trace ids, but nothing is sent anywhere.
"""

from __future__ import annotations

import os

from opentelemetry import metrics, trace
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


def configure_telemetry(service: str) -> None:
    """Install tracer and meter providers once per process (call after any fork)."""
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
    reader = _metric_reader()
    metrics.set_meter_provider(
        MeterProvider(resource=resource, metric_readers=[reader] if reader else [])
    )


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
recommendation_reads = meter.create_counter(
    "dpm.recommendations.reads", description="GetRecommendations answers, by cache outcome"
)
recommendation_computations = meter.create_histogram(
    "dpm.recommendations.compute_duration",
    unit="s",
    description="One computation of clients' sets (a chunk in a worker, one client on a miss)",
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

"""The matching server's own tracing (not OpenTelemetry's aio interceptor: see
``dpm.platform.aio_interceptors``), seen from outside: the server runs as its own
process with the console span exporter, as an operator would run it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from opentelemetry import context as otel_context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from dpm.matching.cache import RecommendationCache
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.matching.v1.matching_pb2 import SourceVersions
from dpm.platform import auth

pytestmark = pytest.mark.timeout(60)

METHOD = "dpm.matching.v1.MatchingService/GetRecommendations"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
WRITER_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
WRITER_SPAN_ID = "b7ad6b7169203331"


def _spans(text: str) -> list[dict[str, Any]]:
    """The JSON objects the console exporter printed, one per span."""
    decoder, spans, at = json.JSONDecoder(), [], 0
    while (start := text.find("{", at)) != -1:
        span, at = decoder.raw_decode(text, start)
        spans.append(span)
    return spans


@contextmanager
def matching_server(
    tmp_path: Path, token_secret: str, redis_url: str, deployment: str, out: list[str]
) -> Iterator[str]:
    """The matching server as its own process, printing its spans (console exporter);
    its address. What it printed lands in ``out`` once it has stopped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DPM_", "OTEL_"))}
    env |= {
        "DPM_TOKEN_SECRET": token_secret,
        "DPM_REDIS_URL": redis_url,
        "DPM_DEPLOYMENT": deployment,
        "DPM_PORT": "0",
        "DPM_HOST": "127.0.0.1",
        "DPM_DATA_DIR": str(tmp_path),
        "OTEL_TRACES_EXPORTER": "console",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "dpm.matching.server"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        port = ""
        deadline = time.monotonic() + 30
        while not port and time.monotonic() < deadline:
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", server.stderr.readline())
            port = found.group(1) if found else ""
        assert port, "the matching server did not start"
        yield f"127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        printed, _ = server.communicate(timeout=30)
        out.append(printed)


def test_each_call_is_one_server_span_in_the_callers_trace(
    tmp_path: Path, token_secret: str, redis_url: str, redis_namespace: str
) -> None:
    deployment = redis_namespace.split(":")[1]
    # A set in the cache, so that the call is a hit (no upstream runs here).
    cache = RecommendationCache(redis.Redis.from_url(redis_url), f"{deployment}:")
    cache.put(
        matching_pb2.RecommendationSet(
            name="clients/google/recommendations",
            versions=matching_pb2.SourceVersions(graph_version=1),
        )
    )
    out: list[str] = []
    try:
        with matching_server(tmp_path, token_secret, redis_url, deployment, out) as address:
            token = auth.client_token(token_secret, "clients/google")
            metadata = [
                ("authorization", f"Bearer {token}"),
                ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
            ]
            with grpc.insecure_channel(address) as channel:
                stub = matching_pb2_grpc.MatchingServiceStub(channel)
                for name in ("google", "microsoft"):  # a hit, then another lab's: denied
                    request = matching_pb2.GetRecommendationsRequest(
                        name=f"clients/{name}/recommendations"
                    )
                    try:
                        stub.GetRecommendations(request, metadata=metadata, timeout=10)
                    except grpc.RpcError as err:
                        assert err.code() is grpc.StatusCode.PERMISSION_DENIED
    finally:
        cache.delete("google")
    ok, denied = [s for s in _spans(out[0]) if s["name"] == METHOD]
    for span in (ok, denied):
        assert span["kind"] == "SpanKind.SERVER"
        assert span["context"]["trace_id"] == f"0x{TRACE_ID}"
        assert span["parent_id"] == f"0x{PARENT_ID}"
        assert span["attributes"]["rpc.system"] == "grpc"
        assert span["attributes"]["rpc.method"] == "GetRecommendations"
    assert ok["attributes"]["rpc.grpc.status_code"] == 0
    assert denied["attributes"]["rpc.grpc.status_code"] == 7
    assert denied["status"]["status_code"] == "UNSET"  # the caller's error, not the server's


def test_a_watch_notice_is_a_span_in_the_trace_of_the_write_it_announces(
    tmp_path: Path, token_secret: str, redis_url: str, redis_namespace: str
) -> None:
    deployment = redis_namespace.split(":")[1]
    cache = RecommendationCache(redis.Redis.from_url(redis_url), f"{deployment}:")
    name = "clients/google/recommendations"
    cache.put(matching_pb2.RecommendationSet(name=name, versions=SourceVersions(graph_version=1)))
    # The writer (a worker's re-match, in the trace of an ownership event).
    writer = SpanContext(
        int(WRITER_TRACE_ID, 16),
        int(WRITER_SPAN_ID, 16),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    out: list[str] = []
    try:
        with matching_server(tmp_path, token_secret, redis_url, deployment, out) as address:
            token = auth.client_token(token_secret, "clients/google")
            metadata = [
                ("authorization", f"Bearer {token}"),
                ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
            ]
            with grpc.insecure_channel(address) as channel:
                watch = matching_pb2_grpc.MatchingServiceStub(channel).WatchRecommendations(
                    matching_pb2.WatchRecommendationsRequest(name=name),
                    metadata=metadata,
                    timeout=20,
                )
                assert next(watch).versions.graph_version == 1
                token_ = otel_context.attach(set_span_in_context(NonRecordingSpan(writer)))
                try:
                    cache.put(
                        matching_pb2.RecommendationSet(
                            name=name, versions=SourceVersions(graph_version=2)
                        )
                    )
                finally:
                    otel_context.detach(token_)
                assert next(watch).versions.graph_version == 2
                watch.cancel()
    finally:
        cache.delete("google")
    (notice,) = [s for s in _spans(out[0]) if s["name"] == "dpm.matching.watch_notice"]
    assert notice["context"]["trace_id"] == f"0x{WRITER_TRACE_ID}"
    assert notice["parent_id"] == f"0x{WRITER_SPAN_ID}"
    assert notice["attributes"]["dpm.client"] == "google"
    assert notice["attributes"]["dpm.graph_version"] == 2
    # Linked to the watch call's span, in the watcher's own trace.
    assert [link["context"]["trace_id"] for link in notice["links"]] == [f"0x{TRACE_ID}"]

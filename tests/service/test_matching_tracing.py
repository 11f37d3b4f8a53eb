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
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis

from dpm.matching.cache import RecommendationCache
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.platform import auth

pytestmark = pytest.mark.timeout(60)

METHOD = "dpm.matching.v1.MatchingService/GetRecommendations"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def _spans(text: str) -> list[dict[str, Any]]:
    """The JSON objects the console exporter printed, one per span."""
    decoder, spans, at = json.JSONDecoder(), [], 0
    while (start := text.find("{", at)) != -1:
        span, at = decoder.raw_decode(text, start)
        spans.append(span)
    return spans


def test_each_call_is_one_server_span_in_the_callers_trace(
    tmp_path: Path, token_secret: str, redis_url: str, redis_namespace: str
) -> None:
    deployment = redis_namespace.split(":")[1]
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
    # A set in the cache, so that the call is a hit (no upstream runs here).
    cache = RecommendationCache(redis.Redis.from_url(redis_url), f"{deployment}:")
    cache.put(
        matching_pb2.RecommendationSet(
            name="clients/google/recommendations",
            versions=matching_pb2.SourceVersions(graph_version=1),
        )
    )
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
        token = auth.client_token(token_secret, "clients/google")
        metadata = [
            ("authorization", f"Bearer {token}"),
            ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
        ]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
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
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=30)
        cache.delete("google")
    ok, denied = [s for s in _spans(out) if s["name"] == METHOD]
    for span in (ok, denied):
        assert span["kind"] == "SpanKind.SERVER"
        assert span["context"]["trace_id"] == f"0x{TRACE_ID}"
        assert span["parent_id"] == f"0x{PARENT_ID}"
        assert span["attributes"]["rpc.system"] == "grpc"
        assert span["attributes"]["rpc.method"] == "GetRecommendations"
    assert ok["attributes"]["rpc.grpc.status_code"] == 0
    assert denied["attributes"]["rpc.grpc.status_code"] == 7
    assert denied["status"]["status_code"] == "UNSET"  # the caller's error, not the server's

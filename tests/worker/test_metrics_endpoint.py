"""A server's metrics, scraped the way Prometheus does (DPM_METRICS_PORT)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import grpc
from prometheus_client.parser import text_string_to_metric_families

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.platform.embedded_redis import free_port
from tests.inprocess import wait_serving

DPMATCH = [sys.executable, "-m", "dpm.cli.main"]


def _scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Sample name -> {sorted labels (the OpenTelemetry scope's left out): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if not k.startswith("otel_scope_")}
            samples.setdefault(sample.name, {})[tuple(sorted(labels.items()))] = sample.value
    return samples


def test_the_catalog_serves_its_metrics_for_prometheus(tmp_path: Path, redis_url: str) -> None:
    secret = secrets.token_urlsafe(32)
    port, metrics_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DPM_", "OTEL_"))},
        "DPM_TOKEN_SECRET": secret,
        "DPM_REDIS_URL": redis_url,
        "DPM_DEPLOYMENT": f"metrics{uuid.uuid4().hex[:8]}",
        "DPM_DATA_DIR": str(tmp_path),
        "DPM_HOST": "127.0.0.1",
        "DPM_PORT": str(port),
        "DPM_METRICS_PORT": str(metrics_port),
        # The broker is down: what was recorded stays in the outbox, and the backlog shows it.
        "DPM_BROKER_URL": "redis://127.0.0.1:1/0",
    }
    log = tmp_path / "catalog.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [*DPMATCH, "serve", "catalog"], env=env, stdout=out, stderr=out, cwd=tmp_path
        )
    try:
        wait_serving(f"127.0.0.1:{port}", timeout=60)
        metadata = (("authorization", f"Bearer {auth.admin_token(secret)}"),)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
            for org in ("meta", "scale-ai"):
                catalog.CreateOrganization(
                    catalog_pb2.CreateOrganizationRequest(
                        organization_id=org,
                        organization=catalog_pb2.Organization(
                            display_name=org, kind=catalog_pb2.ORGANIZATION_KIND_VENDOR
                        ),
                    ),
                    metadata=metadata,
                )
            event = ownership_pb2.OwnershipEvent(event_id="e1", effective_date="2025-06-12")
            event.stake_acquired.holder = "organizations/meta"
            event.stake_acquired.held = "organizations/scale-ai"
            event.stake_acquired.equity_fraction = 0.49
            catalog.RecordOwnershipEvent(
                catalog_pb2.RecordOwnershipEventRequest(event=event), metadata=metadata
            )
        time.sleep(1.5)
        samples = _scrape(metrics_port)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert samples["dpm_ledger_events_total"][()] == 1, sorted(samples)
    backlog = samples["dpm_outbox_backlog"]
    # Two organizations and one event announced, none published.
    assert backlog[(("measure", "rows"),)] == 3, backlog
    assert backlog[(("measure", "oldest_seconds"),)] >= 1.0, backlog

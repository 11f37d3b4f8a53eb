"""Every line a dpmatch process writes is one JSON log record (Celery's included)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from dpm.platform.embedded_redis import free_port
from tests.inprocess import wait_serving

DPMATCH = [sys.executable, "-m", "dpm.cli.main"]


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]


def _not_json(lines: list[str]) -> list[str]:
    bad = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not {"time", "level", "name", "message", "service"} <= set(record):
            bad.append(line)
    return bad


def test_a_worker_and_a_server_write_only_json_lines(tmp_path: Path, redis_url: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DPM_", "OTEL_"))},
        "DPM_TOKEN_SECRET": secrets.token_urlsafe(32),
        "DPM_REDIS_URL": redis_url,
        "DPM_DEPLOYMENT": f"jsonlogs{uuid.uuid4().hex[:8]}",
        "DPM_DATA_DIR": str(tmp_path),
        # Python's warnings shown, as a developer's shell may: they must be JSON too.
        "PYTHONWARNINGS": "default",
    }
    port = free_port()
    outputs = {}
    processes = {}
    for name, args, extra in (
        ("worker", ["worker", "--concurrency", "1"], {}),
        ("catalog", ["serve", "catalog"], {"DPM_PORT": str(port), "DPM_HOST": "127.0.0.1"}),
    ):
        out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        outputs[name] = (out, err)
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            processes[name] = subprocess.Popen(
                [*DPMATCH, *args], env={**env, **extra}, stdout=stdout, stderr=stderr, cwd=tmp_path
            )
    try:
        wait_serving(f"127.0.0.1:{port}", timeout=60)
        deadline = time.monotonic() + 60
        while not any("ready" in line for line in _lines(outputs["worker"][1])):
            assert processes["worker"].poll() is None, outputs["worker"][1].read_text()
            assert time.monotonic() < deadline, "the worker never said it was ready"
            time.sleep(0.2)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            process.wait(timeout=60)
    for name, (out, err) in outputs.items():
        lines = _lines(out) + _lines(err)
        assert lines, f"{name} wrote nothing"
        assert not _not_json(lines), f"{name}: {_not_json(lines)[:5]}"

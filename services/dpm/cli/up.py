"""`dpmatch up`: the whole system as child processes on one machine.

Migrations run in the servers at start; Redis is an embedded redis-server
unless DPM_REDIS_URL names one; the token secret is generated once and kept
in the data directory (or DPM_TOKEN_SECRET, which must pass the servers'
rules). The admin token it prints expires after 30 days and is minted anew at
every start. Ctrl-C or SIGTERM stops everything, servers first.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpm.cli.stackfile import Stack
from dpm.platform import auth
from dpm.platform.config import DEFAULT_PORTS, GENERATE_HINT, secret_problem
from dpm.platform.embedded_redis import EmbeddedRedis, free_port, start_embedded_redis
from dpm.platform.files import write_private

SERVERS = ("catalog", "requirements", "neutrality", "matching")
START_TIMEOUT = 90.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


def new_secret() -> str:
    while True:  # a random one almost never spells a placeholder word; never use one that does
        secret = secrets.token_urlsafe(32)
        if secret_problem(secret) is None:
            return secret


def token_secret(directory: Path) -> str:
    if os.environ.get("DPM_TOKEN_SECRET"):
        secret, where = os.environ["DPM_TOKEN_SECRET"], "DPM_TOKEN_SECRET"
    else:
        path = directory / "token-secret"
        if not path.exists():
            write_private(path, new_secret())
        secret, where = path.read_text().strip(), str(path)
    if problem := secret_problem(secret):
        raise SystemExit(f"dpmatch: the token secret in {where} {problem}{GENERATE_HINT}")
    return secret


def serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


class LocalStack:
    def __init__(self, directory: Path, auto_ports: bool, worker_concurrency: int) -> None:
        self.dir = directory
        self.auto_ports = auto_ports
        self.worker_concurrency = worker_concurrency
        self.children: list[Child] = []
        self.redis: EmbeddedRedis | None = None
        self.stopping = threading.Event()
        self.owns_stack_file = False

    def _addresses(self) -> dict[str, str]:
        addresses = {}
        for name in SERVERS:
            env = os.environ.get(f"DPM_{name.upper()}_ADDR")
            port = free_port() if self.auto_ports else DEFAULT_PORTS[name]
            addresses[name] = env or f"127.0.0.1:{port}"
        return addresses

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        logs = self.dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "dpm.cli.main", *args],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us; we stop children in order
            )
        self.children.append(Child(name, process))

    def refuse_if_running(self) -> None:
        if not (self.dir / "stack.json").exists():
            return
        running = [a for a in Stack.load(self.dir).addresses.values() if serving(a)]
        if running:
            raise SystemExit(
                f"dpmatch: a stack using {self.dir} is already running ({', '.join(running)}); "
                "stop it first, or set DPM_DATA_DIR to another directory"
            )

    def start(self) -> Stack:
        secret = token_secret(self.dir)
        redis_url = os.environ.get("DPM_REDIS_URL", "")
        if not redis_url:
            self.redis = start_embedded_redis(self.dir / "redis")
            redis_url = self.redis.url
        addresses = self._addresses()
        env = {
            **os.environ,
            "DPM_TOKEN_SECRET": secret,
            "DPM_DATA_DIR": str(self.dir.resolve()),
            "DPM_REDIS_URL": redis_url,
            **{f"DPM_{name.upper()}_ADDR": addr for name, addr in addresses.items()},
        }
        for name in SERVERS:
            port = addresses[name].rpartition(":")[2]
            self._spawn(name, ["serve", name], {**env, "DPM_HOST": "127.0.0.1", "DPM_PORT": port})
        self._spawn(
            "worker", ["worker", "--beat", "--concurrency", str(self.worker_concurrency)], env
        )
        stack = Stack(addresses, auth.admin_token(secret), redis_url)
        stack.save(self.dir)
        self.owns_stack_file = True
        self._wait_ready(addresses)
        return stack

    def _wait_ready(self, addresses: dict[str, str]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        pending = dict(addresses)
        while pending:
            self.check_children()
            pending = {n: a for n, a in pending.items() if not serving(a)}
            if pending and time.monotonic() > deadline:
                raise SystemExit(
                    f"dpmatch: {', '.join(pending)} not serving after {START_TIMEOUT:.0f}s; "
                    f"see {self.dir / 'logs'}"
                )
            if pending:
                time.sleep(0.2)

    def check_children(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is not None and not self.stopping.is_set():
                raise SystemExit(
                    f"dpmatch: {child.name} exited with code {code}; "
                    f"see {self.dir / 'logs' / (child.name + '.log')}"
                )

    def stop(self) -> None:
        self.stopping.set()
        # Servers and worker drain in parallel; then the cache they all use.
        for child in self.children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in self.children:
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if self.redis:
            self.redis.stop()
        if self.owns_stack_file:
            (self.dir / "stack.json").unlink(missing_ok=True)


def print_banner(stack: Stack, directory: Path) -> None:
    width = max(len(s) for s in stack.addresses)
    print("dpmatch is up:")
    for name, address in stack.addresses.items():
        print(f"  {name:<{width}}  {address}")
    print(f"  {'redis':<{width}}  {stack.redis_url}")
    print(
        f"\nadmin token, valid 30 days (also in {directory / 'stack.json'}):\n  {stack.admin_token}"
    )
    print("more tokens: dpmatch token issue --role lab|auditor|admin --subject ...")
    print(f"logs: {directory / 'logs'}/   stop with Ctrl-C\n")
    print(
        'try:  grpcurl -plaintext -H "authorization: Bearer $TOKEN" '
        f"{stack.addresses['catalog']} dpm.catalog.v1.CatalogService/ListOrganizations\n",
        flush=True,
    )


def run_up(seed: bool, demo: bool, exit_after: bool, auto_ports: bool, concurrency: int) -> int:
    from dpm.cli import demo as demo_cmd
    from dpm.cli import seed as seed_cmd

    directory = Path(os.environ.get("DPM_DATA_DIR", ".dpmatch"))
    local = LocalStack(directory, auto_ports, concurrency)
    local.refuse_if_running()

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # unwinds to the finally below, wherever we are

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack = local.start()
        print_banner(stack, directory)
        if seed or demo:
            seed_cmd.seed(stack, directory)
        if demo:
            demo_cmd.play(Stack.load(directory))
        while not exit_after:
            time.sleep(0.5)
            local.check_children()
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping dpmatch ...", flush=True)
        local.stop()
        print("stopped.", flush=True)
    return 0

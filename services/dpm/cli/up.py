"""`dpmatch up`: the whole system as supervised child processes on one machine.

Migrations run in the servers at start; Redis is an embedded redis-server
unless DPM_REDIS_URL names one; the token secret is generated once and kept
in the data directory (or DPM_TOKEN_SECRET, which must pass the servers'
rules). The admin token it prints expires after 30 days and is minted anew at
every start.

Supervision: a child that exits on its own (a server, the worker, the
embedded Redis) is restarted after a delay that doubles from 0.5 s to 30 s
and falls back once it has run for a minute; one that crashes 5 times in a row
stops everything, with a non-zero exit. Each child runs in its own process
group, killed whole when it exits (the worker's pool and scheduler included),
and ends by itself if `dpmatch up` is killed (``dpm.cli.supervised``: a
parent-death signal). Ctrl-C or SIGTERM stops everything: servers first, then
the worker, then Redis.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dpm.cli.stackfile import Stack
from dpm.platform import auth, grpc_client
from dpm.platform.config import DEFAULT_PORTS, GENERATE_HINT, load, secret_problem
from dpm.platform.embedded_redis import free_port, start_embedded_redis
from dpm.platform.files import write_private
from dpm.platform.tls import TlsSettings

SERVERS = ("catalog", "requirements", "neutrality", "matching")
START_TIMEOUT = 90.0
# Seconds each stage of a stop may take before its processes are killed.
SERVER_STOP_SECONDS = 20.0
WORKER_STOP_SECONDS = 30.0


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 0.5
    max_delay: float = 30.0
    # A child that ran this long is well again: its delay and crash count reset.
    stable_after: float = 60.0
    # Consecutive crashes (none of them after a stable run) before giving up.
    max_crashes: int = 5


def supervised(command: list[str]) -> list[str]:
    """``command`` run so that it ends when this process does (see dpm.cli.supervised)."""
    return [sys.executable, "-m", "dpm.cli.supervised", str(os.getpid()), "--", *command]


def dpmatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "dpm.cli.main", *args]


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Child:
    """One supervised process: restarted with backoff when it exits on its own."""

    def __init__(
        self,
        name: str,
        launch: Callable[[], subprocess.Popen[bytes]],
        log: Path,
        policy: RestartPolicy,
        say: Callable[[str], None],
    ) -> None:
        self.name = name
        self.log = log
        self._launch = launch
        self._policy = policy
        self._say = say
        self.crashes = 0
        self.restarts = 0
        self._delay = policy.first_delay
        self._restart_at: float | None = None
        self.process = launch()
        self._started_at = time.monotonic()

    @property
    def running(self) -> bool:
        return self._restart_at is None and self.process.poll() is None

    def check(self, now: float) -> None:
        """Restart the child when it is due; raise SystemExit when it keeps crashing."""
        if self._restart_at is not None:
            if now >= self._restart_at:
                self._restart_at = None
                try:
                    self.process = self._launch()
                except Exception as exc:
                    raise SystemExit(f"dpmatch: {self.name} could not be restarted: {exc}") from exc
                self._started_at = now
                self.restarts += 1
                self._say(f"dpmatch: {self.name} restarted (pid {self.process.pid})")
            return
        code = self.process.poll()
        if code is None:
            if self.crashes and now - self._started_at >= self._policy.stable_after:
                self.crashes, self._delay = 0, self._policy.first_delay
            return
        self.kill_group()  # what it leaves behind: a worker's pool processes and scheduler
        self.crashes += 1
        if self.crashes >= self._policy.max_crashes:
            raise SystemExit(
                f"dpmatch: {self.name} {describe_exit(code)}, {self.crashes} times in a row; "
                f"giving up (see {self.log})"
            )
        self._say(
            f"dpmatch: {self.name} {describe_exit(code)}; restarting in {self._delay:g}s "
            f"(see {self.log})"
        )
        self._restart_at = now + self._delay
        self._delay = min(self._delay * 2, self._policy.max_delay)

    def terminate(self) -> None:
        self._restart_at = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        """Wait for the child until ``deadline`` (then kill it); kill what is left of its group."""
        try:
            self.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self._say(f"dpmatch: {self.name} did not stop in time; killed")
            self.process.kill()
            self.process.wait()
        self.kill_group()

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing left
            os.killpg(self.process.pid, signal.SIGKILL)  # its own group: start_new_session


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
    """Does the server at ``address`` answer SERVING (over TLS when DPM_TLS_* say so)?"""
    return grpc_client.serving(address, load(TlsSettings))


def say(line: str) -> None:
    print(line, flush=True)


class LocalStack:
    def __init__(
        self,
        directory: Path,
        auto_ports: bool,
        worker_concurrency: int,
        policy: RestartPolicy | None = None,
    ) -> None:
        self.dir = directory
        self.auto_ports = auto_ports
        self.worker_concurrency = worker_concurrency
        self.policy = policy or RestartPolicy()
        self.servers: list[Child] = []
        self.worker: Child | None = None
        self.redis: Child | None = None
        self.stopping = threading.Event()
        self.owns_stack_file = False

    @property
    def children(self) -> list[Child]:
        return [c for c in (self.redis, *self.servers, self.worker) if c is not None]

    def _addresses(self) -> dict[str, str]:
        addresses = {}
        for name in SERVERS:
            env = os.environ.get(f"DPM_{name.upper()}_ADDR")
            port = free_port() if self.auto_ports else DEFAULT_PORTS[name]
            addresses[name] = env or f"127.0.0.1:{port}"
        return addresses

    def _child(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        logs = self.dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{name}.log"

        def launch() -> subprocess.Popen[bytes]:
            with open(log, "ab") as log_file:
                return subprocess.Popen(
                    supervised(command),
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    # Its own process group: Ctrl-C reaches only us (we stop children in
                    # order), and the group is killed whole when the child exits.
                    start_new_session=True,
                )

        return Child(name, launch, log, self.policy, say)

    def _embedded_redis(self) -> tuple[Child, str]:
        directory = self.dir / "redis"
        port = free_port()

        def launch() -> subprocess.Popen[bytes]:
            # The same port and files at every restart: the others reconnect to it.
            return start_embedded_redis(directory, port, wrapper=supervised([])).process

        child = Child("redis", launch, directory / "redis.log", self.policy, say)
        return child, f"redis://127.0.0.1:{port}/0"

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
            self.redis, redis_url = self._embedded_redis()
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
            server_env = {**env, "DPM_HOST": "127.0.0.1", "DPM_PORT": port}
            self.servers.append(self._child(name, dpmatch("serve", name), server_env))
        self.worker = self._child(
            "worker",
            dpmatch("worker", "--beat", "--concurrency", str(self.worker_concurrency)),
            env,
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
            self.supervise()
            pending = {n: a for n, a in pending.items() if not serving(a)}
            if pending and time.monotonic() > deadline:
                raise SystemExit(
                    f"dpmatch: {', '.join(pending)} not serving after {START_TIMEOUT:.0f}s; "
                    f"see {self.dir / 'logs'}"
                )
            if pending:
                time.sleep(0.2)

    def supervise(self) -> None:
        """Restart children that exited (raises SystemExit when one keeps crashing)."""
        if self.stopping.is_set():
            return
        now = time.monotonic()
        for child in self.children:
            child.check(now)

    def stop(self) -> None:
        """Servers first (they drain their calls), then the worker, then Redis."""
        self.stopping.set()
        for stage, seconds in (
            (self.servers, SERVER_STOP_SECONDS),
            ([self.worker] if self.worker else [], WORKER_STOP_SECONDS),
            ([self.redis] if self.redis else [], SERVER_STOP_SECONDS),
        ):
            for child in stage:
                child.terminate()
            deadline = time.monotonic() + seconds
            for child in stage:
                child.wait(deadline)
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


def run_up(
    seed: bool,
    demo: bool,
    exit_after: bool,
    auto_ports: bool,
    concurrency: int,
    replay: bool = False,
) -> int:
    from dpm.cli import demo as demo_cmd
    from dpm.cli import replay as replay_cmd
    from dpm.cli import seed as seed_cmd
    from dpm.platform.dates import today

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
        if seed or demo or replay:
            seed_cmd.seed(stack, directory)
        if demo:
            demo_cmd.play(Stack.load(directory))
        if replay:
            replay_cmd.replay(Stack.load(directory), [], "2025-01", today().isoformat()[:7], False)
        while not exit_after:
            time.sleep(0.5)
            local.supervise()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the orderly stop short (it is bounded anyway).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("stopping dpmatch ...", flush=True)
        local.stop()
        print("stopped.", flush=True)
    return 0

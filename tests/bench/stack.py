"""`dpmatch up` as the benchmarks and the soak run it: the processes a user runs.

with dpmatch_up(data_dir, concurrency=2) as (stack, root):
    ...  # stack: addresses and tokens; root: the `dpmatch up` process
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from dpm.cli.stackfile import Stack

DPMATCH_UP = [sys.executable, "-m", "dpm.cli.main", "up", "--seed", "--auto-ports"]


@contextmanager
def dpmatch_up(
    data_dir: Path, concurrency: int, settings: dict[str, str] | None = None
) -> Iterator[tuple[Stack, psutil.Process]]:
    """`dpmatch up --seed --auto-ports` as a subprocess; SIGTERM and wait at the end.

    ``settings``: DPM_ variables for every process of the stack (none are inherited).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DPM_", "OTEL_"))}
    env.update(settings or {})
    env["DPM_DATA_DIR"] = str(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "up.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [*DPMATCH_UP, "--concurrency", str(concurrency)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while "seeded " not in (data_dir / "up.log").read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "dpmatch up did not come up:\n" + (data_dir / "up.log").read_text()
                )
            time.sleep(0.3)
        yield Stack.load(data_dir), psutil.Process(process.pid)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                print("dpmatch up did not stop in 90 s; killed", flush=True)
                process.kill()
                process.wait()
        log.close()


def label(proc: psutil.Process, labels: dict[int, str]) -> str:
    try:
        cmd = proc.cmdline()
    except psutil.Error:
        return "?"
    parent = labels.get(proc.ppid(), "")
    text = " ".join(cmd)
    if "dpm.cli.supervised" in text:
        rest = cmd[cmd.index("--") + 1 :] if "--" in cmd else []
        inner = "redis" if not rest or "redis" in " ".join(rest) else rest[-1]
        return f"supervisor:{inner}"
    if "redis-server" in text or proc.name().startswith("redis"):
        return "redis-server"
    if "serve" in cmd:
        return cmd[cmd.index("serve") + 1]
    if " up " in f" {text} " and "dpm.cli.main" in text:
        return "dpmatch up"
    if "worker" in cmd or "celery" in text:
        return "worker" if not parent.startswith("worker") else "worker child"
    return parent + " child" if parent else proc.name()


def _measure(
    root: psutil.Process, what: Callable[[psutil.Process], float]
) -> dict[tuple[str, int], float]:
    """``what`` of `dpmatch up` and every process under it, keyed by (label, pid)."""
    labels: dict[int, str] = {}
    found: dict[tuple[str, int], float] = {}
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return found
    for proc in procs:  # parents come before their children
        try:
            labels[proc.pid] = label(proc, labels)
            found[(labels[proc.pid], proc.pid)] = what(proc)
        except psutil.Error:
            continue
    return found


def stack_rss(root: psutil.Process) -> dict[tuple[str, int], float]:
    """RSS in bytes of `dpmatch up` and every process under it, keyed by (label, pid)."""
    return _measure(root, lambda p: p.memory_info().rss)


def stack_cpu(root: psutil.Process) -> dict[tuple[str, int], float]:
    """CPU seconds (user and system) each process of the stack has used so far."""
    return _measure(root, lambda p: sum(p.cpu_times()[:2]))


def cpu_used(before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]) -> str:
    """The CPU seconds each process used between two ``stack_cpu`` readings, largest first."""
    used = sorted(((v - before.get(k, 0.0), k[0]) for k, v in after.items()), reverse=True)
    return " ".join(f"{name}={seconds:.1f}" for seconds, name in used if seconds >= 0.05)

"""`dpmatch up` supervises its children: a killed worker or server comes back
(with backoff, giving up on a crash loop), nothing is left orphaned, and when
`dpmatch up` itself is killed no child survives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dpm.cli.up import Child, RestartPolicy, serving, supervised
from tests.e2e.stacks import dpmatch_up

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

FAST = RestartPolicy(first_delay=0.05, max_delay=0.2, stable_after=60.0, max_crashes=3)


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, process group) of ``pid``, None when it is gone (or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw.rpartition(")")[2].split()
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[2])


def _alive(pid: int) -> bool:
    return _stat(pid) is not None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _processes() -> dict[int, tuple[int, int]]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            out[int(entry.name)] = st
    return out


def descendants(pid: int) -> set[int]:
    table = _processes()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, (ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def group(pgid: int) -> set[int]:
    return {p for p, (_, g) in _processes().items() if g == pgid}


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds}s: {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def test_a_crash_looping_child_is_restarted_with_backoff_then_given_up() -> None:
    said: list[str] = []
    command = [sys.executable, "-c", "import sys; sys.exit(3)"]
    child = Child(
        "flaky",
        lambda: subprocess.Popen(supervised(command), start_new_session=True),
        Path("flaky.log"),
        FAST,
        said.append,
    )
    with pytest.raises(SystemExit, match="flaky exited with code 3, 3 times in a row; giving up"):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            child.check(time.monotonic())
            time.sleep(0.01)
    assert said[0] == "dpmatch: flaky exited with code 3; restarting in 0.05s (see flaky.log)"
    assert "restarting in 0.1s" in said[2]
    assert child.restarts == 2


def test_a_crashed_child_takes_its_whole_process_group_along(tmp_path: Path) -> None:
    """A worker's pool processes and scheduler share its group: none outlives it."""
    pid_file = tmp_path / "grandchild"
    script = (
        "import subprocess, sys, time;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    child = Child(
        "worker",
        lambda: subprocess.Popen(
            supervised([sys.executable, "-c", script]), start_new_session=True
        ),
        tmp_path / "w.log",
        FAST,
        lambda _: None,
    )
    wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", 10, "grandchild started")
    grandchild = int(pid_file.read_text())
    os.kill(child.process.pid, signal.SIGKILL)
    child.process.wait()
    child.check(time.monotonic())
    wait_for(lambda: not _alive(grandchild), 5, "the grandchild killed with the group")
    child.terminate()
    child.wait(time.monotonic() + 5)


def test_killed_children_come_back_and_a_killed_supervisor_leaves_nothing(
    tmp_path: Path,
) -> None:
    with dpmatch_up(tmp_path / "data") as (stack, up, output):
        children = {pid: _cmdline(pid) for pid, (ppid, _) in _processes().items() if ppid == up.pid}

        def child(marker: str) -> int:
            pids = [
                p
                for p, (ppid, _) in _processes().items()
                if ppid == up.pid and marker in _cmdline(p)
            ]
            return pids[0] if pids else 0

        worker = child("worker --beat")
        assert worker, children
        worker_group = group(worker)
        assert len(worker_group) >= 3, worker_group  # main, a pool process, the scheduler
        os.kill(worker, signal.SIGKILL)
        back = wait_for(lambda: child("worker --beat") not in (0, worker), 20, "worker restarted")
        wait_for(lambda: not any(_alive(p) for p in worker_group), 10, "old pool/beat gone")
        print(f"worker back after {back:.1f}s")

        matching = child("serve matching")
        os.kill(matching, signal.SIGKILL)
        address = stack.addresses["matching"]
        back = wait_for(
            lambda: child("serve matching") not in (0, matching) and serving(address),
            30,
            "matching serving again",
        )
        print(f"matching serving again after {back:.1f}s")
        listing = subprocess.run(
            [sys.executable, "-m", "dpm.cli.main", "recommendations", "microsoft"],
            env={**os.environ, "DPM_DATA_DIR": str(tmp_path / "data")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listing.returncode == 0 and "surge-ai" in listing.stdout, listing.stderr

        everything = descendants(up.pid)
        assert len(everything) >= 8, everything  # redis, 4 servers, worker, pool, beat
        up.kill()
        up.wait()
        gone = wait_for(
            lambda: not any(_alive(p) for p in everything), 40, "every child gone after SIGKILL"
        )
        print(f"all {len(everything)} processes gone {gone:.1f}s after dpmatch up was killed")
    text = "".join(output)  # the terminal of `dpmatch up` (read to the end once it is gone)
    assert "dpmatch: worker was killed by SIGKILL; restarting in 0.5s" in text, text
    assert "dpmatch: matching was killed by SIGKILL; restarting in 0.5s" in text, text
    assert "dpmatch: worker restarted" in text and "dpmatch: matching restarted" in text, text

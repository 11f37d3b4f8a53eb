"""Processes that end with their parent, so a killed supervisor leaves no orphans.

On Linux the kernel sends a signal when the parent exits (``prctl`` with
``PR_SET_PDEATHSIG``); it survives ``exec``, so a supervisor can arm it in a
small wrapper that then becomes the real program (``dpm.cli.supervised``).
Elsewhere a thread polls the parent's pid.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0


def parent_death_signal_supported() -> bool:
    return sys.platform.startswith("linux")


def die_with_parent(parent: int, sig: signal.Signals = signal.SIGTERM) -> None:
    """Receive ``sig`` when the process ``parent`` (our parent now) exits.

    If it has already exited (we were re-parented before this ran), ``sig``
    comes at once.
    """
    if parent_death_signal_supported():
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:
        threading.Thread(
            target=_watch, args=(parent, sig), name="parent-watch", daemon=True
        ).start()
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def _watch(parent: int, sig: signal.Signals) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os.kill(os.getpid(), sig)

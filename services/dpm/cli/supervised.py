"""Run a command that ends when its supervisor does: ``python -m dpm.cli.supervised PID -- CMD...``.

`dpmatch up` starts every child through this wrapper: it arms the parent-death
signal (SIGTERM, so servers and the worker shut down gracefully) and becomes
CMD by ``exec``, keeping its pid. Without a parent-death signal (not Linux) it
stays as CMD's parent, watches the supervisor's pid and stops CMD when it goes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from dpm.worker.lifetime import die_with_parent, parent_death_signal_supported

STOP_SECONDS = 30.0


def main(argv: list[str]) -> int:
    parent, separator, *command = argv
    if separator != "--" or not command:
        sys.exit("usage: python -m dpm.cli.supervised PARENT_PID -- COMMAND [ARG...]")
    if parent_death_signal_supported():
        die_with_parent(int(parent))
        os.execvp(command[0], command)
    child = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    die_with_parent(int(parent))  # a watcher thread: SIGTERM to us, forwarded to the child
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        return child.wait(timeout=STOP_SECONDS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

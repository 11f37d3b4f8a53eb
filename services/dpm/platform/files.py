"""Files dpmatch writes are private: databases, secrets, Redis' append-only file, logs.

Every dpmatch process calls ``restrict_new_files`` first, so what it creates
(SQLite files with their WAL, tokens, logs, the embedded Redis' data) is
readable by its owner only; ``private_dir`` also tightens a directory that
already existed.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def restrict_new_files() -> None:
    """New files 0600, new directories 0700, for the rest of this process and its children."""
    os.umask(0o077)


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    path.chmod(PRIVATE_DIR)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read (replacing it atomically)."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, PRIVATE_FILE)
    os.replace(tmp, path)

"""Command-line tools the tests take from the npm registry (buf), installed on first use.

Each pinned package goes into ``.dpmatch/tools/<name>-<version>`` under the
repository (ignored by git) and is reused from there. A machine without npm,
or without the registry, has no tool: its tests skip, except in CI, where
they fail (CI must run them).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI

TOOLS = Path(__file__).resolve().parents[1] / ".dpmatch" / "tools"


def npm_tool(package: str, version: str, command: str) -> Path:
    """The path of ``command`` from ``package@version``; skip (fail in CI) when unavailable."""
    home = TOOLS / f"{package.replace('/', '-').lstrip('@')}-{version}"
    binary = home / "node_modules" / ".bin" / command
    if not binary.exists():
        problem = _install(f"{package}@{version}", home)
        if problem:
            if IN_CI:
                pytest.fail(f"CI must run this test, but {problem}")
            pytest.skip(problem)
    return binary


def _install(spec: str, home: Path) -> str:
    """Install ``spec`` into ``home``; "" on success, else what went wrong."""
    npm = shutil.which("npm")
    if npm is None:
        return f"npm is not on the PATH to install {spec}"
    home.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [npm, "install", "--prefix", str(home), "--no-audit", "--no-fund", "--silent", spec],
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return f"npm install {spec} failed: {exc}"
    return ""

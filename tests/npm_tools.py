"""What the tests take from the npm registry (buf; the Node.js client's packages),
installed on first use.

Each pinned package, or a ``package.json``'s dependencies, go into a directory
of ``.dpmatch/tools/`` under the repository (ignored by git) named by what it
holds, and are reused from there. A machine without node and npm, or without
the registry, has none: its tests skip, except in CI, where they fail (CI must
run them).
"""

from __future__ import annotations

import hashlib
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
        unavailable(_install(home, f"{package}@{version}"))
    return binary


def node_modules(package_json: Path) -> Path:
    """The ``node_modules`` directory holding ``package_json``'s (pinned) dependencies."""
    if shutil.which("node") is None:
        unavailable("node is not on the PATH")
    digest = hashlib.sha256(package_json.read_bytes()).hexdigest()[:12]
    home = TOOLS / f"{package_json.parent.name}-{digest}"
    modules = home / "node_modules"
    if not (home / "installed").exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package_json, home / "package.json")
        unavailable(_install(home))
        (home / "installed").touch()
    return modules


def unavailable(problem: str) -> None:
    """Skip with ``problem``, or fail in CI (nothing when ``problem`` is empty)."""
    if not problem:
        return
    if IN_CI:
        pytest.fail(f"CI must run this test, but {problem}")
    pytest.skip(problem)


def _install(home: Path, *specs: str) -> str:
    """``npm install`` in ``home`` (``specs``, or its package.json); "" on success, else
    what went wrong."""
    npm = shutil.which("npm")
    what = " ".join(specs) or str(home / "package.json")
    if npm is None:
        return f"npm is not on the PATH to install {what}"
    home.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [npm, "install", "--prefix", str(home), "--no-audit", "--no-fund", "--silent", *specs],
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return f"npm install {what} failed: {exc}"
    return ""

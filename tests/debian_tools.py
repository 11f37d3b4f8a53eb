"""Programs the tests take from Debian's packages (Prometheus' promtool), fetched on
first use without installing anything: ``apt-get download`` the package and unpack it
into ``.dpmatch/tools/`` (ignored by git). Where that cannot run (not Debian, no
package lists), the test skips, except in CI, where it fails (CI must run it)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.npm_tools import TOOLS, unavailable


def debian_tool(package: str, program: str) -> Path:
    """The path of ``program`` (e.g. usr/bin/promtool) from Debian's ``package``."""
    home = TOOLS / f"debian-{package}"
    binary = home / program
    if binary.exists():
        return binary
    apt_get, dpkg_deb = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if apt_get is None or dpkg_deb is None:
        unavailable(f"no apt-get/dpkg-deb here to fetch {package} (a Debian package)")
    assert apt_get is not None and dpkg_deb is not None
    with tempfile.TemporaryDirectory() as download:
        try:
            subprocess.run(
                [apt_get, "download", package],
                cwd=download,
                check=True,
                capture_output=True,
                timeout=300,
            )
            (deb,) = Path(download).glob(f"{package}_*.deb")
            subprocess.run(
                [dpkg_deb, "-x", str(deb), str(home)], check=True, capture_output=True, timeout=300
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError) as exc:
            unavailable(f"apt-get download {package} failed: {exc}")
    if not binary.exists():
        unavailable(f"{package} has no {program}")
    return binary

"""``buf lint`` (STANDARD, with the exceptions ``protos/buf.yaml`` states and why) passes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.npm_tools import npm_tool

PROTOS = Path(__file__).resolve().parents[2] / "protos"
BUF_VERSION = "1.75.0"


def test_buf_lint_passes() -> None:
    buf = npm_tool("@bufbuild/buf", BUF_VERSION, "buf")
    run = subprocess.run(
        [str(buf), "lint", "--error-format=text"],
        cwd=PROTOS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_buf_builds_every_proto_including_the_error_details(tmp_path: Path) -> None:
    buf = npm_tool("@bufbuild/buf", BUF_VERSION, "buf")
    out = tmp_path / "image.binpb"
    run = subprocess.run(
        [str(buf), "build", "-o", str(out)], cwd=PROTOS, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert out.stat().st_size > 0

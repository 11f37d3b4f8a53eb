"""``buf lint`` (STANDARD, with the exceptions ``protos/buf.yaml`` states and why) passes,
and ``buf breaking`` finds nothing the released API's clients would break on."""

from __future__ import annotations

import shutil
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


def test_nothing_breaks_the_released_api() -> None:
    buf = npm_tool("@bufbuild/buf", BUF_VERSION, "buf")
    run = subprocess.run(
        [str(buf), "breaking", "--against", "released/api.binpb", "--error-format=text"],
        cwd=PROTOS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_buf_breaking_would_see_a_renamed_field(tmp_path: Path) -> None:
    """The check is live: the same protos with one field renamed break the release."""
    buf = npm_tool("@bufbuild/buf", BUF_VERSION, "buf")
    changed = tmp_path / "protos"
    shutil.copytree(PROTOS, changed)
    proto = changed / "dpm" / "matching" / "v1" / "matching.proto"
    text = proto.read_text()
    assert "string as_of = 6;" in text
    proto.write_text(text.replace("string as_of = 6;", "string as_of_date = 6;"))
    run = subprocess.run(
        [str(buf), "breaking", "--against", str(PROTOS / "released" / "api.binpb")],
        cwd=changed,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "as_of" in run.stdout + run.stderr

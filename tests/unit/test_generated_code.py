"""The committed gRPC code must be exactly what protos/generate.py makes from protos/."""

from __future__ import annotations

import filecmp
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate_protos", REPO / "protos/generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_protos"] = module
    spec.loader.exec_module(module)
    return module


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    _generator().generate(tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert fresh, "the generator produced nothing"
    committed_dir = REPO / "services"
    committed = sorted(
        p.relative_to(committed_dir)
        for p in committed_dir.glob("dpm/*/v1/*")
        if p.is_file() and p.suffix in (".py", ".pyi")
    )
    assert committed == fresh, "generated files added or removed: run ./dev protos"
    stale = [
        str(p) for p in fresh if not filecmp.cmp(tmp_path / p, committed_dir / p, shallow=False)
    ]
    assert not stale, f"stale generated code, run ./dev protos: {stale}"

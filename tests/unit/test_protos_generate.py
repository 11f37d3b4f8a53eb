"""``protos/buf.gen.yaml`` generates stubs for other languages: its TypeScript part
(ts-proto, for @grpc/grpc-js) runs here through ``buf generate`` and the output
type-checks under ``tsc --strict``. Its Go and Java parts need plugins no registry
this project reaches carries (Go's from the Go module proxy, grpc-java's from Maven
Central): only their presence in the template is checked."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from tests.npm_tools import node_modules, npm_tool
from tests.unit.test_protos_lint import BUF_VERSION, PROTOS

TEMPLATE = PROTOS / "buf.gen.yaml"
STUBS_PACKAGE = Path(__file__).resolve().parent / "ts_stubs" / "package.json"


def test_the_template_covers_go_typescript_and_java() -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    plugins = {p.get("local") or p.get("protoc_builtin") for p in template["plugins"]}
    assert {"protoc-gen-go", "protoc-gen-go-grpc"} <= plugins  # Go messages and services
    assert "protoc-gen-ts_proto" in plugins
    assert {"java", "protoc-gen-grpc-java"} <= plugins
    assert template["managed"]["enabled"]  # go_package and java_package without proto edits


def test_the_typescript_stubs_generate_and_type_check(tmp_path: Path) -> None:
    buf = npm_tool("@bufbuild/buf", BUF_VERSION, "buf")
    modules = node_modules(STUBS_PACKAGE)
    template = yaml.safe_load(TEMPLATE.read_text())
    template["plugins"] = [
        {**p, "out": str(tmp_path / "gen")}
        for p in template["plugins"]
        if p.get("local") == "protoc-gen-ts_proto"
    ]
    template["clean"] = False
    only_ts = tmp_path / "buf.gen.yaml"
    only_ts.write_text(yaml.safe_dump(template))
    env = {**os.environ, "PATH": f"{modules / '.bin'}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        [str(buf), "generate", "--template", str(only_ts)],
        cwd=PROTOS,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    generated = sorted((tmp_path / "gen").rglob("*.ts"))
    protos = sorted((PROTOS / "dpm").rglob("*.proto"))
    expected = {p.relative_to(PROTOS).with_suffix(".ts") for p in protos}
    assert expected <= {g.relative_to(tmp_path / "gen") for g in generated}
    matching = (tmp_path / "gen" / "dpm" / "matching" / "v1" / "matching.ts").read_text()
    assert "export class MatchingServiceClient" in matching or (
        "export const MatchingServiceClient" in matching
    )
    # As in a project of its own: the packages the stubs import beside them.
    (tmp_path / "node_modules").symlink_to(modules, target_is_directory=True)
    check = subprocess.run(
        [
            str(modules / ".bin" / "tsc"),
            "--noEmit",
            "--strict",
            "--esModuleInterop",
            "--skipLibCheck",
            "--module",
            "commonjs",
            "--moduleResolution",
            "node",
            "--target",
            "es2020",
            *map(str, generated),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]

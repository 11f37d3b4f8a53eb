"""Regenerate the committed Python code for every proto under protos/dpm.

    python protos/generate.py            # writes into services/
    python protos/generate.py --out DIR  # writes elsewhere (the staleness test)

Directory = package: protos/dpm/catalog/v1/catalog.proto becomes the module
dpm.catalog.v1.catalog_pb2, so generated imports need no rewriting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
DEFAULT_OUT = PROTO_ROOT.parent / "services"


def proto_files() -> list[Path]:
    return sorted((PROTO_ROOT / "dpm").rglob("*.proto"))


def generate(out: Path) -> None:
    well_known = Path(protoc.__file__).parent / "_proto"
    files = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for proto in proto_files():
        package_dir = out / proto.parent.relative_to(PROTO_ROOT)
        (package_dir / "__init__.py").touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    generate(parser.parse_args().out)


if __name__ == "__main__":
    sys.exit(main())

"""Dependencies run one way, and resource names are formatted in one place.

Layers, top to bottom (STYLE.md):

    cli        -> anything below
    worker     -> matching (the tasks it runs), platform
    matching   -> catalog / requirements / neutrality only through their v1 stubs
    catalog, requirements, neutrality -> platform, and other services' v1 stubs
    platform   -> nothing of ours

Generated ``dpm.<domain>.v1`` packages are the services' public contracts:
any service may import them; platform imports none.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services" / "dpm"

# Packages a package may import besides itself, platform and v1 contracts.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "platform": frozenset(),
    "catalog": frozenset(),
    "requirements": frozenset(),
    "neutrality": frozenset(),
    "matching": frozenset(),
    "worker": frozenset({"matching"}),
    "cli": frozenset({"catalog", "requirements", "neutrality", "matching", "worker"}),
}
# Generated-only packages: shared messages, no code of ours.
CONTRACT_ONLY = frozenset({"audit", "auth", "common", "ownership"})


def allowed(importer: str, imported: str) -> bool:
    """May code in package ``importer`` ("catalog") import module ``imported`` ("dpm.x.y")?"""
    parts = imported.split(".")
    if parts[0] != "dpm" or len(parts) < 2:
        return True  # not ours
    target = parts[1]
    if target == importer:
        return True
    is_contract = target in CONTRACT_ONLY or (len(parts) > 2 and parts[2] == "v1")
    if importer == "platform":
        return False
    if is_contract or target == "platform":
        return True
    return target in MAY_IMPORT.get(importer, frozenset())


def _source_files() -> list[Path]:
    return [
        path
        for path in sorted(SERVICES.rglob("*.py"))
        if "/v1/" not in path.as_posix() and "/migrations/" not in path.as_posix()
    ]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, including those inside functions."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # "from dpm.matching import rematch" imports dpm.matching.rematch
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def violations() -> list[str]:
    out: list[str] = []
    for path in _source_files():
        package = path.relative_to(SERVICES).parts[0]
        if package.endswith(".py"):
            continue  # dpm/__init__.py
        for line, module in imports_of(path):
            if not allowed(package, module):
                out.append(
                    f"{path.relative_to(SERVICES.parent)}:{line}: {package} imports {module}"
                )
    return out


def test_every_package_imports_only_below_itself() -> None:
    assert violations() == []


def test_every_package_is_placed_in_a_layer() -> None:
    packages = {p.name for p in SERVICES.iterdir() if (p / "__init__.py").exists()}
    assert packages - CONTRACT_ONLY == set(MAY_IMPORT)


@pytest.mark.parametrize(
    ("importer", "module"),
    [
        ("catalog", "dpm.worker.queues"),
        ("catalog", "dpm.matching.engine"),
        ("catalog", "dpm.requirements.store.models"),
        ("requirements", "dpm.worker.app"),
        ("neutrality", "dpm.catalog.store"),
        ("matching", "dpm.catalog.ledger"),
        ("matching", "dpm.worker.app"),
        ("worker", "dpm.cli.main"),
        ("platform", "dpm.catalog.v1.catalog_pb2"),
        ("platform", "dpm.matching.cache"),
    ],
)
def test_the_rule_refuses_upward_and_sideways_imports(importer: str, module: str) -> None:
    assert not allowed(importer, module)


@pytest.mark.parametrize(
    ("importer", "module"),
    [
        ("catalog", "dpm.platform.events"),
        ("matching", "dpm.catalog.v1.catalog_pb2_grpc"),
        ("neutrality", "dpm.ownership.v1.ownership_pb2"),
        ("worker", "dpm.matching.rematch"),
        ("cli", "dpm.worker.app"),
        ("catalog", "sqlalchemy.orm"),
    ],
)
def test_the_rule_admits_downward_imports(importer: str, module: str) -> None:
    assert allowed(importer, module)


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from dpm.worker import queues\n    import dpm.matching.engine\n"
    )
    assert {m for _, m in imports_of(source)} >= {"dpm.worker.queues", "dpm.matching.engine"}


# A resource name spelled out in code instead of going through dpm.platform.names.
NAME_LITERAL = re.compile(
    r"""["']organizations/|f["']clients/|["']/vendorProfile|["']/recommendations"""
)


def test_resource_names_are_formatted_only_in_platform_names() -> None:
    offenders = [
        f"{path.relative_to(SERVICES.parent)}:{n}: {line.strip()}"
        for path in _source_files()
        if path.name != "names.py" or path.parent.name != "platform"
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if NAME_LITERAL.search(line)
    ]
    assert offenders == []

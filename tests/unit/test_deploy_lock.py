"""deploy/requirements.lock: the image's dependencies, pinned with hashes, in step with the code.

The lock (`./dev lock`, a universal `uv pip compile` of pyproject.toml's runtime
dependencies and its build backend) is what deploy/Dockerfile installs with
`--require-hashes --no-deps`: pip resolves nothing, so the lock alone must hold
every package the image needs, on linux/amd64 and linux/arm64 under CPython 3.11.

Offline: reads pyproject.toml, the lock, the Dockerfile, .dockerignore and the
metadata of the distributions installed in this venv. Whether the pinned files
still exist on PyPI with those hashes needs the network, and is not checked here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "deploy" / "requirements.lock"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCK_IN_CONTEXT = LOCK.relative_to(ROOT).as_posix()
PROJECT = "dpmatch"

# The image: python:3.11-slim (Debian, glibc) on linux/amd64 and linux/arm64, at
# either end of the 3.11 series (some markers split it, e.g. `< '3.11.3'`).
IMAGE_MACHINES = ("x86_64", "aarch64")
IMAGE_PYTHONS = ("3.11.0", "3.11.99")
HASH = re.compile(r"\s--hash=(\w+):(\S+)")
SHA256 = re.compile(r"[0-9a-f]{64}")
# .dockerignore globs: `*` and `?` stay within one path segment, `**` crosses them
GLOB = {"**": ".*", "*": "[^/]*", "?": "[^/]"}


# ---------------------------------------------------------------- helpers


@dataclass
class Pin:
    requirement: Requirement
    hashes: list[tuple[str, str]]
    via: list[str] = field(default_factory=list)

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.requirement.name)

    @property
    def version(self) -> Version | None:
        specs = list(self.requirement.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
            return None
        return Version(specs[0].version)

    def applies(self, env: dict[str, str]) -> bool:
        marker = self.requirement.marker
        return marker is None or marker.evaluate({**env, "extra": ""})


@dataclass
class Lock:
    pins: list[Pin]
    options: list[str]

    def pins_for(self, env: dict[str, str]) -> dict[NormalizedName, list[Pin]]:
        out: dict[NormalizedName, list[Pin]] = {}
        for pin in self.pins:
            if pin.applies(env):
                out.setdefault(pin.name, []).append(pin)
        return out


def logical_lines(text: str) -> list[str]:
    """The lock's lines with backslash continuations joined (comments kept as they are)."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        out.append(pending + raw)
        pending = ""
    if pending:
        out.append(pending)
    return out


def parse_lock(text: str) -> Lock:
    pins: list[Pin] = []
    options: list[str] = []
    via_open = False
    for line in logical_lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            # uv's annotations under a pin: "# via NAME" or "# via" then "#   NAME" lines
            comment = stripped.lstrip("#").strip()
            if pins and line.startswith((" ", "\t")):
                if comment == "via":
                    via_open = True
                elif comment.startswith("via "):
                    pins[-1].via.append(comment.removeprefix("via ").strip())
                elif via_open and comment:
                    pins[-1].via.append(comment)
            continue
        via_open = False
        if stripped.startswith("-"):
            options.append(stripped)
            continue
        hashes = [(algo, digest) for algo, digest in HASH.findall(" " + stripped)]
        requirement = HASH.sub("", " " + stripped).strip()
        pins.append(Pin(Requirement(requirement), hashes))
    return Lock(pins, options)


def load_lock() -> Lock:
    return parse_lock(LOCK.read_text())


def pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text())


def runtime_requirements() -> list[Requirement]:
    return [Requirement(r) for r in pyproject()["project"]["dependencies"]]


def build_requirements() -> list[Requirement]:
    return [Requirement(r) for r in pyproject()["build-system"]["requires"]]


def image_environment(machine: str, python: str) -> dict[str, str]:
    env = {key: str(value) for key, value in default_environment().items()}
    env.update(
        implementation_name="cpython",
        implementation_version=python,
        platform_python_implementation="CPython",
        platform_system="Linux",
        sys_platform="linux",
        os_name="posix",
        platform_machine=machine,
        python_version=".".join(python.split(".")[:2]),
        python_full_version=python,
    )
    return env


IMAGE_ENVIRONMENTS = [
    pytest.param(image_environment(machine, python), id=f"{machine}-py{python}")
    for machine in IMAGE_MACHINES
    for python in IMAGE_PYTHONS
]


def applies(requirement: Requirement, env: dict[str, str], extras: Iterable[str] = ()) -> bool:
    marker = requirement.marker
    return marker is None or any(marker.evaluate({**env, "extra": e}) for e in ("", *extras))


def satisfies(pin: Pin, requirement: Requirement) -> bool:
    return pin.version is not None and requirement.specifier.contains(pin.version, prereleases=True)


def installed_version(name: str) -> Version | None:
    try:
        return Version(metadata.version(name))
    except metadata.PackageNotFoundError:
        return None


def dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    lines = [ln for ln in DOCKERFILE.read_text().splitlines() if not ln.lstrip().startswith("#")]
    return [ln.strip() for ln in logical_lines("\n".join(lines)) if ln.strip()]


def pip_commands() -> list[str]:
    """Every `pip install` / `pip wheel` command the Dockerfile's RUN instructions run."""
    commands: list[str] = []
    for instruction in dockerfile_instructions():
        if instruction.startswith("RUN "):
            for part in re.split(r"&&|;|\|\|", instruction):
                match = re.search(r"\bpip3?\s+(install|wheel)\b.*", part)
                if match:
                    commands.append(" ".join(match[0].split()))
    return commands


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = "".join(
            GLOB.get(token) or re.escape(token)
            for token in re.findall(r"\*\*|\*|\?|[^*?]+", pattern)
        )
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            excluded = not negated
    return excluded


# ---------------------------------------------------------------- the lock itself


def test_lock_parser_reads_uv_output() -> None:
    lock = parse_lock(
        "# header\n--only-binary :all:\n\n"
        "a==1.0 ; python_full_version < '3.12' \\\n"
        "    --hash=sha256:" + "0" * 64 + " \\\n"
        "    --hash=sha256:" + "1" * 64 + "\n"
        "    # via\n    #   b\n    #   dpmatch (pyproject.toml)\n"
        "b==2 \\\n    --hash=sha256:" + "2" * 64 + "\n    # via dpmatch (pyproject.toml)\n"
        "c>=3\n"
    )
    assert lock.options == ["--only-binary :all:"]
    assert [p.name for p in lock.pins] == ["a", "b", "c"]
    assert lock.pins[0].via == ["b", "dpmatch (pyproject.toml)"]
    assert lock.pins[0].hashes == [("sha256", "0" * 64), ("sha256", "1" * 64)]
    assert str(lock.pins[0].requirement.marker) == 'python_full_version < "3.12"'
    assert lock.pins[1].version == Version("2") and lock.pins[1].via == ["dpmatch (pyproject.toml)"]
    assert lock.pins[2].version is None and lock.pins[2].hashes == []


def test_no_requirement_in_the_lock_is_unpinned() -> None:
    lock = load_lock()
    assert lock.pins, f"{LOCK} pins nothing"
    unpinned = [str(p.requirement) for p in lock.pins if p.version is None or p.requirement.url]
    assert not unpinned, f"not pinned with == to one version: {unpinned}"


def test_every_pin_carries_sha256_hashes() -> None:
    problems = [
        f"{p.requirement}: {p.hashes or 'no hash'}"
        for p in load_lock().pins
        if not p.hashes or any(a != "sha256" or not SHA256.fullmatch(d) for a, d in p.hashes)
    ]
    assert not problems, f"every pin needs --hash=sha256:<64 hex>: {problems}"


def test_lock_takes_wheels_only_and_names_no_index() -> None:
    # pip reads these options from the file: --only-binary keeps compilers (and the
    # unpinned build dependencies of a source build) out of the image; an index or
    # find-links line would send pip somewhere the hashes were not taken from.
    options = load_lock().options
    assert options == ["--only-binary :all:"], f"options in the lock: {options}"


def test_lock_says_how_to_regenerate_it() -> None:
    header = LOCK.read_text().split("\n\n", 1)[0]
    assert "./dev lock" in header
    dev = (ROOT / "dev").read_text()
    assert re.search(r"^\s+lock\)", dev, re.M), "./dev has no lock command"
    usage_range = re.search(r"sed -n '(\d+),(\d+)p' \"\$0\"", dev)
    assert usage_range, "./dev prints its usage with sed -n 'A,Bp'"
    usage = dev.splitlines()[int(usage_range[1]) - 1 : int(usage_range[2])]
    assert all(line.startswith("#") for line in usage), "the usage range runs past the comment"
    assert any("./dev lock" in line for line in usage)


@pytest.mark.parametrize("env", IMAGE_ENVIRONMENTS)
def test_one_pin_per_package_in_each_image_environment(env: dict[str, str]) -> None:
    doubles = {n: [str(p.requirement) for p in ps] for n, ps in load_lock().pins_for(env).items()}
    doubles = {n: ps for n, ps in doubles.items() if len(ps) > 1}
    assert not doubles, f"more than one pin applies: {doubles}"


# ---------------------------------------------------------------- the lock and pyproject.toml


@pytest.mark.parametrize("env", IMAGE_ENVIRONMENTS)
def test_every_runtime_dependency_is_pinned_within_its_pyproject_range(
    env: dict[str, str],
) -> None:
    pins = load_lock().pins_for(env)
    problems: list[str] = []
    for requirement in [*runtime_requirements(), *build_requirements()]:
        if not applies(requirement, env):
            continue
        found = pins.get(canonicalize_name(requirement.name), [])
        if not found:
            problems.append(f"{requirement}: not in the lock")
        elif not all(satisfies(pin, requirement) for pin in found):
            problems.append(f"{requirement}: locked {[str(p.requirement) for p in found]}")
    assert not problems, f"run ./dev lock: {problems}"


def test_lock_names_as_direct_exactly_the_runtime_dependencies() -> None:
    # uv marks what pyproject.toml asked for with "via dpmatch (pyproject.toml)": a
    # dependency dropped from pyproject but still in the lock shows up here.
    direct = {p.name for p in load_lock().pins if f"{PROJECT} (pyproject.toml)" in p.via}
    assert direct == {canonicalize_name(r.name) for r in runtime_requirements()}, "run ./dev lock"


@pytest.mark.parametrize("env", IMAGE_ENVIRONMENTS)
def test_lock_holds_every_dependency_of_what_it_pins(env: dict[str, str]) -> None:
    # pip installs the lock with --no-deps, so a dependency the lock misses is missing
    # from the image. Walk from pyproject's requirements (with their extras) through the
    # metadata of the installed distributions: sound only where the venv has exactly the
    # locked version (another version may depend on other things), so packages at
    # another version, or not installed here (needed on another Python only), are not
    # walked into; the image build's `pip check` catches what this walk cannot see.
    pins = {name: found[0] for name, found in load_lock().pins_for(env).items()}
    requested: dict[NormalizedName, set[str]] = {}
    todo = [r for r in [*runtime_requirements(), *build_requirements()] if applies(r, env)]
    problems: list[str] = []
    not_walked: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        pin = pins.get(name)
        if pin is None or not satisfies(pin, requirement):
            problems.append(f"{requirement}: locked {pin.requirement if pin else 'nothing'}")
            continue
        new_extras = set(requirement.extras) - requested.get(name, set())
        if name in requested and not new_extras:
            continue
        requested.setdefault(name, set()).update(requirement.extras)
        if installed_version(name) != pin.version:
            not_walked.add(name)
            continue
        for dependency in metadata.requires(name) or []:
            dep = Requirement(dependency)
            if applies(dep, env, requested[name]):
                todo.append(dep)
    assert not problems, f"run ./dev lock: {problems}"
    unreachable = set(pins) - set(requested)
    if not not_walked:
        assert not unreachable, f"pinned but nothing needs them (run ./dev lock): {unreachable}"


def test_the_venv_runs_the_locked_versions() -> None:
    # Not a failure when they differ, on purpose: the venv comes from
    # `pip install -e .[dev]` (./dev, CI), which resolves pyproject's ranges when it
    # runs, so it moves ahead of the lock with every upstream release, and the dev
    # extra can hold a shared dependency back. Failing here would break CI for no change
    # in the repository. What is shown instead: the versions the tests ran against that
    # the image will not ship (bump with ./dev lock --upgrade, or reinstall the venv).
    env = {key: str(value) for key, value in default_environment().items()}
    drift = {
        f"{pin.name}: venv {installed}, lock {pin.version}"
        for pin in load_lock().pins
        if pin.applies(env)
        and pin.name != "setuptools"  # the build backend, not part of the runtime
        and (installed := installed_version(pin.name)) is not None
        and installed != pin.version
    }
    if drift:
        pytest.skip(f"the venv differs from deploy/requirements.lock: {sorted(drift)}")


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_installs_the_lock_with_hashes_and_no_resolution() -> None:
    copied = [
        i.split()[-1]
        for i in dockerfile_instructions()
        if i.startswith("COPY ") and LOCK_IN_CONTEXT in i.split()[1:-1]
    ]
    assert copied, f"the Dockerfile does not COPY {LOCK_IN_CONTEXT}"
    lock_name = LOCK.name if copied[0].endswith("/") else Path(copied[0]).name
    reads_lock = re.compile(rf"(-r|--requirement)[ =]\S*{re.escape(lock_name)}(\s|$)")
    from_lock = [c for c in pip_commands() if reads_lock.search(c)]
    assert from_lock, "no pip command installs from the lock"
    for command in from_lock:
        assert "--require-hashes" in command.split(), command
        assert "--no-deps" in command.split(), command


def test_dockerfile_builds_and_installs_the_project_without_its_dependencies() -> None:
    project = [c for c in pip_commands() if re.search(r"(\s\.|dpmatch\S*\.whl)(\s|$)", c)]
    assert any(c.startswith("pip wheel") for c in project), "no project wheel build"
    assert any(c.startswith("pip install") for c in project), "no project install"
    for command in project:
        assert "--no-deps" in command.split(), command


def test_dockerfile_fetches_nothing_unchecked() -> None:
    # Every pip command either checks hashes or uses no index at all; a build from source
    # with build isolation would fetch its build backend unpinned, so it is turned off.
    for command in pip_commands():
        words = command.split()
        assert "--require-hashes" in words or "--no-index" in words, command
        if re.search(r"\s\.(\s|$)", command):
            assert "--no-build-isolation" in words, command


def test_dockerignore_lets_the_lock_into_the_build_context() -> None:
    assert not dockerignore_excludes(LOCK_IN_CONTEXT), f".dockerignore drops {LOCK_IN_CONTEXT}"
    assert not dockerignore_excludes("pyproject.toml")
    assert dockerignore_excludes("deploy/Dockerfile")
    assert dockerignore_excludes("services/dpm/__pycache__/x.pyc")

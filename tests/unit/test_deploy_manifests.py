"""The deployment files agree with the code: settings names, CLI, ports, wiring.

Fast and offline: PyYAML reads docker-compose.yml and every Kubernetes YAML.
Real tools run when they are on the machine and are skipped (with the reason)
otherwise: `docker compose config`, `kubectl kustomize` / `kustomize build`,
the compose-spec JSON schema shipped by check-jsonschema, and the Kubernetes
schemas shipped by kubernetes-validate.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from dpm.platform import config
from dpm.platform.config import secret_problem
from dpm.platform.grpc_server import LIVENESS
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"

SUBCOMMANDS = {"serve", "worker", "migrate", "probe", "seed", "demo", "up"}
GRPC_SERVICES = set(config.DEFAULT_PORTS)
DB_SERVICES = {"catalog", "requirements"}
SETTINGS_MODULES = ["dpm.platform.config"] + [
    f"dpm.{name}.settings"
    for name in ["catalog", "requirements", "neutrality", "matching", "worker"]
]
DPM_NAME = re.compile(r"\bDPM_[A-Z0-9_]+\b")


# ---------------------------------------------------------------- helpers


def allowed_settings_names() -> set[str]:
    """DPM_* names that some settings class reads (per-service modules when they exist)."""
    names: set[str] = set()
    for module_name in SETTINGS_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # that service has no settings module (yet)
            raise
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseSettings):
                prefix = value.model_config.get("env_prefix", "")
                names |= {f"{prefix}{field}".upper() for field in value.model_fields}
    return {n for n in names if n.startswith("DPM_")}


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def as_argv(command: Any) -> list[str]:
    return command.split() if isinstance(command, str) else [str(c) for c in command or []]


def dpmatch_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Compose services that run the project image."""
    image = dpmatch_image(compose)
    return {n: s for n, s in compose["services"].items() if s.get("image") == image}


def dpmatch_image(compose: dict[str, Any]) -> str:
    built = {
        s["image"]
        for s in compose["services"].values()
        if isinstance(s.get("build"), dict) and s["build"].get("dockerfile") == "deploy/Dockerfile"
    }
    assert len(built) == 1, f"one image built from deploy/Dockerfile expected, got {built}"
    return built.pop()


def kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def k8s_docs() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path, doc


def kustomization(path: Path) -> dict[str, Any]:
    return yaml.safe_load((path / "kustomization.yaml").read_text())


def generator_literals(kind: str) -> dict[str, str]:
    """All key=value literals of configMapGenerator/secretGenerator in every kustomization."""
    out: dict[str, str] = {}
    for directory in kustomization_dirs():
        for gen in kustomization(directory).get(kind, []):
            for literal in gen.get("literals", []):
                key, _, value = literal.partition("=")
                out[key] = value
    return out


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def workloads() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p, d in k8s_docs() if d["kind"] in ("Deployment", "StatefulSet")]


def is_dpmatch_image(image: str) -> bool:
    return image.split(":")[0].rsplit("/", 1)[-1] == "dpmatch"


def dpmatch_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for _, doc in workloads():
        spec = pod_spec(doc)
        for container in spec.get("initContainers", []) + spec["containers"]:
            if is_dpmatch_image(container["image"]):
                yield doc["metadata"]["name"], container


def check_dpmatch_argv(argv: list[str], where: str) -> None:
    assert argv, f"{where}: no dpmatch subcommand"
    sub, args = argv[0], argv[1:]
    assert sub in SUBCOMMANDS, f"{where}: unknown subcommand {sub!r}"
    if sub == "serve":
        assert args and args[0] in GRPC_SERVICES, f"{where}: serve needs one of {GRPC_SERVICES}"
    elif sub == "migrate":
        assert args and args[0] in DB_SERVICES, f"{where}: migrate needs one of {DB_SERVICES}"
    elif sub == "probe":
        host, _, port = args[0].rpartition(":")
        assert host and int(port) in config.DEFAULT_PORTS.values(), f"{where}: probe {args}"
    try:
        from dpm.cli.main import parser
    except ModuleNotFoundError:
        return  # the CLI is not there yet: the checks above are all we have
    try:
        parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{where}: `dpmatch {' '.join(argv)}` is rejected by the CLI ({exc})")


def is_worker(service: dict[str, Any]) -> bool:
    return as_argv(service.get("command"))[:1] == ["worker"]


def container_env(container: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


# ---------------------------------------------------------------- settings names


def test_every_dpm_variable_is_a_settings_field() -> None:
    allowed = allowed_settings_names()
    assert {"DPM_TOKEN_SECRET", "DPM_DATABASE_URL", "DPM_PORT"} <= allowed
    files = [COMPOSE_FILE, DOCKERFILE, *DEPLOY.rglob("*.yaml")]
    unknown = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in DPM_NAME.findall(path.read_text())
        if name not in allowed
    }
    assert not unknown, f"not read by any settings class: {sorted(unknown)}"


# ---------------------------------------------------------------- docker compose


def test_compose_services_run_known_subcommands_on_their_ports() -> None:
    compose = load_compose()
    services = dpmatch_services(compose)
    served = {}
    for name, service in services.items():
        argv = as_argv(service.get("command"))
        check_dpmatch_argv(argv, f"compose {name}")
        if argv[0] == "serve":
            served[argv[1]] = name
            port = config.DEFAULT_PORTS[argv[1]]
            env = compose_env(service)
            assert env.get("DPM_PORT") in (None, str(port)), f"{name}: DPM_PORT"
            assert f"{port}:{port}" in [str(p) for p in service.get("ports", [])], name
    assert set(served) == GRPC_SERVICES, "each gRPC service runs once"
    workers = [s for s in services.values() if is_worker(s)]
    assert len([s for s in workers if "--beat" in as_argv(s["command"])]) == 1, "one beat"


def test_compose_grpc_services_have_probe_healthchecks() -> None:
    for name, service in dpmatch_services(load_compose()).items():
        argv = as_argv(service.get("command"))
        if argv[0] != "serve":
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
        assert test[0] in ("CMD", "CMD-SHELL")
        probe = as_argv(test[1:]) if test[0] == "CMD" else test[1].split()
        assert probe[:2] == ["dpmatch", "probe"], f"{name}: {test}"
        check_dpmatch_argv(probe[1:], f"compose {name} healthcheck")
        assert probe[2] == f"127.0.0.1:{config.DEFAULT_PORTS[argv[1]]}", f"{name}: {test}"


def test_compose_dependencies_exist_and_order_migrations() -> None:
    compose = load_compose()
    services = compose["services"]
    for name, service in services.items():
        deps = service.get("depends_on") or {}
        for target in deps:
            assert target in services, f"{name} depends on missing {target}"
            assert target != name
    for svc in DB_SERVICES:
        server = next(s for s in services.values() if as_argv(s.get("command")) == ["serve", svc])
        migrator_name, _ = next(
            (n, s) for n, s in services.items() if as_argv(s.get("command")) == ["migrate", svc]
        )
        dep = server["depends_on"][migrator_name]
        assert dep["condition"] == "service_completed_successfully"
        env = compose_env(server)
        assert env["DPM_MIGRATE_ON_START"].lower() == "false"
        assert env["DPM_DATABASE_URL"].startswith("postgresql://")
        assert env["DPM_DATABASE_URL"].endswith(f"/{svc}")
        assert compose_env(services[migrator_name])["DPM_DATABASE_URL"] == env["DPM_DATABASE_URL"]
        assert services[migrator_name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[migrator_name].get("restart") == "no"


def test_compose_shared_environment() -> None:
    compose = load_compose()
    otel_names = []
    for name, service in dpmatch_services(compose).items():
        env = compose_env(service)
        # No default: compose refuses to start unless the operator sets one.
        assert env["DPM_TOKEN_SECRET"].startswith("${DPM_TOKEN_SECRET:?"), name
        assert env["DPM_REDIS_URL"].startswith("redis://redis:"), name
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317", name
        otel_names.append(env["OTEL_SERVICE_NAME"])
        for svc, port in config.DEFAULT_PORTS.items():
            addr = env[f"DPM_{svc.upper()}_ADDR"]
            host, _, addr_port = addr.rpartition(":")
            assert int(addr_port) == port and host in compose["services"], f"{name}: {addr}"
    assert len(otel_names) == len(set(otel_names)), "OTEL_SERVICE_NAME differs per service"


def test_compose_worker_scales_and_mounts_exist() -> None:
    compose = load_compose()
    for worker in filter(is_worker, compose["services"].values()):
        assert "container_name" not in worker and "ports" not in worker, "worker must scale"
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["otel-collector"]["image"].startswith(
        "otel/opentelemetry-collector-contrib"
    )


def test_otel_collector_config_receives_otlp_grpc_and_prints() -> None:
    collector = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    assert "grpc" in collector["receivers"]["otlp"]["protocols"]
    assert collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    pipelines = collector["service"]["pipelines"]
    for kind in ("traces", "metrics"):
        assert "otlp" in pipelines[kind]["receivers"]
        assert "debug" in pipelines[kind]["exporters"]
    for pipeline in pipelines.values():
        for component in ("receivers", "processors", "exporters"):
            for item in pipeline.get(component, []):
                assert item in collector[component], f"undefined {component[:-1]} {item}"


def test_postgres_init_script_makes_both_databases() -> None:
    compose_sql = (DEPLOY / "compose" / "init-databases.sql").read_text()
    for db in DB_SERVICES:
        assert re.search(rf"CREATE DATABASE {db}\b", compose_sql), db
    assert (K8S / "overlays" / "local" / "postgres-init.sql").read_text() == compose_sql


def test_compose_matches_compose_spec_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    try:
        from importlib.resources import files

        schema_text = (
            files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
        ).read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        pytest.skip("check-jsonschema (which ships the compose-spec schema) is not installed")
    jsonschema.validate(load_compose(), json.loads(schema_text))


def test_docker_compose_config_when_available() -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker client on this machine")
    try:
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.skip("docker compose version timed out")
    if probe.returncode != 0:
        pytest.skip(f"docker compose plugin unavailable: {probe.stderr.strip()[:200]}")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "DPM_TOKEN_SECRET": secrets.token_urlsafe(32)},
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_builds_python_311_image_running_dpmatch_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    bases = [
        re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], b)
        for b in re.findall(r"^FROM (\S+)", text, re.M)
    ]
    assert len(bases) >= 2, "multi-stage build"
    for base in bases:
        match = re.fullmatch(r"python:(\d+)\.(\d+)[-\w.]*", base)
        assert match, f"unexpected base image {base}"
        assert (int(match[1]), int(match[2])) >= (3, 11), base
    assert re.search(r"pip wheel[^\n]* \.(\s|$)", text), "builds the project wheel"
    assert re.search(r"pip install[^\n]*dpmatch", text), "installs the project"
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "runs as non-root"
    assert re.search(r'^ENTRYPOINT \["dpmatch"\]', text, re.M)
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.+)$", text, re.M) for p in line.split()}
    assert set(config.DEFAULT_PORTS.values()) <= exposed
    ignore = (ROOT / ".dockerignore").read_text().split()
    for needed in ("!pyproject.toml", "!README.md", "!services/"):
        assert needed in ignore, f".dockerignore drops {needed[1:]}"


# ---------------------------------------------------------------- Kubernetes


def test_kustomization_references_exist() -> None:
    dirs = kustomization_dirs()
    assert {d.relative_to(K8S).as_posix() for d in dirs} >= {"base", "overlays/local"}
    for directory in dirs:
        k = kustomization(directory)
        for entry in k.get("resources", []):
            target = (directory / entry).resolve()
            assert target.is_file() or (target / "kustomization.yaml").is_file(), (
                f"{directory.relative_to(ROOT)}: missing resource {entry}"
            )
        for gen in k.get("configMapGenerator", []) + k.get("secretGenerator", []):
            for file_entry in gen.get("files", []):
                assert (directory / file_entry.split("=")[-1]).is_file(), file_entry
            for env_file in gen.get("envs", []):
                # Made by the operator (secrets): never in git.
                assert _git_ignored(directory / env_file), f"{env_file} is not git-ignored"
        for patch in k.get("patches", []):
            if "path" in patch:
                assert (directory / patch["path"]).is_file(), patch["path"]


def test_k8s_base_has_the_expected_objects() -> None:
    base = kustomization(K8S / "base")
    assert base["namespace"] == "dpmatch"
    kinds: dict[str, set[str]] = {}
    for path, doc in k8s_docs():
        if path.is_relative_to(K8S / "base"):
            kinds.setdefault(doc["kind"], set()).add(doc["metadata"]["name"])
    assert kinds["Namespace"] == {"dpmatch"}
    assert kinds["Deployment"] == GRPC_SERVICES | {"worker", "worker-beat"}
    assert kinds["Service"] == GRPC_SERVICES
    assert kinds["HorizontalPodAutoscaler"] >= {"matching", "worker"}
    assert kinds["PodDisruptionBudget"] >= GRPC_SERVICES
    config_map = generator_literals("configMapGenerator")
    secrets = generator_literals("secretGenerator")
    assert "DPM_TOKEN_SECRET" in secrets and "DPM_TOKEN_SECRET" not in config_map
    for svc, port in config.DEFAULT_PORTS.items():
        assert config_map[f"DPM_{svc.upper()}_ADDR"] == f"{svc}:{port}"
    assert config_map["DPM_MIGRATE_ON_START"] == "false"
    local = kustomization(K8S / "overlays" / "local")
    local_kinds = {
        doc["kind"] for path, doc in k8s_docs() if path.is_relative_to(K8S / "overlays" / "local")
    }
    assert {"StatefulSet", "Deployment", "Service"} <= local_kinds
    assert "../../base" in local["resources"]


def test_k8s_containers_run_known_subcommands() -> None:
    seen = set()
    for workload, container in dpmatch_containers():
        argv = as_argv(container.get("command") or container.get("args"))
        check_dpmatch_argv(argv, f"k8s {workload}/{container['name']}")
        seen.add(tuple(argv[:2]))
    assert {("serve", s) for s in GRPC_SERVICES} <= seen
    assert {("migrate", s) for s in DB_SERVICES} <= seen
    assert ("worker", "--concurrency") in seen
    beats = [
        d
        for _, d in workloads()
        if any("--beat" in as_argv(c.get("args")) for c in pod_spec(d)["containers"])
    ]
    assert len(beats) == 1, "exactly one Deployment runs the Celery beat scheduler"
    assert beats[0]["spec"]["replicas"] == 1
    assert beats[0]["spec"]["strategy"]["type"] == "Recreate", "two schedulers never overlap"
    hpa_targets = {
        d["spec"]["scaleTargetRef"]["name"]
        for _, d in k8s_docs()
        if "scaleTargetRef" in d.get("spec", {})
    }
    assert beats[0]["metadata"]["name"] not in hpa_targets


def test_k8s_grpc_deployments_probe_their_port_and_drain() -> None:
    grace = float(generator_literals("configMapGenerator")["DPM_SHUTDOWN_GRACE_SECONDS"])
    hpa_min = {
        d["spec"]["scaleTargetRef"]["name"]: d["spec"]["minReplicas"]
        for _, d in k8s_docs()
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    for _, doc in workloads():
        spec = pod_spec(doc)
        name = doc["metadata"]["name"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            resources = container.get("resources", {})
            assert resources.get("requests") and resources.get("limits"), f"{name} resources"
        for container in spec["containers"]:
            argv = as_argv(container.get("args"))
            if not is_dpmatch_image(container["image"]) or argv[:1] != ["serve"]:
                continue
            port = config.DEFAULT_PORTS[argv[1]]
            assert [p["containerPort"] for p in container["ports"]] == [port], name
            assert container_env(container).get("DPM_PORT") in (None, str(port)), name
            for probe in ("readinessProbe", "livenessProbe"):
                assert container[probe]["grpc"]["port"] == port, f"{name} {probe}"
            # Liveness asks the always-SERVING entry: a dependency outage must not
            # restart pods, only take them out of the Service (readiness).
            assert container["livenessProbe"]["grpc"].get("service") == LIVENESS, name
            assert container["readinessProbe"]["grpc"].get("service", "") == "", name
            if "startupProbe" in container:
                assert container["startupProbe"]["grpc"]["port"] == port
            sleep = container["lifecycle"]["preStop"]["exec"]["command"]
            assert sleep[0] == "sleep", name
            assert spec["terminationGracePeriodSeconds"] > float(sleep[1]) + grace, name
            replicas = doc["spec"].get("replicas", hpa_min.get(name, 1))
            assert replicas >= 2 and hpa_min.get(name, 2) >= 2, f"{name} replicas"
            if argv[1] in DB_SERVICES:
                migrate = [c for c in spec.get("initContainers", []) if c["args"][0] == "migrate"]
                assert migrate and migrate[0]["args"][1] == argv[1], f"{name} migration"


def test_k8s_selectors_match_workloads() -> None:
    templates = {
        (d["kind"], d["metadata"]["name"]): d["spec"]["template"]["metadata"]["labels"]
        for _, d in workloads()
    }
    port_names = {
        p.get("name")
        for _, d in workloads()
        for c in pod_spec(d)["containers"]
        for p in c.get("ports", [])
    }

    def selected(selector: dict[str, str]) -> bool:
        return any(selector.items() <= labels.items() for labels in templates.values())

    for _, doc in workloads():
        selector = doc["spec"]["selector"]["matchLabels"]
        assert selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()
    for path, doc in k8s_docs():
        kind, name = doc["kind"], doc["metadata"]["name"]
        if kind == "Service":
            assert selected(doc["spec"]["selector"]), f"{path.name}: Service {name} selects nothing"
            for port in doc["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                assert isinstance(target, int) or target in port_names, f"{name}: {target}"
            if name in config.DEFAULT_PORTS:
                assert [p["port"] for p in doc["spec"]["ports"]] == [config.DEFAULT_PORTS[name]]
        elif kind == "PodDisruptionBudget":
            assert selected(doc["spec"]["selector"]["matchLabels"]), f"PDB {name} selects nothing"
        elif kind == "HorizontalPodAutoscaler":
            ref = doc["spec"]["scaleTargetRef"]
            assert (ref["kind"], ref["name"]) in templates, f"HPA {name} targets nothing"


def _kustomize_command() -> list[str] | None:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


def _git_ignored(path: Path) -> bool:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT).returncode == 0


def secret_env_files() -> list[Path]:
    """The env files of secretGenerators (operator-made, git-ignored) in every kustomization."""
    return [
        directory / env_file
        for directory in kustomization_dirs()
        for gen in kustomization(directory).get("secretGenerator", [])
        for env_file in gen.get("envs", [])
    ]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, list[dict[str, Any]]]:
    command = _kustomize_command()
    if command is None:
        if IN_CI:
            pytest.fail("CI must render the manifests: install kubectl or kustomize")
        pytest.skip("neither kubectl nor kustomize is installed")
    # A copy, with the secret env files an operator would make.
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copy)
    for env_file in secret_env_files():
        made = copy / env_file.relative_to(K8S)
        if not made.exists():
            made.write_text(f"DPM_TOKEN_SECRET={secrets.token_urlsafe(32)}\n")
    out = {}
    for directory in kustomization_dirs():
        result = subprocess.run(
            [*command, str(copy / directory.relative_to(K8S))],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{directory}: {result.stderr}"
        out[directory] = [d for d in yaml.safe_load_all(result.stdout) if d]
    return out


def test_no_deployment_file_ships_a_usable_token_secret() -> None:
    """Compose requires the operator's secret; every secret written in a manifest is one
    the servers refuse; the local overlay takes its secret from a git-ignored file."""
    compose = load_compose()
    for name, service in dpmatch_services(compose).items():
        assert compose_env(service)["DPM_TOKEN_SECRET"].startswith("${DPM_TOKEN_SECRET:?"), name
    for directory in kustomization_dirs():
        for gen in kustomization(directory).get("secretGenerator", []):
            for literal in gen.get("literals", []):
                key, _, value = literal.partition("=")
                if key in ("DPM_TOKEN_SECRET", "DPM_PREVIOUS_TOKEN_SECRETS") and value:
                    assert secret_problem(value), f"{directory.name}: usable {key} in git"
    assert secret_env_files(), "the local overlay reads its token secret from a file"
    for path in secret_env_files():
        assert _git_ignored(path), path


def test_rendered_secrets_come_from_the_operator(
    rendered: dict[Path, list[dict[str, Any]]],
) -> None:
    for directory, docs in rendered.items():
        for doc in docs:
            if doc["kind"] == "Secret" and doc["metadata"]["name"].startswith("dpmatch-secrets"):
                value = base64.b64decode(doc["data"]["DPM_TOKEN_SECRET"]).decode()
                local = directory.name == "local"
                # base: the placeholder the servers refuse; local: the operator's file.
                assert (secret_problem(value) is None) is local, directory


def test_kustomize_builds_every_kustomization(rendered: dict[Path, list[dict[str, Any]]]) -> None:
    allowed = allowed_settings_names()
    for directory, docs in rendered.items():
        namespaced = [d for d in docs if d["kind"] != "Namespace"]
        assert all(d["metadata"].get("namespace") == "dpmatch" for d in namespaced), directory
        env_names = set()
        for doc in docs:
            if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("dpmatch-config"):
                env_names |= set(doc["data"])
            if doc["kind"] in ("Deployment", "StatefulSet"):
                for c in pod_spec(doc).get("initContainers", []) + pod_spec(doc)["containers"]:
                    env_names |= {e["name"] for e in c.get("env", [])}
        unknown = {n for n in env_names if n.startswith("DPM_")} - allowed
        assert not unknown, f"{directory}: {unknown}"


def test_rendered_manifests_match_kubernetes_schemas(
    rendered: dict[Path, list[dict[str, Any]]],
) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        if IN_CI:
            pytest.fail("CI must validate the manifests: kubernetes-validate is not installed")
        pytest.skip("kubernetes-validate (Kubernetes JSON schemas) not installed")
    for directory, docs in rendered.items():
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, "1.30.0", strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{directory}: {doc['kind']}/{doc['metadata']['name']}: {exc.message}")


def test_env_example_lists_every_variable_compose_reads() -> None:
    """``cp .env.example .env`` is the whole setup: every ``${VAR}`` the compose file
    reads is there (the token secret empty: compose refuses to start until it is set)."""
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))
    example = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    assert used == set(example), used ^ set(example)
    assert example["DPM_TOKEN_SECRET"] == ""


def test_every_compose_service_has_a_memory_limit_and_rotated_logs() -> None:
    for name, service in load_compose()["services"].items():
        assert re.fullmatch(r"\d+[mg]", str(service.get("mem_limit", ""))), name
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert {"max-size", "max-file"} <= set(logging.get("options", {})), name


def test_each_workload_has_its_own_service_account_without_an_api_token(
    rendered: dict[Path, list[dict[str, Any]]],
) -> None:
    for directory, docs in rendered.items():
        accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
        for doc in docs:
            if doc["kind"] != "Deployment" or not any(
                is_dpmatch_image(c["image"]) for c in pod_spec(doc)["containers"]
            ):
                continue
            name = doc["metadata"]["name"]
            assert pod_spec(doc).get("serviceAccountName") == name, (directory, name)
            assert pod_spec(doc).get("automountServiceAccountToken") is False, (directory, name)
            assert accounts[name].get("automountServiceAccountToken") is False, (directory, name)


def test_only_matching_accepts_calls_from_outside_the_namespace(
    rendered: dict[Path, list[dict[str, Any]]],
) -> None:
    for directory, docs in rendered.items():
        policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
        default_deny = [
            p
            for p in policies
            if p["spec"]["podSelector"] == {}
            and p["spec"].get("policyTypes") == ["Ingress"]
            and not p["spec"].get("ingress")
        ]
        assert default_deny, f"{directory}: no default-deny ingress policy"
        for policy in policies:
            for rule in policy["spec"].get("ingress", []):
                sources = rule.get("from")
                if sources:  # from pods of this namespace only
                    assert all(set(s) == {"podSelector"} for s in sources), policy
                    continue
                selected = policy["spec"]["podSelector"].get("matchLabels", {})
                assert selected.get("app.kubernetes.io/name") == "matching", policy
                assert [p["port"] for p in rule.get("ports", [])] == [50054], policy

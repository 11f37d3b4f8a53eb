"""The observability profile agrees with itself, with the compose file and with the code.

docker-compose.yml's `observability` profile (Jaeger, Prometheus, Grafana), the
collector config that feeds it (deploy/otel-collector.yaml), the files under
deploy/observability/ and the worker's autoscaler in deploy/k8s/base/worker.yaml.
PyYAML and json read the files. Prometheus' `promtool` (from the machine, or Debian's
package fetched on first use: tests/debian_tools.py) also checks prometheus.yml and
parses every PromQL expression of the dashboards. Nothing here runs the collector,
Jaeger, Prometheus or Grafana themselves.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from dpm.platform.events import Queue
from tests.debian_tools import debian_tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
COLLECTOR_CONFIG = DEPLOY / "otel-collector.yaml"
OBSERVABILITY = DEPLOY / "observability"
PROMETHEUS_CONFIG = OBSERVABILITY / "prometheus.yml"
GRAFANA = OBSERVABILITY / "grafana"
K8S_BASE = DEPLOY / "k8s" / "base"

PROFILE = "observability"
PROFILE_SERVICES = {"jaeger", "prometheus", "grafana"}
COLLECTOR = "otel-collector"

# The metrics as Prometheus names them after the collector's prometheus exporter:
# the instrument names of services/dpm/platform/telemetry.py (and the gauges of
# dpm.platform.outbox and dpm.platform.queue_depth) with "." -> "_", unit s ->
# "_seconds", counters + "_total"; histograms add _bucket/_sum/_count.
# name -> (instrument kind, its attributes, i.e. the series' labels).
METRICS: dict[str, tuple[str, frozenset[str]]] = {
    "dpm_recommendations_reads_total": ("counter", frozenset({"cache", "tier"})),
    "dpm_recommendations_compute_duration_seconds": ("histogram", frozenset()),
    "dpm_ledger_events_total": ("counter", frozenset()),
    "dpm_outbox_published_total": ("counter", frozenset({"task"})),
    "dpm_outbox_backlog": ("gauge", frozenset({"measure"})),
    "dpm_rematch_clients_total": ("counter", frozenset({"trigger"})),
    "dpm_calls_refused_total": ("counter", frozenset({"caller", "reason"})),
    "dpm_worker_task_duration_seconds": ("histogram", frozenset({"task", "outcome"})),
    "dpm_worker_task_retries_total": ("counter", frozenset({"task"})),
    "dpm_rematch_event_to_fresh_seconds": ("histogram", frozenset()),
    "dpm_worker_queue_depth": ("gauge", frozenset({"queue"})),
    "dpm_worker_dead_messages_total": ("counter", frozenset({"task"})),
}
# Labels on every series: the collector's (job = service.name, scope) and Prometheus'.
COMMON_LABELS = {
    "job",
    "instance",
    "otel_scope_name",
    "otel_scope_version",
    "otel_scope_schema_url",
}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
# Instrument constructors in the code -> the kind the exporter turns them into.
INSTRUMENT_KINDS = {
    "create_counter": "counter",
    "create_observable_counter": "counter",
    "Tally": "counter",
    "create_histogram": "histogram",
    "create_gauge": "gauge",
    "create_observable_gauge": "gauge",
    "create_up_down_counter": "gauge",
    "create_observable_up_down_counter": "gauge",
}

# ---------------------------------------------------------------- helpers


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def load_collector() -> dict[str, Any]:
    return yaml.safe_load(COLLECTOR_CONFIG.read_text())


def bind_mounts(service: dict[str, Any]) -> dict[Path, str]:
    """Repository path -> container path of a service's `./...` volumes."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if source.startswith("."):
            mounts[(ROOT / source).resolve()] = rest.split(":")[0]
    return mounts


def container_ports(service: dict[str, Any]) -> set[int]:
    """Ports a service offers on the compose network: `expose` and published ones."""
    ports = {int(str(p).split("/")[0]) for p in service.get("expose", [])}
    ports |= {int(str(p).split("/")[0].rsplit(":", 1)[-1]) for p in service.get("ports", [])}
    return ports


def host_port(address: str) -> tuple[str, int]:
    """`host:port` of an endpoint, with or without a scheme and path."""
    address = re.sub(r"^\w+://", "", address).split("/")[0]
    host, _, port = address.rpartition(":")
    return host, int(port)


def collector_exporter(config: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    """The one exporter of `kind` (`otlp`, `otlp/jaeger`, ...) the pipelines use."""
    used = {e for p in config["service"]["pipelines"].values() for e in p.get("exporters", [])}
    found = [(n, config["exporters"][n] or {}) for n in used if n.split("/")[0] == kind]
    assert len(found) == 1, f"one {kind} exporter in use expected, got {found}"
    return found[0]


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def dashboards() -> dict[Path, dict[str, Any]]:
    files = sorted((GRAFANA / "dashboards").glob("*.json"))
    assert files, "no dashboard"
    return {path: json.loads(path.read_text()) for path in files}


def datasource_uid() -> str:
    sources = [
        source
        for path in sorted((GRAFANA / "provisioning" / "datasources").glob("*.y*ml"))
        for source in yaml.safe_load(path.read_text()).get("datasources", [])
    ]
    prometheus = [s for s in sources if s["type"] == "prometheus"]
    assert len(prometheus) == 1, sources
    return str(prometheus[0]["uid"])


def expressions() -> Iterator[tuple[str, str, str]]:
    """(panel title, PromQL, legend format) of every query of every dashboard."""
    for board in dashboards().values():
        for panel in all_panels(board["panels"]):
            for target in panel.get("targets", []):
                yield panel["title"], target["expr"], target.get("legendFormat", "")


def series_names() -> dict[str, str]:
    """Every series name the metrics give Prometheus -> the metric it belongs to."""
    names = {}
    for name, (kind, _) in METRICS.items():
        suffixes = HISTOGRAM_SERIES if kind == "histogram" else ("",)
        names.update({name + suffix: name for suffix in suffixes})
    return names


def labels_used(expr: str) -> set[str]:
    """Label names in selectors and in by/without/on/ignoring/group_* clauses."""
    used = set()
    for selector in re.findall(r"\{([^}]*)\}", expr):
        used |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector))
    for clause in re.findall(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr
    ):
        used |= {label.strip() for label in clause.split(",") if label.strip()}
    return used


def prometheus_name(otel_name: str, kind: str, unit: str) -> str:
    """The prometheus exporter's name for an instrument (add_metric_suffixes: true)."""
    name = otel_name.replace(".", "_")
    if unit == "s":
        name += "_seconds"
    return name + "_total" if kind == "counter" else name


def code_instruments() -> dict[str, str]:
    """Prometheus name -> kind of every dpm.* instrument the code creates."""
    call = re.compile(r"\b(" + "|".join(INSTRUMENT_KINDS) + r")\(\s*\"(dpm\.[\w.]+)\"")
    found = {}
    for path in sorted((ROOT / "services" / "dpm").rglob("*.py")):
        text = path.read_text()
        for match in call.finditer(text):
            # The call's own arguments, up to its closing parenthesis.
            depth, end = 0, match.end(1)
            for end in range(match.end(1), len(text)):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            unit = re.search(r"\bunit\s*=\s*\"([^\"]*)\"", text[match.end(1) : end])
            kind = INSTRUMENT_KINDS[match.group(1)]
            found[prometheus_name(match.group(2), kind, unit.group(1) if unit else "")] = kind
    return found


# ---------------------------------------------------------------- compose profile


def test_observability_services_run_only_in_their_profile_and_mount_repo_files() -> None:
    compose = load_compose()
    services = compose["services"]
    in_profiles = {name for name, s in services.items() if s.get("profiles")}
    assert in_profiles == PROFILE_SERVICES
    for name in PROFILE_SERVICES:
        service = services[name]
        assert service["profiles"] == [PROFILE], name
        image, _, tag = service["image"].rpartition(":")
        assert image and "/" not in tag and tag not in ("", "latest"), f"{name}: pin a tag"
        assert "@" not in service["image"], f"{name}: a tag, not a digest"
        assert re.fullmatch(r"\d+[mg]", str(service.get("mem_limit", ""))), name
        assert service.get("logging") == compose["x-logging"], f"{name}: logging: *logging"
        for published in service.get("ports", []):
            # Anonymous UIs: on the host's loopback only.
            assert str(published).startswith("127.0.0.1:"), f"{name}: {published}"
        for source in bind_mounts(service):
            assert source.is_relative_to(ROOT) and source.exists(), f"{name}: {source}"
    assert bind_mounts(services["prometheus"]), "prometheus mounts its config"
    assert len(bind_mounts(services["grafana"])) >= 2, "grafana mounts provisioning, dashboards"
    # A plain `docker compose up` needs nothing from the profile.
    for name, service in services.items():
        if name not in PROFILE_SERVICES:
            assert not set(service.get("depends_on") or {}) & PROFILE_SERVICES, name


def test_jaeger_takes_otlp_and_shows_its_ui() -> None:
    jaeger = load_compose()["services"]["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/all-in-one:")
    assert str(jaeger["environment"]["COLLECTOR_OTLP_ENABLED"]).lower() == "true"
    assert 16686 in container_ports(jaeger)


# ---------------------------------------------------------------- collector


def test_collector_pipelines_use_defined_components_and_still_print() -> None:
    config = load_collector()
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"], f"undefined extension {extension}"
    pipelines = config["service"]["pipelines"]
    assert {"traces", "metrics"} <= set(pipelines)
    for kind, pipeline in pipelines.items():
        for component in ("receivers", "processors", "exporters"):
            for item in pipeline.get(component, []):
                assert item in config.get(component, {}), f"{kind}: undefined {item}"
        assert "otlp" in pipeline["receivers"], kind
        assert "debug" in pipeline["exporters"], f"{kind}: the debug exporter prints as before"
        processors = pipeline.get("processors", [])
        if "memory_limiter" in processors:  # the collector's rule: first in the pipeline
            assert processors[0] == "memory_limiter", kind


def test_collector_sends_traces_to_the_jaeger_service() -> None:
    config = load_collector()
    services = load_compose()["services"]
    name, exporter = collector_exporter(config, "otlp")
    assert name in config["service"]["pipelines"]["traces"]["exporters"]
    host, port = host_port(exporter["endpoint"])
    assert host == "jaeger" and host in services, exporter["endpoint"]
    assert port in container_ports(services[host]), f"jaeger does not offer {port}"
    assert exporter.get("tls", {}).get("insecure") is True, "jaeger speaks plaintext OTLP"
    # Jaeger is absent without the profile: retries stay in the background, bounded.
    queue = exporter.get("sending_queue", {})
    assert queue.get("enabled", True) and not queue.get("blocking", False)
    assert exporter.get("retry_on_failure", {}).get("enabled", True)


def test_collector_serves_the_metrics_under_their_own_names() -> None:
    config = load_collector()
    name, exporter = collector_exporter(config, "prometheus")
    assert name in config["service"]["pipelines"]["metrics"]["exporters"]
    # A namespace would prefix every name; the dashboard and the HPA use them bare.
    assert not exporter.get("namespace"), "no namespace: dpm_* names as they are"
    assert exporter.get("add_metric_suffixes", True) is True, "_total/_seconds suffixes"
    assert "translation_strategy" not in exporter
    host, port = host_port(exporter["endpoint"])
    assert host in ("0.0.0.0", ""), "reachable from the prometheus container"
    assert port in container_ports(load_compose()["services"][COLLECTOR])


# ---------------------------------------------------------------- Prometheus


def test_prometheus_scrapes_the_collector_exporter() -> None:
    services = load_compose()["services"]
    prometheus = services["prometheus"]
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    _, exporter = collector_exporter(load_collector(), "prometheus")
    _, port = host_port(exporter["endpoint"])
    jobs = [
        job
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        if f"{COLLECTOR}:{port}" in static["targets"]
    ]
    assert len(jobs) == 1, f"no scrape job for {COLLECTOR}:{port}"
    # Keep the collector's `job` (each process's service.name).
    assert jobs[0].get("honor_labels") is True
    assert jobs[0].get("metrics_path", "/metrics") == "/metrics"
    flags = dict(str(arg).split("=", 1) for arg in prometheus.get("command", []) if "=" in str(arg))
    config_path = flags.get("--config.file", "/etc/prometheus/prometheus.yml")
    assert bind_mounts(prometheus).get(PROMETHEUS_CONFIG.resolve()) == config_path
    assert prometheus["depends_on"][COLLECTOR]["condition"] == "service_started"


def test_promtool_accepts_the_config_and_every_dashboard_query(tmp_path: Path) -> None:
    promtool = shutil.which("promtool") or str(debian_tool("prometheus", "usr/bin/promtool"))
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Grafana's own variables, as Grafana substitutes them, then each query as a rule.
    grafana_vars = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
    rules = []
    for i, (title, expr, _) in enumerate(expressions()):
        for var, value in grafana_vars.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, f"{title}: unknown variable in {expr}"
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    rules_file = tmp_path / "dashboard-rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- Grafana


def test_grafana_datasource_points_at_prometheus() -> None:
    services = load_compose()["services"]
    path = GRAFANA / "provisioning" / "datasources"
    sources = [s for p in path.glob("*.y*ml") for s in yaml.safe_load(p.read_text())["datasources"]]
    (source,) = [s for s in sources if s["uid"] == datasource_uid()]
    host, port = host_port(source["url"])
    assert host == "prometheus" and port in container_ports(services["prometheus"])
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_started"


def test_grafana_loads_the_dashboards_directory() -> None:
    grafana = load_compose()["services"]["grafana"]
    mounts = bind_mounts(grafana)
    for kind in ("datasources", "dashboards"):
        provisioning = (GRAFANA / "provisioning" / kind).resolve()
        assert mounts.get(provisioning) == f"/etc/grafana/provisioning/{kind}", kind
    providers = [
        provider
        for p in sorted((GRAFANA / "provisioning" / "dashboards").glob("*.y*ml"))
        for provider in yaml.safe_load(p.read_text())["providers"]
    ]
    assert [p["type"] for p in providers] == ["file"]
    assert mounts.get((GRAFANA / "dashboards").resolve()) == providers[0]["options"]["path"]
    home = grafana.get("environment", {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert home.rpartition("/")[0] == providers[0]["options"]["path"], home
        assert (GRAFANA / "dashboards" / home.rpartition("/")[2]).is_file(), home


def test_every_dashboard_panel_has_a_title_and_uses_the_provisioned_datasource() -> None:
    uid = datasource_uid()
    uids = []
    for path, board in dashboards().items():
        uids.append(board["uid"])
        assert board["title"] and board["schemaVersion"] >= 36, path.name
        panels = list(all_panels(board["panels"]))
        assert len([p for p in panels if p.get("targets")]) >= 10, f"{path.name}: few panels"
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in panels:
            assert str(panel.get("title", "")).strip(), f"{path.name}: panel {panel['id']}"
            if panel["type"] == "row":
                continue
            assert panel.get("targets"), f"{panel['title']}: no query"
            assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
            for target in panel["targets"]:
                assert target.get("datasource", panel["datasource"]) == panel["datasource"]
                assert target["expr"].strip(), panel["title"]
    assert len(uids) == len(set(uids)), "dashboard uids repeat"


def test_dashboard_queries_use_only_known_metrics_and_labels() -> None:
    names = series_names()
    seen = set()
    for title, expr, legend in expressions():
        used = set(re.findall(r"\bdpm_\w+", expr))
        assert used, f"{title}: queries no dpm metric: {expr}"
        unknown = used - set(names)
        assert not unknown, f"{title}: not a series of the listed metrics: {unknown}"
        metrics = {names[series] for series in used}
        seen |= metrics
        allowed = set(COMMON_LABELS).union(*(METRICS[m][1] for m in metrics))
        if any(series.endswith("_bucket") for series in used):
            allowed.add("le")
        labels = labels_used(expr) | set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
        assert labels <= allowed, f"{title}: labels {labels - allowed} not on {metrics}"
    assert seen == set(METRICS), f"no panel shows {set(METRICS) - seen}"


def test_metric_list_matches_the_code() -> None:
    code = code_instruments()
    assert "dpm_recommendations_reads_total" in code, "the scan of the code finds nothing"
    for name, kind in code.items():
        assert name in METRICS, f"{name} (from the code) is not in METRICS: add it"
        assert METRICS[name][0] == kind, f"{name}: {kind} in the code"
    missing = set(METRICS) - set(code)
    assert not missing, f"listed but not in the code: {missing}"


# ---------------------------------------------------------------- Kubernetes


def test_worker_hpa_scales_on_cpu_and_queue_depth() -> None:
    docs = [d for d in yaml.safe_load_all((K8S_BASE / "worker.yaml").read_text()) if d]
    (hpa,) = [
        d
        for d in docs
        if d["kind"] == "HorizontalPodAutoscaler"
        and d["spec"]["scaleTargetRef"]["name"] == "worker"
    ]
    metrics = hpa["spec"]["metrics"]
    cpu = [m for m in metrics if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
    assert len(cpu) == 1 and cpu[0]["resource"]["target"]["type"] == "Utilization"
    external = [m["external"] for m in metrics if m["type"] == "External"]
    assert len(external) == 1, "one External queue-depth metric"
    metric, target = external[0]["metric"], external[0]["target"]
    assert metric["name"] in METRICS, metric["name"]
    assert metric["name"] == "dpm_worker_queue_depth"
    kind, labels = METRICS[metric["name"]]
    assert kind == "gauge"
    selector = metric["selector"]["matchLabels"]
    assert set(selector) <= labels and "queue" in selector, selector
    kustomization = yaml.safe_load((K8S_BASE / "kustomization.yaml").read_text())
    literals = dict(
        literal.split("=", 1)
        for gen in kustomization["configMapGenerator"]
        for literal in gen.get("literals", [])
    )
    # The queue the workers consume in this deployment.
    assert selector["queue"] == Queue.REMATCH.in_deployment(literals["DPM_DEPLOYMENT"])
    assert target["type"] == "AverageValue" and float(target["averageValue"]) > 0

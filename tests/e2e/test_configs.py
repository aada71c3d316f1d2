"""collector-config/ kept consistent with itself: builder manifest, Collector configs, docker-compose.yaml
(which cannot run here: no Docker engine), Prometheus config and the build script's pinned versions."""

from __future__ import annotations

import re

from e2e_support import BUILD_SCRIPT, CONFIG

MANIFEST = CONFIG / "builder-config.yaml"
COMPOSE = CONFIG / "docker-compose.yaml"
COLLECTOR_CONFIGS = ("otelcol.yaml", "otelcol-agent.yaml")

# component type in a config -> the module that provides it
MODULES = {
    ("receivers", "otlp"): "go.opentelemetry.io/collector/receiver/otlpreceiver",
    ("processors", "memory_limiter"): "go.opentelemetry.io/collector/processor/memorylimiterprocessor",
    ("processors", "batch"): "go.opentelemetry.io/collector/processor/batchprocessor",
    (
        "processors",
        "tail_sampling",
    ): "github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor",
    (
        "processors",
        "redaction",
    ): "github.com/open-telemetry/opentelemetry-collector-contrib/processor/redactionprocessor",
    (
        "processors",
        "transform",
    ): "github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor",
    (
        "processors",
        "attributes",
    ): "github.com/open-telemetry/opentelemetry-collector-contrib/processor/attributesprocessor",
    (
        "connectors",
        "span_metrics",
    ): "github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector",
    ("exporters", "otlp_grpc"): "go.opentelemetry.io/collector/exporter/otlpexporter",
    ("exporters", "otlp_http"): "go.opentelemetry.io/collector/exporter/otlphttpexporter",
    ("exporters", "debug"): "go.opentelemetry.io/collector/exporter/debugexporter",
    (
        "exporters",
        "prometheus",
    ): "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter",
}
SECTIONS = ("receivers", "processors", "exporters", "connectors")


def manifest_modules() -> dict[str, str]:
    return dict(re.findall(r"^\s*- gomod: (\S+) (\S+)", MANIFEST.read_text(), re.M))


def manifest_version() -> str:
    return re.search(r"^  version: (\S+)", MANIFEST.read_text(), re.M)[1]


def components(config: str) -> set[tuple[str, str]]:
    """(section, type) of every component a Collector config defines."""
    found, section = set(), None
    for line in (CONFIG / config).read_text().splitlines():
        if top := re.match(r"^(\w+):", line):
            section = top[1] if top[1] in SECTIONS else None
        elif section and (item := re.match(r"^  ([a-z_]+)(?:/[\w-]+)?:", line)):
            found.add((section, item[1]))
    return found


def env_references(text: str) -> set[str]:
    return set(re.findall(r"\$\{env:(\w+)", text))


def test_manifest_has_exactly_the_components_the_configs_use():
    used = set().union(*(components(config) for config in COLLECTOR_CONFIGS))
    unknown = used - set(MODULES)
    assert not unknown, f"add these to MODULES and to the manifest: {unknown}"
    assert {MODULES[component] for component in used} == set(manifest_modules()) - {
        module for module in manifest_modules() if "/confmap/provider/" in module
    }


def test_manifest_versions_are_one_release():
    version = manifest_version()
    for module, module_version in manifest_modules().items():
        if "/confmap/provider/" in module:
            continue  # the stable 1.x modules of the same release
        assert module_version == f"v{version}", module
    providers = {v for m, v in manifest_modules().items() if "/confmap/provider/" in m}
    assert len(providers) == 1
    builder = re.search(r"^BUILDER_VERSION=(\S+)", BUILD_SCRIPT.read_text(), re.M)[1]
    assert builder == f"v{version}"


def test_compose_uses_the_versions_we_build_and_files_that_exist():
    compose = COMPOSE.read_text()
    jaeger = re.search(r"^JAEGER_VERSION=(\S+)", BUILD_SCRIPT.read_text(), re.M)[1]
    assert f"image: jaegertracing/jaeger:{jaeger}\n" in compose
    assert f"image: otel/opentelemetry-collector-contrib:{manifest_version()}\n" in compose
    mounts = re.findall(r"^\s*- \./(\S+?):(\S+?):ro$", compose, re.M)
    assert len(mounts) == 4
    for local, _ in mounts:
        assert (CONFIG / local).is_file(), local
    for config in ("otelcol.yaml", "jaeger.yaml"):
        assert f"--config=/etc/{'otelcol' if config == 'otelcol.yaml' else 'jaeger'}/{config}" in compose


def service_env(compose: str, service: str) -> dict[str, str]:
    block = re.search(rf"^  {service}:\n((?:    .*\n|\n)*)", compose, re.M)[1]
    env = re.search(r"^    environment:\n((?:      .*\n)*)", block, re.M)[1]
    return dict(re.findall(r"^      (\w+): (\S+)", env, re.M))


def test_compose_wires_the_services_together():
    compose = COMPOSE.read_text()
    collector, jaeger = service_env(compose, "otel-collector"), service_env(compose, "jaeger")
    # Every variable compose sets is one the mounted config reads.
    assert set(collector) <= env_references((CONFIG / "otelcol.yaml").read_text())
    assert set(jaeger) <= env_references((CONFIG / "jaeger.yaml").read_text())
    # Collector -> Jaeger over OTLP/gRPC, inside the compose network.
    assert (
        collector["AGENTOPS_COLLECTOR_TRACES_ENDPOINT"]
        == "jaeger:" + jaeger["AGENTOPS_JAEGER_OTLP_GRPC"].split(":")[1]
    )
    # Published ports are the ones the services listen on; the app reaches the Collector on 4317/4318.
    for published, variable in (
        ("4317", "AGENTOPS_COLLECTOR_OTLP_GRPC"),
        ("4318", "AGENTOPS_COLLECTOR_OTLP_HTTP"),
        ("8889", "AGENTOPS_COLLECTOR_PROMETHEUS"),
    ):
        assert collector[variable] == f"0.0.0.0:{published}"
        assert f"127.0.0.1:{published}:{published}" in compose
    assert jaeger["AGENTOPS_JAEGER_UI"] == "0.0.0.0:16686"
    # Prometheus scrapes the exporter and the Collector's own metrics where they listen.
    prometheus = (CONFIG / "prometheus" / "prometheus.yaml").read_text()
    assert '"otel-collector:8889"' in prometheus
    assert f'"otel-collector:{collector["AGENTOPS_COLLECTOR_TELEMETRY_PORT"].strip(chr(34))}"' in prometheus


def documented(variable: str, header: str) -> bool:
    """Named in full, or as a family: `AGENTOPS_COLLECTOR_OTLP_GRPC / _OTLP_HTTP` documents both."""
    if variable in header:
        return True
    cuts = [index for index, char in enumerate(variable) if char == "_"]
    return any(f"/ {variable[cut:]}" in header and variable[:cut] in header for cut in cuts)


def test_every_setting_of_a_config_is_documented_in_its_header():
    for config in (*COLLECTOR_CONFIGS, "jaeger.yaml"):
        text = (CONFIG / config).read_text()
        header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
        undocumented = sorted(v for v in env_references(text) if not documented(v, header))
        assert not undocumented, (config, undocumented)

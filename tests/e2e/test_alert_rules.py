"""The Prometheus alert rules, checked and unit-tested with promtool (`make promtool` installs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from e2e_support import CONFIG, unavailable

PROMETHEUS = CONFIG / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        unavailable("promtool is not installed: run `make promtool` (Debian's prometheus package)")
    return path


def run(argv: list[str], cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_rules_are_valid(promtool: str):
    result = run([promtool, "check", "rules", "agentops-alerts.yaml"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout


def test_rule_unit_tests_pass(promtool: str):
    tests = sorted(str(path.relative_to(PROMETHEUS)) for path in (PROMETHEUS / "tests").glob("*.test.yaml"))
    assert tests
    result = run([promtool, "test", "rules", *tests])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_compose_prometheus_config_is_valid(promtool: str, tmp_path: Path):
    # The config as the container sees it: the rule file where docker-compose.yaml mounts it.
    config = (PROMETHEUS / "prometheus.yaml").read_text()
    mounted = "/etc/prometheus/rules/agentops-alerts.yaml"
    assert mounted in config
    local = tmp_path / "prometheus.yaml"
    local.write_text(config.replace(mounted, str(PROMETHEUS / "agentops-alerts.yaml")))
    result = run([promtool, "check", "config", str(local)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_rule_is_caught(promtool: str, tmp_path: Path):
    broken = tmp_path / "broken.yaml"
    broken.write_text((PROMETHEUS / "agentops-alerts.yaml").read_text().replace("> 0.05", "> > 0.05", 1))
    result = run([promtool, "check", "rules", str(broken)])
    assert result.returncode != 0

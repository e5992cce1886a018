"""docker-compose.yml as Docker Compose loads it (no Docker engine here): the compose-go loader,
built from tests/compose_check, checks the schema, interpolates the environment and enforces
required variables. Without the passwords it refuses; with them, the loaded project is checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PASSWORDS = {
    "CLICKHOUSE_PASSWORD": "migrate-secret",
    "CLICKHOUSE_WORKER_PASSWORD": "worker-secret",
    "CLICKHOUSE_GRAFANA_PASSWORD": "grafana-secret",
    "GRAFANA_ADMIN_PASSWORD": "admin-secret",
}


@pytest.fixture(scope="module")
def compose_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loader program, built with the Go toolchain (modules pinned by go.sum)."""
    go = shutil.which("go")
    assert go, "the Go toolchain is needed to load docker-compose.yml as Docker Compose does"
    binary = tmp_path_factory.mktemp("compose-check") / "compose_check"
    subprocess.run([go, "build", "-buildvcs=false", "-o", str(binary), "."],
                   cwd=REPO / "tests" / "compose_check", check=True, capture_output=True,
                   timeout=600)  # fmt: skip
    return binary


def _load(binary: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run([str(binary), str(REPO / "docker-compose.yml")], env=clean,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def project(compose_check: Path) -> dict[str, Any]:
    loaded = _load(compose_check, PASSWORDS)
    assert loaded.returncode == 0, loaded.stderr
    return json.loads(loaded.stdout)


@pytest.mark.parametrize("missing", sorted(PASSWORDS))
def test_refuses_to_load_without_each_password(compose_check: Path, missing: str) -> None:
    env = {k: v for k, v in PASSWORDS.items() if k != missing}
    loaded = _load(compose_check, env)
    assert loaded.returncode != 0
    assert f"required variable {missing} is missing a value" in loaded.stderr
    assert _load(compose_check, {**env, missing: ""}).returncode != 0, "empty counts as missing"


def test_images_are_pinned_to_exact_versions(project: dict[str, Any]) -> None:
    services = project["services"]
    assert set(services) == {"kafka", "clickhouse", "grafana", "migrate", "worker"}
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image}"
        assert tag.count(".") >= 2, f"{name}: {image} is not an exact version"
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["worker"]["build"]["context"] == str(REPO)
    dockerfile = (REPO / "Dockerfile").read_text()
    base = next(line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM "))
    assert base.count(".") >= 2, f"Dockerfile base image {base} is not an exact version"


def test_each_client_has_its_own_clickhouse_user(project: dict[str, Any]) -> None:
    services = project["services"]
    clickhouse = services["clickhouse"]["environment"]
    assert clickhouse["CLICKHOUSE_USER"] == "chiso766_migrate"
    assert clickhouse["CLICKHOUSE_PASSWORD"] == PASSWORDS["CLICKHOUSE_PASSWORD"]
    migrate, worker = services["migrate"]["environment"], services["worker"]["environment"]
    assert (migrate["CHISO766_CLICKHOUSE_USER"], migrate["CHISO766_CLICKHOUSE_PASSWORD"]) == (
        "chiso766_migrate", PASSWORDS["CLICKHOUSE_PASSWORD"])  # fmt: skip
    assert (worker["CHISO766_CLICKHOUSE_USER"], worker["CHISO766_CLICKHOUSE_PASSWORD"]) == (
        "chiso766_worker", PASSWORDS["CLICKHOUSE_WORKER_PASSWORD"])  # fmt: skip
    assert services["migrate"]["command"] == ["chiso766", "migrate"]
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    # The users file the server mounts defines the other two, with passwords from its env.
    mount = next(v for v in services["clickhouse"]["volumes"] if "users.d" in v["target"])
    assert mount["read_only"] and Path(mount["source"]).is_relative_to(REPO)
    users = ElementTree.parse(mount["source"]).getroot()
    for user, variable in (("chiso766_worker", "CLICKHOUSE_WORKER_PASSWORD"),
                           ("chiso766_grafana", "CLICKHOUSE_GRAFANA_PASSWORD")):  # fmt: skip
        assert users.find(f"users/{user}/password").get("from_env") == variable  # type: ignore[union-attr]
        assert clickhouse[variable] == PASSWORDS[variable]
    grafana_profile = users.findtext("users/chiso766_grafana/profile")
    assert users.findtext(f"profiles/{grafana_profile}/readonly") == "2"
    assert users.findtext("users/chiso766_grafana/grants/query") == "GRANT SELECT ON chiso766.*"
    assert "INSERT" in users.findtext("users/chiso766_worker/grants/query", "")
    assert worker["CHISO766_NAMESPACE"] == "chiso766"


def test_grafana_reads_as_the_read_only_user(project: dict[str, Any]) -> None:
    grafana = project["services"]["grafana"]
    env = grafana["environment"]
    assert "grafana-clickhouse-datasource" in env["GF_PLUGINS_PREINSTALL"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == PASSWORDS["GRAFANA_ADMIN_PASSWORD"]
    assert env["CLICKHOUSE_GRAFANA_PASSWORD"] == PASSWORDS["CLICKHOUSE_GRAFANA_PASSWORD"]
    mount = next(v for v in grafana["volumes"] if v["target"] == "/etc/grafana/provisioning")
    source = Path(mount["source"])
    assert mount["read_only"] and source.resolve().is_relative_to(REPO / "dashboards")
    datasource = yaml.safe_load((source / "datasources" / "clickhouse.yml").read_text())[
        "datasources"
    ][0]
    assert datasource["type"] == "grafana-clickhouse-datasource"
    assert datasource["uid"] == "clickhouse"
    assert (
        str(datasource["jsonData"]["port"])
        == (project["services"]["worker"]["environment"]["CHISO766_CLICKHOUSE_PORT"])
    )


def test_ports_loopback_kraft_healthchecks_volumes(project: dict[str, Any]) -> None:
    services = project["services"]
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert published and all(p["host_ip"] == "127.0.0.1" for p in published)
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert not any("ZOOKEEPER" in key for key in kafka)
    assert [p["target"] for p in services["kafka"]["ports"]] == [9092], "controller not published"
    named = set(project["volumes"])
    for name in ("kafka", "clickhouse", "grafana"):
        assert services[name]["healthcheck"]["test"], name
        assert any(v["type"] == "volume" and v["source"] in named
                   for v in services[name]["volumes"]), name  # fmt: skip
    for name in ("kafka", "clickhouse"):
        assert services["worker"]["depends_on"][name]["condition"] == "service_healthy"


def test_worker_settings_are_real_settings_names(project: dict[str, Any]) -> None:
    known = set(Settings.env_names())
    for name in ("migrate", "worker"):
        env = project["services"][name]["environment"]
        chiso_keys = {key for key in env if key.startswith("CHISO766_")}
        assert chiso_keys <= known, f"{name}: unknown settings {sorted(chiso_keys - known)}"
        assert env["CHISO766_STORE"] == "server"
        assert env["CHISO766_KAFKA_BOOTSTRAP"].split(":")[0] == "kafka"
        assert env["CHISO766_CLICKHOUSE_HOST"] == "clickhouse"

"""docker-compose.yml cannot run here (no Docker engine): check its structure and its settings names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_has_the_four_services_from_official_images(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"kafka", "clickhouse", "grafana", "worker"}
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    assert services["grafana"]["image"].startswith("grafana/grafana-oss:")
    assert services["worker"]["build"] == "."
    assert (REPO / "Dockerfile").exists()


def test_kafka_runs_in_kraft_mode(compose: dict) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "KAFKA_CONTROLLER_QUORUM_VOTERS" in env
    assert not any("ZOOKEEPER" in key for key in env)


def test_every_published_port_is_bound_to_loopback(compose: dict) -> None:
    ports = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert ports, "the stack publishes Kafka, ClickHouse and Grafana"
    assert all(str(p).startswith("127.0.0.1:") for p in ports)


def test_servers_have_healthchecks_and_named_volumes(compose: dict) -> None:
    services = compose["services"]
    for name in ("kafka", "clickhouse", "grafana"):
        assert services[name]["healthcheck"]["test"], name
    named = set(compose["volumes"])
    for name in ("kafka", "clickhouse", "grafana"):
        mounts = [v.split(":")[0] for v in services[name]["volumes"]]
        assert any(m in named for m in mounts), f"{name} keeps its data in a named volume"
    for dependency in services["worker"]["depends_on"].values():
        assert dependency["condition"] == "service_healthy"


def test_grafana_gets_the_plugin_and_provisioning_from_dashboards(compose: dict) -> None:
    grafana = compose["services"]["grafana"]
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_PLUGINS_PREINSTALL"]
    mount = next(v for v in grafana["volumes"] if v.endswith("/etc/grafana/provisioning:ro"))
    source = REPO / mount.split(":")[0]
    assert source.is_dir() and source.resolve().is_relative_to(REPO / "dashboards")
    datasource = yaml.safe_load((source / "datasources" / "clickhouse.yml").read_text())[
        "datasources"
    ][0]
    assert datasource["type"] == "grafana-clickhouse-datasource"
    assert datasource["uid"] == "clickhouse"
    worker_env = compose["services"]["worker"]["environment"]
    assert str(datasource["jsonData"]["port"]) == worker_env["CHISO766_CLICKHOUSE_PORT"]


def test_worker_settings_are_real_settings_names(compose: dict) -> None:
    env = compose["services"]["worker"]["environment"]
    known = set(Settings.env_names())
    chiso_keys = {key for key in env if key.startswith("CHISO766_")}
    assert chiso_keys, "the worker is configured through CHISO766_* variables"
    assert chiso_keys <= known, f"unknown settings: {sorted(chiso_keys - known)}"
    assert env["CHISO766_STORE"] == "server"
    assert env["CHISO766_KAFKA_BOOTSTRAP"].split(":")[0] == "kafka"
    assert env["CHISO766_CLICKHOUSE_HOST"] == "clickhouse"

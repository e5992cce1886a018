"""Settings resolution: flags over CHISO766_* environment over defaults, and clear errors."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import Settings


def test_defaults_when_nothing_is_given() -> None:
    settings = Settings.resolve({}, env={})
    assert settings.namespace == "chiso766"
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.store == "embedded"
    assert settings.partitions == 8
    assert settings.late_horizon_days == 400


def test_environment_overrides_defaults_and_flags_override_environment() -> None:
    env = {
        "CHISO766_NAMESPACE": "from-env",
        "CHISO766_KAFKA_PORT": "19092",
        "CHISO766_STORE": "server",
    }
    from_env = Settings.resolve({}, env=env)
    assert (from_env.namespace, from_env.kafka_port, from_env.store) == (
        "from-env",
        19092,
        "server",
    )
    from_flags = Settings.resolve({"namespace": "from-flag", "kafka_port": None}, env=env)
    assert from_flags.namespace == "from-flag"
    assert from_flags.kafka_port == 19092  # a flag left unset (None) does not hide the environment


def test_namespace_prefixes_topics_groups_and_database() -> None:
    settings = Settings.resolve({"namespace": "demo-2024"}, env={})
    assert settings.topic("dossier-events") == "demo-2024.dossier-events"
    assert settings.group("worker") == "demo-2024.worker"
    assert settings.database == "demo_2024"


def test_existing_kafka_is_a_matter_of_settings() -> None:
    settings = Settings.resolve({}, env={"CHISO766_KAFKA_BOOTSTRAP": "kafka:29092"})
    assert settings.bootstrap_servers == "kafka:29092"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CHISO766_KAFKA_PORT": "ninety"},
            "CHISO766_KAFKA_PORT='ninety': expected a whole number",
        ),
        ({"CHISO766_NAMESPACE": "Bad Name"}, "namespace 'Bad Name'"),
        ({"CHISO766_STORE": "postgres"}, "store 'postgres'"),
        ({"CHISO766_CLICKHOUSE_PORT": "70000"}, "clickhouse_port 70000: not a TCP port"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.resolve({}, env=env)


@pytest.mark.parametrize(
    "changes",
    [
        {"namespace": "ns\n"},
        {"namespace": "ns\nmore"},
        {"kafka_bootstrap": "bad host:x"},
        {"kafka_bootstrap": "[::1"},
        {"kafka_bootstrap": "host:99999"},
        {"kafka_bootstrap": "ok:9092,:9092"},
        {"chdb_path": "/tmp/db?mode=ro"},
        {"state_dir": "/tmp/state?mode=ro"},
    ],
)
def test_hostile_values_are_refused_with_one_line(changes: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings(**changes)  # type: ignore[arg-type]
    assert "\n" not in str(refused.value).replace("\\n", "")


def test_good_addresses_pass() -> None:
    settings = Settings(kafka_bootstrap="kafka:29092,[::1]:9092,10.0.0.7:9092")
    assert settings.bootstrap_servers.count(",") == 2

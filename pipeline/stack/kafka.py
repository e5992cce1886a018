"""Local Apache Kafka: jars resolved by Maven from the pinned pom.xml, one KRaft node on loopback."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pipeline.directories import check_directory, ensure_directory
from pipeline.errors import MissingToolError, StackError
from pipeline.settings import Settings
from pipeline.stack import process
from pipeline.stack.service import ServiceStatus

POM = Path(__file__).with_name("pom.xml")
MAIN_CLASS = "kafka.Kafka"
HEAP_OPTS = ("-Xms256m", "-Xmx768m")
START_TIMEOUT_S = 90.0
"""Give up when the broker neither answers nor logs anything for this long."""
START_LIMIT_S = 1200.0
"""Give up after this long in any case."""

_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <RollingFile name="file" fileName="{log}" filePattern="{log}.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="20 MB"/></Policies>
      <DefaultRolloverStrategy max="2"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="file"/></Root>
    <Logger name="kafka.log" level="WARN"/>
    <Logger name="org.apache.kafka.storage" level="WARN"/>
  </Loggers>
</Configuration>
"""


class LocalKafka:
    """One broker+controller node whose files live under ``{state_dir}/kafka``."""

    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        check_directory(settings.state_path, "--state-dir")
        self.home = settings.state_path / "kafka"
        self.data_dir = self.home / "data"
        self.pid_path = self.home / "kafka.pid"
        self.log_path = self.home / "kafka.out"
        self.marker = MAIN_CLASS

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    # --- lifecycle ------------------------------------------------------------------------
    def check_tools(self) -> None:
        for tool in ("java", "mvn"):
            if shutil.which(tool) is None:
                raise MissingToolError(
                    f"{tool} is not installed: the local Kafka needs Java 17+ and Maven "
                    "(or run the production stack with `docker compose up`)"
                )

    def up(self) -> ServiceStatus:
        """Start the broker unless ours already runs; wait until it answers metadata requests."""
        pid = process.read_pid(self.pid_path)
        if pid and process.is_alive(pid, self.marker):
            self._wait_ready(lambda: process.is_alive(pid, self.marker))
            return self.status()
        self.check_tools()
        self._refuse_foreign_broker()
        ensure_directory(self.home, "--state-dir")
        classpath = self.classpath()
        config = self._write_config()
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage(classpath, config)
        argv = [
            "java",
            *HEAP_OPTS,
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.xml'}",
            "-cp",
            classpath,
            MAIN_CLASS,
            str(config),
        ]
        started = process.start_detached(argv, self.log_path, self.pid_path, cwd=self.home)
        self._wait_ready(lambda: started.poll() is None)
        return self.status()

    def down(self) -> bool:
        pid = process.read_pid(self.pid_path)
        stopped = bool(pid) and process.stop(pid, self.marker, timeout_s=30.0)  # type: ignore[arg-type]
        self.pid_path.unlink(missing_ok=True)
        return stopped

    def status(self) -> ServiceStatus:
        pid = process.read_pid(self.pid_path)
        running = bool(pid) and process.is_alive(pid, self.marker)  # type: ignore[arg-type]
        healthy = running and _cluster_id(self.address, timeout_s=5.0) == self.cluster_id()
        return ServiceStatus(
            name=self.name,
            address=self.address,
            running=running,
            healthy=healthy,
            version=self.version(),
            pid=pid if running else None,
            rss_mb=process.rss_mb(pid) if running and pid else None,
            log=str(self.log_path),
        )

    def version(self) -> str:
        match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
        return match.group(1) if match else "unknown"

    def cluster_id(self) -> str | None:
        """The cluster id our storage was formatted with (None before the first start)."""
        try:
            text = (self.data_dir / "meta.properties").read_text()
        except OSError:
            return None
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "cluster.id":
                return value.strip()
        return None

    def _refuse_foreign_broker(self) -> None:
        """Our broker is not running: a broker answering on our port is somebody else's."""
        answering = _cluster_id(self.address, timeout_s=3.0)
        if answering is not None:
            raise StackError(self._foreign_message(answering))

    def _foreign_message(self, answering: str) -> str:
        ours = self.cluster_id()
        return (
            f"another Kafka broker (cluster {answering}) answers on {self.address}"
            + (f", not ours (cluster {ours})" if ours else "")
            + ": stop it, or choose other ports with --kafka-port and --kafka-controller-port"
        )

    # --- steps ----------------------------------------------------------------------------
    def classpath(self) -> str:
        """The broker classpath from ``mvn dependency:build-classpath``, cached per pom hash."""
        digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
        cache = self.home / f"classpath-{digest}.txt"
        if cache.exists():
            classpath = cache.read_text().strip()
            if all(Path(jar).exists() for jar in classpath.split(":")):
                return classpath
        result = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:build-classpath",
                f"-Dmdep.outputFile={cache}",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not cache.exists():
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise StackError("mvn could not resolve the Kafka jars: " + " | ".join(tail))
        return cache.read_text().strip()

    def _write_config(self) -> Path:
        port, controller = self.settings.kafka_port, self.settings.kafka_controller_port
        config = self.home / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{controller}",
                    f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.data_dir}",
                    "num.partitions=8",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "log.retention.hours=-1",
                    "log.segment.bytes=268435456",
                    "",
                ]
            )
        )
        (self.home / "log4j2.xml").write_text(_LOG4J2.format(log=self.home / "server.log"))
        return config

    def _format_storage(self, classpath: str, config: Path) -> None:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(config),
                "--ignore-formatted",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stderr.strip()[-400:]}")

    def _wait_ready(self, alive: Callable[[], bool]) -> None:
        """Wait until the broker answers, as long as it is alive and still making progress.

        A broker with thousands of partitions spends minutes loading them before it answers,
        logging each one as it goes: the wait only gives up after ``START_TIMEOUT_S`` without
        an answer *and* without a new line in its log, or after ``START_LIMIT_S`` in all.
        """
        started = time.monotonic()
        deadline = started + START_TIMEOUT_S
        last_activity = self._log_activity()
        while time.monotonic() < deadline:
            if not alive():
                raise StackError(
                    f"Kafka exited during start-up; see {self.log_path} and {self.home / 'server.log'}"
                )
            answering = _cluster_id(self.address, timeout_s=3.0)
            if answering is not None:
                if answering != self.cluster_id():
                    raise StackError(self._foreign_message(answering))
                return
            activity = self._log_activity()
            if activity != last_activity:
                last_activity = activity
                deadline = min(time.monotonic() + START_TIMEOUT_S, started + START_LIMIT_S)
            time.sleep(0.5)
        raise StackError(
            f"Kafka did not answer on {self.address} within {time.monotonic() - started:.0f} s; "
            f"see {self.log_path} and {self.home / 'server.log'}"
        )

    def _log_activity(self) -> tuple[float, int]:
        """When and how much the broker last logged: it changes while the broker loads its logs."""
        try:
            stat = (self.home / "server.log").stat()
        except OSError:
            return (0.0, 0)
        return (stat.st_mtime, stat.st_size)


def _cluster_id(address: str, timeout_s: float) -> str | None:
    """The cluster id reported by the broker answering at ``address``; None when none answers."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=address,
            request_timeout_ms=int(timeout_s * 1000),
        )
    except (KafkaError, OSError):
        return None
    try:
        return str(admin.describe_cluster()["cluster_id"])
    except (KafkaError, OSError, KeyError):
        return None
    finally:
        admin.close()

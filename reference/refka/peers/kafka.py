"""Apache Kafka as a test peer: one KRaft node (broker and controller) on loopback.

The jars come from Maven Central through `kafka-pom.xml` (`mvn dependency:copy-dependencies`)
into a cache directory, `$REFKA_PEERS_DIR` or `~/.cache/refka/peers`. Starting a peer writes a
`server.properties`, formats the log directory (`kafka.tools.StorageTool format --standalone`)
and runs `kafka.Kafka`, then waits until ApiVersions and Metadata answer.

    with running_kafka(tmp_dir) as peer:
        print(peer.bootstrap)

`python -m refka.peers.kafka --ensure-jars` downloads the jars (used by scripts/ensure-peers).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from refka.peers.process import Peer, PeerUnavailable, spawn
from refka.peers.readiness import free_port

KAFKA_VERSION = "4.4.0"
POM_PATH = Path(__file__).with_name("kafka-pom.xml")
JVM_OPTIONS = ("-Xmx512m", "-Xms64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
READY_DEADLINE_S = 90.0

LOG4J2_PROPERTIES = """\
rootLogger.level=WARN
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka.server.KafkaRaftServer
logger.kafka.level=INFO
"""


def peers_dir() -> Path:
    """Where peer binaries are cached: `$REFKA_PEERS_DIR` or `~/.cache/refka/peers`."""
    configured = os.environ.get("REFKA_PEERS_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "refka" / "peers"


def libs_dir() -> Path:
    return peers_dir() / f"kafka-{KAFKA_VERSION}" / "libs"


def _jars_present(directory: Path) -> bool:
    return (directory / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file() and (
        directory / f"kafka-server-{KAFKA_VERSION}.jar"
    ).is_file()


def ensure_jars() -> Path:
    """Return the directory of the broker's jars, downloading them with Maven if missing."""
    target = libs_dir()
    if _jars_present(target):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PeerUnavailable("Apache Kafka peer: Maven (mvn) is not installed")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=target.parent))
    argv = [mvn, "-q", "-B", "-f", str(POM_PATH), "dependency:copy-dependencies"]
    argv.append(f"-DoutputDirectory={staging}")
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not _jars_present(staging):
        shutil.rmtree(staging, ignore_errors=True)
        raise PeerUnavailable(f"Apache Kafka peer: mvn failed:\n{done.stdout}{done.stderr}")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def java_command() -> str:
    java = shutil.which("java")
    if java is None:
        raise PeerUnavailable("Apache Kafka peer: Java is not installed")
    return java


def server_properties(
    log_dir: Path,
    port: int,
    controller_port: int,
    extra: Mapping[str, str] | None = None,
    extra_listeners: Mapping[str, int] | None = None,
) -> dict[str, str]:
    """A single-node KRaft configuration listening on 127.0.0.1 only; ``extra_listeners``
    (name -> port, e.g. SASL_PLAINTEXT) are bound and advertised beside PLAINTEXT."""
    more = "".join(f",{name}://127.0.0.1:{p}" for name, p in (extra_listeners or {}).items())
    properties = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "listeners": (
            f"PLAINTEXT://127.0.0.1:{port}{more},CONTROLLER://127.0.0.1:{controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}{more}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }
    properties.update(extra or {})
    return properties


def write_properties(path: Path, properties: Mapping[str, str]) -> None:
    path.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))


def new_cluster_id() -> str:
    """A Kafka ``Uuid`` as text that does not start with "-", as ``Uuid.randomUuid`` makes
    them: ``kafka-storage format -t -Xy...`` fails with "expected one argument"."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def start_kafka(
    work_dir: Path,
    port: int | None = None,
    properties: Mapping[str, str] | None = None,
    extra_listeners: Mapping[str, int] | None = None,
    static_quorum: bool = False,
) -> Peer:
    """Format a fresh log directory under `work_dir` and start the broker; wait until ready.

    ``static_quorum``: ``controller.quorum.voters`` (kraft.version 0) instead of a standalone
    dynamic quorum (KIP-853, kraft.version 1)."""
    java = java_command()
    libs = ensure_jars()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = server_properties(
        work_dir / "kafka-logs", port, free_port(), properties, extra_listeners
    )
    if static_quorum:
        controller = config.pop("controller.quorum.bootstrap.servers")
        config["controller.quorum.voters"] = f"1@{controller}"
    config_path = work_dir / "server.properties"
    write_properties(config_path, config)
    log4j_path = work_dir / "log4j2.properties"
    log4j_path.write_text(LOG4J2_PROPERTIES)
    base = [java, *JVM_OPTIONS, f"-Dlog4j2.configurationFile={log4j_path}", "-cp", f"{libs}/*"]
    standalone = [] if static_quorum else ["--standalone"]
    format_argv = ["kafka.tools.StorageTool", "format", *standalone, "-t", new_cluster_id()]
    format_argv += ["-c", str(config_path)]
    formatted = subprocess.run([*base, *format_argv], capture_output=True, text=True, check=False)
    if formatted.returncode != 0:
        raise PeerUnavailable(f"Apache Kafka peer: format failed:\n{formatted.stderr}")
    process = spawn([*base, "kafka.Kafka", str(config_path)], work_dir / "kafka.log")
    peer = Peer("Apache Kafka", "127.0.0.1", port, process, work_dir / "kafka.log")
    return peer.wait_ready(READY_DEADLINE_S)


@contextmanager
def running_kafka(
    work_dir: Path,
    port: int | None = None,
    properties: Mapping[str, str] | None = None,
    extra_listeners: Mapping[str, int] | None = None,
) -> Iterator[Peer]:
    """Start Apache Kafka for the duration of the `with` block."""
    with start_kafka(work_dir, port, properties, extra_listeners) as peer:
        yield peer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m refka.peers.kafka", description=__doc__)
    parser.add_argument("--ensure-jars", action="store_true", help="download the jars and exit")
    args = parser.parse_args(argv)
    if args.ensure_jars:
        try:
            print(ensure_jars())
        except PeerUnavailable as error:
            print(error)
            return 1
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""A single-node Apache Kafka (KRaft, combined broker and controller) run from Maven Central jars."""

from __future__ import annotations

import base64
import socket
import struct
import subprocess
import uuid
from pathlib import Path

from loginless.devstack.component import JavaComponent
from loginless.devstack.errors import ComponentStartError
from loginless.devstack.processes import LOOPBACK, PortSpec

NODE_ID = 1

LOG4J2_CONFIG = """\
# Written by loginless-stack. Everything goes to stdout, which the stack sends to the log file.
status = warn
appender.stdout.type = Console
appender.stdout.name = stdout
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRefs = stdout
rootLogger.appenderRef.stdout.ref = stdout
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


class KafkaServer(JavaComponent):
    """Kafka in ``<var_dir>/data/kafka`` (config files beside ``logs/``, the partition data).

    It survives ``kill()``: a restart on the same data recovers the logs, and the short broker session
    below lets the restarted controller accept the broker again within seconds rather than nine.
    """

    name = "kafka"
    main_class = "kafka.Kafka"

    def __init__(
        self,
        var_dir: Path,
        jars_dir: Path,
        *,
        port: int = 19092,
        controller_port: int = 19093,
        heap: str = "512m",
        java: str | None = None,
        port_env_var: str | None = None,
        controller_port_env_var: str | None = None,
    ) -> None:
        super().__init__(var_dir, jars_dir, heap=heap, java=java)
        self.port = port
        self.controller_port = controller_port
        self.port_env_var = port_env_var
        self.controller_port_env_var = controller_port_env_var
        self.log_dirs = self.data_dir / "logs"
        self.server_properties = self.data_dir / "server.properties"
        self.log4j2_properties = self.data_dir / "log4j2.properties"

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return self.bootstrap_servers

    @property
    def ports(self) -> list[PortSpec]:
        return [
            PortSpec(self.port, self.name, self.port_env_var),
            PortSpec(self.controller_port, f"{self.name} controller", self.controller_port_env_var),
        ]

    def broker_settings(self) -> dict[str, str]:
        return {
            "node.id": str(NODE_ID),
            "process.roles": "broker,controller",
            "listeners": f"PLAINTEXT://{LOOPBACK}:{self.port},CONTROLLER://{LOOPBACK}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{self.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            # A static voter set: formatting needs neither --standalone nor --initial-controllers.
            "controller.quorum.voters": f"{NODE_ID}@{LOOPBACK}:{self.controller_port}",
            "log.dirs": str(self.log_dirs),
            "num.partitions": "6",
            "auto.create.topics.enable": "true",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",  # fewer than the default 50: a fresh broker's first group is faster
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # After a crash the controller refuses the restarted broker until the old session expires.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
        }

    def prepare(self) -> None:
        lines = ["# Written by loginless-stack on every start; edit KafkaServer.broker_settings instead."]
        lines += [f"{key}={value}" for key, value in self.broker_settings().items()]
        self.server_properties.write_text("\n".join(lines) + "\n")
        self.log4j2_properties.write_text(LOG4J2_CONFIG)
        if not (self.log_dirs / "meta.properties").exists():
            self._format_storage()

    def jvm_options(self) -> list[str]:
        return [f"-Dlog4j2.configurationFile={self.log4j2_properties}"]

    def format_options(self) -> list[str]:
        """More options of the storage format (e.g. ``--add-scram`` for a broker that authenticates clients)."""
        return []

    def arguments(self) -> list[str]:
        return [str(self.server_properties)]

    def probe(self) -> bool:
        return NODE_ID in fetch_broker_ids(LOOPBACK, self.port)

    def _format_storage(self) -> None:
        cluster_id = _new_cluster_id()
        command = [
            # A short-lived tool: the client compiler and serial GC start it faster.
            self.java,
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            *self.jvm_options(),
            "-cp",
            str(self.jars_dir / "*"),
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "-t",
            cluster_id,
            "-c",
            str(self.server_properties),
            *self.format_options(),
        ]
        with open(self.log_path, "ab") as log:
            result = subprocess.run(
                command, check=False, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        if result.returncode != 0:
            raise ComponentStartError(f"formatting Kafka storage failed; see {self.log_path}")


def _new_cluster_id() -> str:
    """A random cluster id as Kafka writes them; like Kafka's own ``Uuid.randomUuid`` it never starts with ``-``,
    which the storage tool's argument parser would take for an option."""
    while (cluster_id := base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()).startswith("-"):
        pass
    return cluster_id


def fetch_broker_ids(host: str, port: int, timeout: float = 2.0) -> set[int]:
    """Ids of the live brokers, from a Metadata (v4) request for no topics.

    A KRaft broker lists itself only once the controller has unfenced it, so this is a real "ready to serve"
    check rather than "the port is open". Written against the wire protocol to keep the probe synchronous
    and dependency-free.
    """
    client_id = b"loginless-stack"
    request = (
        struct.pack(">hhih", 3, 4, 1, len(client_id))
        + client_id  # api key, version, correlation id
        + struct.pack(">i?", 0, False)  # no topics, no auto-creation
    )
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _receive(connection, 4))
        response = memoryview(_receive(connection, size))
    try:
        return _broker_ids(response)
    except struct.error:  # a starting broker may answer with something shorter (an error): not ready yet
        return set()


def _broker_ids(response: memoryview) -> set[int]:
    offset = 8  # correlation id, throttle time
    (broker_count,) = struct.unpack_from(">i", response, offset)
    offset += 4
    broker_ids = set()
    for _ in range(broker_count):
        (node_id, host_length) = struct.unpack_from(">ih", response, offset)
        offset += 6 + host_length + 4  # node id, host, port
        (rack_length,) = struct.unpack_from(">h", response, offset)
        offset += 2 + max(rack_length, 0)
        broker_ids.add(node_id)
    return broker_ids


def _receive(connection: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("Kafka closed the connection")
        data += chunk
    return bytes(data)

"""The Kafka clients of a service against a broker that wants TLS and SCRAM-SHA-512, as a Strimzi TLS listener
with ``scram-sha-512`` authentication does: the topic admin, the relay's producer, the consumers' broker and the
readiness probe all connect with the service's Kafka settings; a wrong password or an unknown CA gets nowhere.

The broker is the test's own (the shared one speaks PLAINTEXT), started from the local stack's Kafka component
with a second, secured listener; its certificates are made here.
"""

import asyncio
import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from loginless.shared.eventstore.relay import KafkaSink, OutboxRow
from loginless.shared.kafka_connection import KafkaConnection
from loginless.shared.messaging import build_broker
from loginless.shared.messaging.topics import ensure_topics
from loginless.shared.web.health import KafkaProbe
from loginless.testkit import endpoints
from loginless.testkit.network import free_port
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
KAFKA_JARS = REPO / ".cache" / "jars" / "kafka"
USER, PASSWORD = "loginless", "scram-password-of-the-test"


def _certificate(subject: str, key, issuer: x509.Certificate | None, issuer_key, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer.subject if issuer else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_certificates(directory: Path) -> tuple[Path, Path]:
    """A cluster CA and the broker's key and certificate (signed by it) in one PEM file, as Kafka reads them."""
    ca_key, broker_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test cluster CA", ca_key, None, ca_key, ca=True)
    broker = _certificate("127.0.0.1", broker_key, ca, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    ca_file, broker_file = directory / "ca.crt", directory / "broker.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    broker_file.write_bytes(broker_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())
                            + broker.public_bytes(pem) + ca.public_bytes(pem))
    return ca_file, broker_file


@pytest.fixture(scope="module")
async def secured_kafka(tmp_path_factory):
    from loginless.devstack.kafka import KafkaServer

    if not KAFKA_JARS.is_dir():
        endpoints.missing("the Kafka jars (run `make provision`)")
    directory = tmp_path_factory.mktemp("secured-kafka")
    ca_file, broker_file = make_certificates(directory)

    class SecuredKafka(KafkaServer):
        """The stack's single-node Kafka plus a SASL_SSL listener with SCRAM-SHA-512 users."""

        secured_port = free_port()

        def broker_settings(self) -> dict[str, str]:
            settings = super().broker_settings()
            secured = f"SASL_SSL://127.0.0.1:{self.secured_port}"
            return settings | {
                "listeners": f"{settings['listeners']},{secured}",
                "advertised.listeners": f"{settings['advertised.listeners']},{secured}",
                "listener.security.protocol.map": f"{settings['listener.security.protocol.map']},SASL_SSL:SASL_SSL",
                "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": str(broker_file),
            }

        def format_options(self) -> list[str]:
            return ["--add-scram", f"SCRAM-SHA-512=[name={USER},password={PASSWORD}]"]

    server = SecuredKafka(directory / "var", KAFKA_JARS, port=free_port(), controller_port=free_port())
    await asyncio.to_thread(server.start)
    yield KafkaConnection(f"127.0.0.1:{SecuredKafka.secured_port}", security_protocol="SASL_SSL",
                          sasl_mechanism="SCRAM-SHA-512", sasl_username=USER, sasl_password=PASSWORD,
                          ssl_ca_file=str(ca_file))
    await asyncio.to_thread(server.stop)


async def test_topics_are_created_events_published_and_consumed_over_tls_with_scram(secured_kafka):
    topic = "secured.events"
    await ensure_topics(secured_kafka, [topic], partitions=2)
    await KafkaProbe(secured_kafka).check()

    received: list[bytes] = []
    broker = build_broker(secured_kafka, client_id="secured-consumer")

    @broker.subscriber(topic, group_id="secured-test", auto_offset_reset="earliest")
    async def collect(body: bytes) -> None:
        received.append(body)

    sink = KafkaSink(secured_kafka, client_id="secured-relay")
    await sink.start()
    try:
        await sink.publish([OutboxRow(id=n, topic=topic, key=b"k", value=b'{"n": %d}' % n) for n in range(3)])
        await broker.start()
        await eventually(lambda: _ready(len(received) == 3), timeout=60, message="three events consumed")
    finally:
        await sink.stop()
        await broker.stop()
    assert sorted(received) == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']


async def _ready(condition: bool) -> bool:
    return condition


@pytest.mark.parametrize("change", ["wrong password", "unknown CA", "no TLS"])
async def test_a_client_with_wrong_credentials_or_trust_gets_nowhere(secured_kafka, change, tmp_path):
    wrong = {
        "wrong password": {"sasl_password": "not-the-password"},
        "unknown CA": {"ssl_ca_file": str(make_certificates(tmp_path)[0])},
        "no TLS": {"security_protocol": "SASL_PLAINTEXT"},
    }[change]
    probe = KafkaProbe(KafkaConnection(**{**secured_kafka.__dict__, **wrong}))
    with pytest.raises(Exception):  # noqa: B017 -- any refusal will do; the point is that none of them connects
        await probe.check()
    await probe.close()

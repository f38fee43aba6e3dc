"""A service's Kafka settings give every Kafka client of it the same connection: aiokafka's options equal what
FastStream makes of its own security object, for each security protocol and SASL mechanism."""

import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.kafka.security import parse_security
from pydantic import ValidationError

from loginless.shared.kafka_connection import KafkaConnection
from loginless.shared.settings import ServiceSettings

pytestmark = pytest.mark.unit


class KafkaTestSettings(ServiceSettings):
    service_name = "kafkatest"


def self_signed_ca_file(directory, name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    path = directory / f"{name}.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(path)


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_aiokafka_options_are_what_faststream_makes_of_the_same_connection(protocol, mechanism):
    connection = KafkaConnection("kafka:9093", security_protocol=protocol, sasl_mechanism=mechanism,
                                 sasl_username="loginless", sasl_password="s3cret")
    ours = connection.client_options()
    theirs = parse_security(connection.security())
    assert ours.pop("bootstrap_servers") == "kafka:9093"
    assert isinstance(ours.pop("ssl_context", None), ssl.SSLContext) == connection.uses_tls
    assert isinstance(theirs.pop("ssl_context", None), ssl.SSLContext) == connection.uses_tls
    assert ours == theirs
    if protocol == "PLAINTEXT":
        assert ours == {}


def test_tls_trusts_the_named_certificate_authority_and_verifies_the_brokers_name(tmp_path):
    connection = KafkaConnection("kafka:9093", security_protocol="SSL",
                                 ssl_ca_file=self_signed_ca_file(tmp_path, "cluster-ca"))
    context = connection.client_options()["ssl_context"]
    trusted = [dict(entry[0] for entry in ca["subject"]) for ca in context.get_ca_certs()]
    assert trusted == [{"commonName": "cluster-ca"}]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_the_settings_describe_the_connection_and_keep_the_password_out_of_sight(monkeypatch):
    for variable, value in {"DATABASE_URL": "postgresql://db/x", "KAFKA_BOOTSTRAP_SERVERS": "kafka:9093",
                            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "loginless",
                            "KAFKA_SASL_PASSWORD": "s3cret"}.items():
        monkeypatch.setenv(f"KAFKATEST_{variable}", value)
    settings = KafkaTestSettings(_env_prefix="KAFKATEST_")
    connection = settings.kafka
    assert (connection.bootstrap_servers, connection.security_protocol, connection.sasl_mechanism,
            connection.sasl_username, connection.sasl_password) == (
        "kafka:9093", "SASL_SSL", "SCRAM-SHA-512", "loginless", "s3cret")
    assert "s3cret" not in repr(settings) and "s3cret" not in repr(connection)


def test_sasl_without_a_user_is_refused():
    with pytest.raises(ValidationError, match="kafka_sasl_username is required"):
        KafkaTestSettings(database_url="postgresql://db/x", kafka_security_protocol="SASL_SSL")


def test_by_default_the_connection_is_plaintext_to_the_bootstrap_servers():
    settings = KafkaTestSettings(database_url="postgresql://db/x", kafka_bootstrap_servers="kafka:9092")
    assert settings.kafka.client_options() == {"bootstrap_servers": "kafka:9092"}
    assert settings.kafka.security() is None

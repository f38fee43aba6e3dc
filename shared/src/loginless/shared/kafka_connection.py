"""How every Kafka client of a service connects: the bootstrap servers and, for a secured cluster, TLS and SASL.

One description for both kinds of client: the options of aiokafka's clients (the relay's producer, the readiness
probe, the topic admin) and FastStream's security object (the consumers' broker). A unit test holds the first to
what FastStream makes of the second. The API process loads neither FastStream nor this module's Kafka clients
until its readiness probe runs. A Strimzi cluster's TLS listener with ``scram-sha-512`` authentication is
``SASL_SSL`` with ``SCRAM-SHA-512``, the KafkaUser's password and the cluster CA's ``ca.crt``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from faststream.security import BaseSecurity

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class KafkaConnection:
    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    ssl_ca_file: str = ""  # PEM; empty: the system's certificate authorities

    @classmethod
    def of(cls, connection: KafkaConnection | str) -> KafkaConnection:
        """A connection as given, or a plain one to these bootstrap servers."""
        return connection if isinstance(connection, KafkaConnection) else cls(connection)

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        return ssl.create_default_context(cafile=self.ssl_ca_file or None)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of aiokafka's clients (producer, consumer, admin, plain client)."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers}
        if self.security_protocol == "PLAINTEXT":
            return options
        options |= {"security_protocol": self.security_protocol, "ssl_context": self.ssl_context()}
        if self.uses_sasl:
            options |= {"sasl_mechanism": self.sasl_mechanism, "sasl_plain_username": self.sasl_username,
                        "sasl_plain_password": self.sasl_password}
        return options

    def security(self) -> BaseSecurity | None:
        """FastStream's description of the same; None for PLAINTEXT."""
        from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

        if self.security_protocol == "PLAINTEXT":
            return None
        context, use_tls = self.ssl_context(), self.uses_tls
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context, use_ssl=use_tls)
        sasl = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
        return sasl[self.sasl_mechanism](self.sasl_username, self.sasl_password, ssl_context=context, use_ssl=use_tls)

"""Settings shared by every service. Each service subclasses them with its own env prefix (``LINKS_`` …).

Settings are built in the entry point and passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from loginless.shared.kafka_connection import KafkaConnection, SaslMechanism, SecurityProtocol


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: ClassVar[str]

    environment: Literal["development", "production"] = Field(
        "development", description="What the deployment is: production refuses the development-only adapters "
        "(e.g. links' SMS file outbox); the Helm chart sets production, the local stacks keep development")
    database_url: str = Field(description="PostgreSQL DSN; the service keeps its tables in its own schema")
    database_schema: str = Field(
        "", pattern=r"^([a-z_][a-z0-9_]{0,62})?$",
        description="That schema's name (default: the service's name); two deployments can share a database")
    database_pool_size: int = Field(10, ge=1)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="SSL or SASL_SSL for TLS to the brokers; SASL_* to authenticate with a password")
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_ca_file: str = Field(
        "", description="PEM file of the CA that signed the brokers' certificates; empty: the system's CAs")
    topic_prefix: str = Field("", description="Prepended to every topic name, e.g. 'staging.'")
    topic_partitions: int = Field(6, ge=1, description="Partitions of the service's topic when the worker creates it")
    topic_replication_factor: int = Field(
        1, ge=1, description="Replicas of each partition when the worker creates the topic (3 on a real cluster)")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    admin_port: int = Field(
        0, ge=0, le=65535, description="Where /metrics, /schema and the detailed readiness answer are served, apart "
        "from http_port (which then answers neither), and a worker serves them; 0: all on http_port, none for workers")
    public_url: str = Field("http://127.0.0.1:8000", description="Base URL guests see (the gateway)")
    log_json: bool = True
    log_level: str = "INFO"
    consumer_max_attempts: int = Field(5, ge=1, description="Failures before an event goes to the dead letters")
    shutdown_grace_seconds: float = 10.0
    internal_api_secret: SecretStr = Field(
        SecretStr(""), description="Shared secret services present to each other's /internal APIs")
    housekeeping_interval_seconds: float = Field(600, gt=0, description="How often the worker prunes old rows")
    outbox_retention_hours: float = Field(
        168, gt=0, description="Published outbox messages are kept this long, then deleted (never unpublished ones)")
    inbox_retention_hours: float = Field(
        336, gt=0, description="Ids of processed events are kept this long to skip redeliveries; keep it longer "
        "than the retention of the topics the service consumes")

    @model_validator(mode="after")
    def _sasl_has_a_user(self) -> ServiceSettings:
        if self.kafka_security_protocol.startswith("SASL_") and not self.kafka_sasl_username:
            raise ValueError(f"kafka_sasl_username is required with {self.kafka_security_protocol}")
        return self

    @property
    def kafka(self) -> KafkaConnection:
        """How this service's Kafka clients connect."""
        return KafkaConnection(
            self.kafka_bootstrap_servers, security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism, sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password.get_secret_value(), ssl_ca_file=self.kafka_ssl_ca_file)

    @property
    def schema(self) -> str:
        """The PostgreSQL schema of the service's tables: ``database_schema``, else the service's name."""
        return self.database_schema or self.service_name

    @property
    def events_topic(self) -> str:
        return f"{self.topic_prefix}{self.service_name}.events"

    def topic_of(self, service: str) -> str:
        """The events topic of another service, under the same prefix."""
        return f"{self.topic_prefix}{service}.events"

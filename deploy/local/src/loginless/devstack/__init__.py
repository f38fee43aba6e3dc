"""Runs loginless and its real infrastructure (PostgreSQL, Kafka, S3, SMTP) on one machine, without Docker.

Each server is a ``Component`` with ``start()``, ``stop()``, ``kill()`` and ``is_running``; ``Stack`` runs
them all plus the services and writes ``var/stack.env``. The command line is ``loginless-stack``
(``python -m loginless.devstack``).
"""

from loginless.devstack.component import Component, JavaComponent
from loginless.devstack.errors import (
    ComponentStartError,
    DevstackError,
    PortInUseError,
    ProvisioningError,
    StackAlreadyRunningError,
)
from loginless.devstack.kafka import KafkaServer
from loginless.devstack.mail import MailServer
from loginless.devstack.postgres import PostgresServer
from loginless.devstack.provision import Toolchain, find_repo_root
from loginless.devstack.s3 import S3Server
from loginless.devstack.services import SERVICES, ServiceProcess
from loginless.devstack.stack import DEVELOPMENT_PORTS, TEST_PORTS, Ports, Stack, StackConfig

__all__ = [
    "DEVELOPMENT_PORTS",
    "SERVICES",
    "TEST_PORTS",
    "Component",
    "ComponentStartError",
    "DevstackError",
    "JavaComponent",
    "KafkaServer",
    "MailServer",
    "PortInUseError",
    "Ports",
    "PostgresServer",
    "ProvisioningError",
    "S3Server",
    "ServiceProcess",
    "Stack",
    "StackAlreadyRunningError",
    "StackConfig",
    "Toolchain",
    "find_repo_root",
]

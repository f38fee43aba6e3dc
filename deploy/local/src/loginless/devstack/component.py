"""The shape every locally run server shares: a child process with a log file, a data directory,
ports that must be free, a readiness probe, and graceful/forceful ways to stop it."""

from __future__ import annotations

import datetime
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import httpx

from loginless.devstack.errors import ComponentStartError, ProvisioningError
from loginless.devstack.processes import PortSpec, ProcessRecord

# What a failed probe may raise while a server is still coming up; anything else is a bug and propagates.
PROBE_ERRORS: tuple[type[BaseException], ...] = (OSError, httpx.HTTPError, subprocess.SubprocessError)


class Component(ABC):
    """One server process run on 127.0.0.1.

    Logs go to ``<var_dir>/log/<name>.log`` (appended, so earlier runs stay readable) and data to
    ``<var_dir>/data/<name>/``, which survives restarts. ``start()`` blocks until the server answers;
    ``stop()`` is graceful (``stop_signal``, then SIGKILL after ``stop_timeout``); ``kill()`` is SIGKILL,
    for fault-injection tests. Each server leads its own process group so a Ctrl-C in the terminal reaches
    only the supervisor, which then stops everything in order.
    """

    name: str = "component"
    keeps_data: ClassVar[bool] = True  # False: no data directory; the process runs in the var directory
    stop_signal: ClassVar[int] = signal.SIGTERM
    start_timeout: ClassVar[float] = 60.0
    stop_timeout: ClassVar[float] = 20.0

    def __init__(self, var_dir: Path, *, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.var_dir = Path(var_dir).resolve()
        self.log_path = self.var_dir / "log" / f"{self.name}.log"
        self.data_dir = self.var_dir / "data" / self.name
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    # ---- what a concrete component provides -------------------------------------------------------------

    @property
    @abstractmethod
    def url(self) -> str:
        """The main endpoint clients use."""

    @property
    @abstractmethod
    def ports(self) -> list[PortSpec]:
        """Every port the server binds; all are checked before it starts."""

    @abstractmethod
    def command(self) -> list[str]:
        """The command line of the server process."""

    @abstractmethod
    def probe(self) -> bool:
        """One quick readiness check. May raise one of PROBE_ERRORS while the server is starting."""

    def prepare(self) -> None:
        """Create configuration and initialise data before launch (idempotent)."""

    def environment(self) -> dict[str, str]:
        """Variables added to this process's environment."""
        return {}

    def popen_options(self) -> dict[str, Any]:
        """Extra ``subprocess.Popen`` keyword arguments (e.g. the user to run as)."""
        return {}

    def after_ready(self) -> None:
        """Runs once the probe succeeded (e.g. create a database)."""

    def after_exit(self, *, graceful: bool) -> None:
        """Runs after the process has exited and been reaped."""

    # ---- lifecycle --------------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.is_running else None

    def start(self, timeout: float | None = None) -> None:
        """Start the server and block until it is ready (no-op if this object already runs it)."""
        self.launch()
        self.wait_until_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it; lets a stack bring several servers up at once."""
        if self.is_running:
            return
        for port in self.ports:
            port.ensure_free()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.keeps_data:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        command = self.command()
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            stamp = datetime.datetime.now().isoformat(timespec="seconds")
            log.write(f"\n==== {stamp} starting {self.name}: {shlex.join(command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir if self.keeps_data else self.var_dir,
                env={**os.environ, **self.environment()},
                start_new_session=True,
                **self.popen_options(),
            )

    def wait_until_ready(self, timeout: float | None = None) -> None:
        process = self._require_process()
        timeout = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            returncode = process.poll()
            if returncode is not None:
                self._reap(graceful=False)
                raise ComponentStartError(
                    f"{self.name} exited with code {returncode} while starting; see {self.log_path}"
                    f"{self._log_tail()}"
                )
            if self._probe_quietly():
                break
            if time.monotonic() >= deadline:
                self.stop()
                raise ComponentStartError(
                    f"{self.name} was not ready after {timeout:.0f} s; see {self.log_path}{self._log_tail()}"
                )
            time.sleep(0.2)
        self.after_ready()

    def stop(self, timeout: float | None = None) -> None:
        """Graceful stop: ``stop_signal`` to the process group, SIGKILL if it is still there after ``timeout``."""
        if self._process is None:
            return
        graceful = True
        if self._process.poll() is None:
            self._signal(self.stop_signal)
            try:
                self._process.wait(self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                graceful = False
                self._signal(signal.SIGKILL)
                self._process.wait()
        self._reap(graceful=graceful)

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would; the data directory is left as it is."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._signal(signal.SIGKILL)
            self._process.wait()
        self._reap(graceful=False)

    def record(self) -> ProcessRecord:
        process = self._require_process()
        return ProcessRecord.of(self.name, process.pid, stop_signal=self.stop_signal)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_running else "stopped"
        return f"<{type(self).__name__} {self.name} {self.url} {state}>"

    # ---- helpers ----------------------------------------------------------------------------------------

    def _require_process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError(f"{self.name} has not been launched")
        return self._process

    def _signal(self, sig: int) -> None:
        assert self._process is not None
        try:
            os.killpg(self._process.pid, sig)  # the server leads its own group (start_new_session)
        except ProcessLookupError:
            pass

    def _reap(self, *, graceful: bool) -> None:
        # Children that outlive their group leader (a half-shut-down server) are ours too.
        self._signal(signal.SIGKILL)
        self._process = None
        self.after_exit(graceful=graceful)

    def _probe_quietly(self) -> bool:
        try:
            return self.probe()
        except PROBE_ERRORS:
            return False

    def _log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                tail = log.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n  last lines:\n    " + "\n    ".join(tail) if tail else ""


def find_java() -> str:
    """The JVM to run: ``$JAVA_HOME/bin/java`` when set, else ``java`` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise ProvisioningError("java was not found; install a JDK 17 or newer, or set JAVA_HOME")
    return java


class JavaComponent(Component):
    """A server run from a directory of jars.

    It keeps a dynamic class-data-sharing archive per (JVM, jar set) next to the jars: the first graceful
    stop writes it, and later starts map the classes from it instead of parsing them, which saves a couple
    of seconds per start on a small machine. A missing or stale archive is silently ignored by the JVM.
    """

    main_class: ClassVar[str]
    stop_timeout: ClassVar[float] = 30.0

    def __init__(
        self,
        var_dir: Path,
        jars_dir: Path,
        *,
        heap: str = "512m",
        java: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(var_dir, name=name)
        self.jars_dir = Path(jars_dir).resolve()
        self.heap = heap
        self.java = java or find_java()
        self._archive_in_progress: Path | None = None

    def jvm_options(self) -> list[str]:
        return []

    @abstractmethod
    def arguments(self) -> list[str]:
        """Arguments after the main class."""

    def command(self) -> list[str]:
        return [
            self.java,
            f"-Xmx{self.heap}",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            *self._class_data_sharing_options(),
            *self.jvm_options(),
            "-cp",
            str(self.jars_dir / "*"),
            self.main_class,
            *self.arguments(),
        ]

    def after_exit(self, *, graceful: bool) -> None:
        pending, self._archive_in_progress = self._archive_in_progress, None
        if pending is None or not pending.exists():
            return
        if graceful and pending.stat().st_size > 0:
            pending.replace(self._archive_path())  # atomic: a concurrent start never maps half a file
        else:
            pending.unlink()

    def _archive_path(self) -> Path:
        java = Path(self.java).resolve()
        jars = sorted(path.name for path in self.jars_dir.glob("*.jar"))
        key = hashlib.sha256("\n".join([str(java), str(java.stat().st_mtime_ns), *jars]).encode())
        return self.jars_dir.parent / ".cds" / f"{self.jars_dir.name}-{key.hexdigest()[:12]}.jsa"

    def _class_data_sharing_options(self) -> list[str]:
        archive = self._archive_path()
        if archive.exists():
            return ["-Xlog:cds*=off", f"-XX:SharedArchiveFile={archive}"]
        archive.parent.mkdir(parents=True, exist_ok=True)
        self._archive_in_progress = archive.with_name(f"{archive.stem}.{uuid.uuid4().hex[:8]}.tmp")
        return ["-Xlog:cds*=off", f"-XX:ArchiveClassesAtExit={self._archive_in_progress}"]

"""Low-level process plumbing: free-port checks, process groups and the pid file of a running stack."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from loginless.devstack.errors import PortInUseError

LOOPBACK = "127.0.0.1"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when a server could bind ``host:port`` right now.

    SO_REUSEADDR mirrors what the servers themselves do, so a port that only has connections lingering in
    TIME_WAIT (e.g. right after a broker was killed) counts as free, while a live listener does not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


@dataclass(frozen=True)
class PortSpec:
    """A TCP port a component listens on, with what to tell the user if it is taken."""

    number: int
    owner: str
    env_var: str | None = None

    def ensure_free(self) -> None:
        if not port_is_free(self.number):
            raise PortInUseError(self.number, self.owner, self.env_var)


def process_start_time(pid: int) -> float | None:
    """Start time of a live process (seconds since the epoch), or None when there is none (or a zombie)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid`` (every child starts its own), or to ``pid`` alone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _signal_pid(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


@dataclass(frozen=True)
class ProcessRecord:
    """One process started by a stack. ``started_at`` guards against signalling a recycled pid."""

    name: str
    pid: int
    started_at: float
    stop_signal: str = "SIGTERM"
    owner: bool = False  # the process that started (and will stop) the others

    @classmethod
    def of(
        cls, name: str, pid: int, *, stop_signal: int = signal.SIGTERM, owner: bool = False
    ) -> ProcessRecord:
        started_at = process_start_time(pid)
        if started_at is None:
            raise ProcessLookupError(f"{name} (pid {pid}) is not running")
        return cls(name, pid, started_at, signal.Signals(stop_signal).name, owner)

    def is_alive(self) -> bool:
        started_at = process_start_time(self.pid)
        return started_at is not None and abs(started_at - self.started_at) < 0.05

    def stop(self, timeout: float) -> bool:
        """Stop the process (and its group) gracefully, SIGKILL after ``timeout``. True if it was alive."""
        if not self.is_alive():
            return False
        # Servers lead their own process group; the owner may share one with its shell or `make`.
        send = _signal_pid if self.owner else signal_group
        send(self.pid, signal.Signals[self.stop_signal])
        if not wait_for_exit(self, timeout):
            send(self.pid, signal.SIGKILL)
            wait_for_exit(self, 5)
        return True


def wait_for_exit(record: ProcessRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while record.is_alive():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


class PidFile:
    """``<var_dir>/stack.pids``: one JSON object per line, in start order, so a stop can go in reverse."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[ProcessRecord]:
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                records.append(ProcessRecord(**json.loads(line)))
        return records

    def write(self, records: Iterable[ProcessRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["# processes started by loginless-stack (stop them with `loginless-stack stop`)"]
        lines += [json.dumps(asdict(record)) for record in records]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(self.path)

    def add(self, record: ProcessRecord) -> None:
        self.write([*self.read(), record])

    def remove(self, pid: int) -> None:
        self.write([record for record in self.read() if record.pid != pid])

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def live_owner(self) -> ProcessRecord | None:
        """The owner of the stack recorded here, if it is still running and is not this process."""
        for record in self.read():
            if record.owner and record.pid != os.getpid() and record.is_alive():
                return record
        return None

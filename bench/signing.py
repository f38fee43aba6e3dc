"""Benchmark: the signing engine's work for one envelope against bare pyHanko signing the same file.

    uv run python bench/signing.py [--rounds 9]   (from the repo root; needs no running service)

For a 10-page and a 200-page text PDF (50 lines of 9 pt per page) and a development seal (RSA 2048), it measures
**ours**: what the signing service does when an envelope completes -- stamp two signers' fields (a typed signature
and a date each, on the first and the last page), seal the result (PAdES B-B), write the audit certificate of two
signers and seal it too -- against **bare**: pyHanko's ``signers.sign_pdf`` with its own ``SimpleSigner`` loaded
from the same PKCS#12, signing the original once. Both in the same run, alternating round by round, after a warm-up:

- seconds, wall clock and CPU, median of the rounds, and the ratio bare / ours (target >= 0.8: ours takes at most
  1.25 x bare);
- how ours splits between its steps (median of each);
- resident memory growth of each (target < 50 MB), in a fresh interpreter per case with ``MALLOC_ARENA_MAX=2``
  as the services run: imports and a warm-up on a one-page file first, then the peak (VmHWM, reset through
  ``/proc/self/clear_refs``) while the case runs once, less the resident memory just before it (``+MB``); and the
  process's peak over the fresh interpreter's size, imports included (``imp+MB``).

Results print as a table; copy them into docs/benchmarks.md with the date and machine.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PAGE_COUNTS = (10, 200)
ENVIRONMENT = {**os.environ, "MALLOC_ARENA_MAX": "2"}
WORDS = ("the parties agree that any notice under this agreement shall be given in writing and delivered by hand or "
         "sent by registered post to the address of the receiving party set out above payment invoice tenant "
         "landlord premises rent deposit term renewal schedule clause liability indemnity breach remedy").split()


def write_pdf(path: Path, page_count: int) -> None:
    import pikepdf

    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    rnd = random.Random(page_count)
    for number in range(1, page_count + 1):
        lines = [f"BT /F1 9 Tf 50 {790 - 14 * line} Td ({number}.{line} "
                 f"{' '.join(rnd.choice(WORDS) for _ in range(14))}) Tj ET" for line in range(50)]
        page = pdf.add_blank_page(page_size=(595, 842))
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream("\n".join(lines).encode())
    pdf.save(path)


def envelope_fields(page_count: int) -> list:
    from loginless.signing.pdf import StampedField

    return [StampedField("signature", 1, 72, 60, 200, 40, "Ana García Núñez"),
            StampedField("date_signed", 1, 320, 60, 120, 20, "2026-12-06"),
            StampedField("signature", page_count, 72, 60, 200, 40, "Bruno Torres"),
            StampedField("date_signed", page_count, 320, 60, 120, 20, "2026-12-07")]


def audit_trail(original: bytes, sealed: bytes):  # noqa: ANN201
    import hashlib

    from loginless.signing.pdf import AuditTrail, TrailDocument, TrailEvent, TrailRecipient

    start = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
    recipients = tuple(TrailRecipient(
        name=name, email=f"{name.split()[0].lower()}@example.com", role="signer", status="signed",
        verification="email_code", consented_at=start + timedelta(minutes=3),
        events=tuple(TrailEvent(start + timedelta(minutes=minute), action, "203.0.113.7", agent)
                     for minute, action in enumerate(("sent", "opened", "verified", "consented", "signed"))))
        for name in ("Ana García Núñez", "Bruno Torres"))
    return AuditTrail(envelope_id="env_bench", title="Lease agreement", sender_name="Marta Ruiz",
                      sender_email="marta@firm.example", sent_at=start, outcome="completed",
                      outcome_at=start + timedelta(hours=1),
                      documents=(TrailDocument("lease.pdf", hashlib.sha256(original).hexdigest(),
                                               hashlib.sha256(sealed).hexdigest()),),
                      recipients=recipients, generated_at=start + timedelta(hours=1))


class Cases:
    """The two ways, given the same original and the same PKCS#12 seal."""

    def __init__(self, seal_pkcs12: bytes) -> None:
        from pyhanko.sign import signers

        from loginless.signing.pdf import SealCredentials

        self.credentials = SealCredentials.from_pkcs12(seal_pkcs12, None, now=datetime.now(UTC))
        self.bare_signer = signers.SimpleSigner.load_pkcs12_data(seal_pkcs12, [], None)
        self.steps: dict[str, float] = {}

    def ours(self, original: bytes, page_count: int) -> bytes:
        from loginless.signing.pdf import audit_certificate, seal_pdf, stamp_fields

        moments = [time.perf_counter()]
        stamped = stamp_fields(original, envelope_fields(page_count))
        moments.append(time.perf_counter())
        sealed = seal_pdf(stamped, self.credentials, reason="Signed through loginless")
        moments.append(time.perf_counter())
        certificate = audit_certificate(audit_trail(original, sealed))
        moments.append(time.perf_counter())
        seal_pdf(certificate, self.credentials, reason="Certificate of completion")
        moments.append(time.perf_counter())
        self.steps = {step: moments[i + 1] - moments[i] for i, step in
                      enumerate(("stamp", "seal document", "audit certificate", "seal certificate"))}
        return sealed

    def bare(self, original: bytes, page_count: int) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers

        out = io.BytesIO()
        signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(original)),
                         signers.PdfSignatureMetadata(field_name="Seal"), signer=self.bare_signer, output=out)
        return out.getvalue()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timings(cases: Cases, original: bytes, page_count: int, rounds: int) -> dict:
    ways = {"bare": cases.bare, "ours": cases.ours}
    for run in ways.values():
        run(original, page_count)  # warm-up: imports, fonts, caches
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    steps: dict[str, list[float]] = {}
    for round_number in range(rounds):
        order = list(ways.items()) if round_number % 2 == 0 else list(reversed(ways.items()))
        for name, run in order:
            wall, cpu = time.perf_counter(), cpu_seconds()
            run(original, page_count)
            samples[name].append((time.perf_counter() - wall, cpu_seconds() - cpu))
        for step, seconds in cases.steps.items():
            steps.setdefault(step, []).append(seconds)
    result = {name: tuple(statistics.median(sample[i] for sample in taken) for i in range(2))
              for name, taken in samples.items()}
    result["steps"] = {step: statistics.median(seconds) for step, seconds in steps.items()}
    return result


MEMORY = """
import json, sys
from pathlib import Path
def rss(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith(field))
fresh = rss("VmRSS:")
sys.path.insert(0, {bench!r})
import signing
cases = signing.Cases(Path({seal!r}).read_bytes())
warm_up = Path({warm_up!r}).read_bytes()
getattr(cases, {way!r})(warm_up, 1)
original = Path({original!r}).read_bytes()
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak so far (imports, warm-up) is forgotten
before = rss("VmRSS:")
getattr(cases, {way!r})(original, {pages})
print(json.dumps({{"fresh": fresh, "before": before, "peak": rss("VmHWM:")}}))
"""


def memory(way: str, original: Path, pages: int, seal: Path, warm_up: Path) -> tuple[float, float]:
    """(growth while the case runs, the process's peak over a fresh interpreter's size: imports included), MB."""
    code = MEMORY.format(bench=str(Path(__file__).parent), seal=str(seal), warm_up=str(warm_up), way=way,
                         original=str(original), pages=pages)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENVIRONMENT, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    return seen["peak"] - seen["before"], seen["peak"] - seen["fresh"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    rounds = parser.parse_args().rounds

    from loginless.signing.pdf import development_ca

    with tempfile.TemporaryDirectory() as folder:
        seal = Path(folder, "seal.p12")
        seal.write_bytes(development_ca(now=datetime.now(UTC)).seal_pkcs12)
        warm_up = Path(folder, "warm-up.pdf")
        write_pdf(warm_up, 1)
        cases = Cases(seal.read_bytes())
        print(f"{'pages':>5} {'KB':>6} {'bare s':>7} {'ours s':>7} {'bare CPU':>8} {'ours CPU':>8} "
              f"{'bare/ours':>9} {'bare/ours CPU':>13} {'bare +MB':>8} {'ours +MB':>8} {'bare imp+MB':>11} "
              f"{'ours imp+MB':>11}")
        breakdowns = {}
        for page_count in PAGE_COUNTS:
            path = Path(folder, f"{page_count}-pages.pdf")
            write_pdf(path, page_count)
            original = path.read_bytes()
            measured = timings(cases, original, page_count, rounds)
            breakdowns[page_count] = measured["steps"]
            (bare_wall, bare_cpu), (ours_wall, ours_cpu) = measured["bare"], measured["ours"]
            bare_mb, bare_total = memory("bare", path, page_count, seal, warm_up)
            ours_mb, ours_total = memory("ours", path, page_count, seal, warm_up)
            print(f"{page_count:5d} {len(original) // 1024:6d} {bare_wall:7.3f} {ours_wall:7.3f} {bare_cpu:8.3f} "
                  f"{ours_cpu:8.3f} {bare_wall / ours_wall:9.2f} {bare_cpu / ours_cpu:13.2f} {bare_mb:8.1f} "
                  f"{ours_mb:8.1f} {bare_total:11.1f} {ours_total:11.1f}")
        print("\nours, by step (median seconds)")
        for page_count, steps in breakdowns.items():
            print(f"  {page_count:3d} pages: " + ", ".join(f"{step} {seconds:.3f}" for step, seconds in steps.items()))
        print(f"\n{rounds} rounds; load average {os.getloadavg()[0]:.1f}, CPUs {os.cpu_count()}, "
              f"Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()

"""``python -m loginless.signing.pdf dev-ca OUTDIR [--force]``: a development CA and seal for ``make run``.

Writes ``OUTDIR/ca.pem`` (the root to trust), ``OUTDIR/seal.pem`` and ``OUTDIR/seal.p12`` (key and certificate, no
password; the files are readable by their owner only). Existing files are kept unless ``--force``: a seal that
changed on every start would make yesterday's documents look sealed by a stranger.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from loginless.signing.pdf.devca import development_ca

FILES = ("ca.pem", "seal.pem", "seal.p12")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loginless.signing.pdf")
    commands = parser.add_subparsers(dest="command", required=True)
    dev_ca = commands.add_parser("dev-ca", help="create a development CA and a seal issued by it")
    dev_ca.add_argument("outdir", type=Path)
    dev_ca.add_argument("--force", action="store_true", help="replace existing files")
    arguments = parser.parse_args(argv)

    outdir: Path = arguments.outdir
    if not arguments.force and all((outdir / name).exists() for name in FILES):
        print(f"kept the development seal in {outdir}")
        return 0
    created = development_ca(now=datetime.now(UTC))
    outdir.mkdir(parents=True, exist_ok=True)
    for name, content in zip(FILES, (created.root_certificate_pem, created.seal_certificate_pem,
                                     created.seal_pkcs12), strict=True):
        _write_private(outdir / name, content)
    print(f"created a development seal in {outdir}")
    return 0


def _write_private(path: Path, content: bytes) -> None:
    partial = path.with_suffix(path.suffix + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    partial.replace(path)


if __name__ == "__main__":
    sys.exit(main())

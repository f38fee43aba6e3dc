"""Keep ``minio``'s admin-payload cryptography out of processes that never administer a MinIO server.

``minio/__init__.py`` imports ``MinioAdmin``, whose module imports ``minio.crypto`` at once, and that loads
pycryptodome, argon2-cffi, cffi and pycparser (about 3 MB resident in every process that stores a file) to encrypt
and decrypt MinIO admin API bodies -- something no loginless service does. Before ``minio`` is first imported, a
stand-in ``minio.crypto`` is registered whose ``encrypt`` and ``decrypt`` load the real module on first call, so
``MinioAdmin`` still works, only later. Written by hand because ``minio`` offers no switch for this (its package
``__init__`` imports the admin client unconditionally); the documents unit tests check both halves.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

_NAME = "minio.crypto"


def defer_minio_admin_crypto() -> None:
    """Register the stand-in, unless ``minio`` (or its crypto module) is already loaded: then it is too late, and
    nothing is changed."""
    if "minio" in sys.modules or _NAME in sys.modules:
        return
    package = importlib.util.find_spec("minio")  # locates the package without importing it
    if package is None or not package.submodule_search_locations:
        return
    real: types.ModuleType | None = None

    def load() -> types.ModuleType:
        nonlocal real
        if real is None:
            # The stand-in holds the module's name in sys.modules, so the real file is loaded by its path.
            spec = None
            for location in package.submodule_search_locations:
                spec = importlib.util.spec_from_file_location(_NAME, f"{location}/crypto.py")
                if spec is not None:
                    break
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            real = module
            sys.modules[_NAME] = module
        return real

    def encrypt(*args: Any, **kwargs: Any) -> Any:
        return load().encrypt(*args, **kwargs)

    def decrypt(*args: Any, **kwargs: Any) -> Any:
        return load().decrypt(*args, **kwargs)

    stand_in = types.ModuleType(_NAME, "Loads minio's real crypto module on first use (loginless.shared.blobs).")
    stand_in.encrypt, stand_in.decrypt = encrypt, decrypt  # type: ignore[attr-defined]

    def other(name: str) -> Any:
        if name.startswith("__"):  # the import system probes for __path__ and the like: not a use
            raise AttributeError(name)
        return getattr(load(), name)

    stand_in.__getattr__ = other  # type: ignore[method-assign]
    sys.modules[_NAME] = stand_in

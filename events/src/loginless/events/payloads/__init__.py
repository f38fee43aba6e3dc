"""Versioned payloads of every event loginless publishes, one module per owning service.

Adding an optional field keeps the version; any other change is a new class with ``version=N+1``, published
beside the old one for a deprecation period. ``tests/contract`` compares these against the committed schemas.
"""

import importlib
import pkgutil

# Every module here is imported, so a new service's payloads register themselves by being in this package.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

"""Versioned payloads of every event loginless publishes, one module per owning service.

Adding an optional field keeps the version; any other change is a new class with ``version=N+1``, published
beside the old one for a deprecation period. ``tests/contract`` compares these against the committed schemas.
"""

from loginless.shared.events.payloads import documents, links, payments, requests_, signing

__all__ = ["documents", "links", "payments", "requests_", "signing"]

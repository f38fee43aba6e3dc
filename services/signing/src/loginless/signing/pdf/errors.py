"""What the PDF engine refuses, and why a caller may try again."""

from __future__ import annotations

from typing import Literal

from loginless.shared.errors import DependencyUnavailable, InvalidRequest

HostileReason = Literal[
    "empty",
    "not-a-pdf",
    "malformed",
    "encrypted",
    "javascript",
    "embedded-files",
    "launch-action",
    "submit-form",
    "xfa-form",
    "too-many-pages",
    "too-large",
]


class HostilePdf(InvalidRequest):
    """An uploaded file the engine will not take; ``reason_code`` says which rule it broke (and reaches the API's
    problem details as ``reason``)."""

    problem_type = "unacceptable-pdf"
    title = "This PDF cannot be used for signing"

    def __init__(self, reason_code: HostileReason, detail: str) -> None:
        super().__init__(detail, reason=reason_code)
        self.reason_code = reason_code


class InvalidStamp(InvalidRequest):
    """A field value that cannot be drawn: a box outside its page, a signature image that is not a small PNG."""

    problem_type = "invalid-field-value"
    title = "A field value cannot be placed on the document"


class InvalidSealCredentials(InvalidRequest):
    """The PKCS#12 seal cannot sign documents; ``problem`` names the check it failed."""

    problem_type = "invalid-seal-credentials"
    title = "The seal certificate cannot be used"

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(detail, problem=problem)
        self.problem = problem


class SealingUnavailable(DependencyUnavailable):
    """The timestamp authority or a revocation source (CRL, OCSP) did not answer as needed; nothing was sealed.
    Retry later: the same input seals the same way once they are back."""

    problem_type = "sealing-unavailable"
    title = "The document cannot be sealed right now"

"""The errors of links: what its domain refuses, and what its client raises when links refused (one definition
for both, so a caller catches the same class whether it called links over HTTP or was links itself). Each becomes
a problem+json response."""

from __future__ import annotations

from loginless.shared.errors import InvalidRequest, LoginlessError, NotFound


class InvalidFields(InvalidRequest):
    """422 with ``errors``: one ``{field, message}`` per rule broken, so a caller can fix them all at once."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


class LinkNotFound(NotFound):
    def __init__(self) -> None:
        # One fixed text: whether a token or an id never existed or belongs to another tenant stays unknown.
        super().__init__("no such link")


class LinkGone(LoginlessError):
    """The link exists but is expired, revoked or used up."""

    status_code = 410
    problem_type = "link-gone"
    title = "The link can no longer be used"

    def __init__(self, *, link_id: str | None, tenant_id: str | None, link_status: str) -> None:
        # ``link_status`` (expired | revoked | used_up), beside RFC 9457's numeric ``status``, which stays 410.
        super().__init__(f"the link is {link_status.replace('_', ' ')}", link_id=link_id, tenant_id=tenant_id,
                         link_status=link_status)
        self.link_id, self.tenant_id, self.link_status = link_id, tenant_id, link_status


class LinkNotResendable(LoginlessError):
    """The link was issued without delivery (links never had its recipient's address), or before links kept
    tokens for sending again."""

    status_code = 409
    problem_type = "link-not-resendable"
    title = "This link cannot be sent again"

    def __init__(self, detail: str = "the link was not delivered by links; issue a new one") -> None:
        super().__init__(detail)


class VerificationNotRequired(LoginlessError):
    status_code = 409
    problem_type = "verification-not-required"
    title = "This link does not use recipient verification"


class VerificationLocked(LoginlessError):
    status_code = 423
    problem_type = "verification-locked"
    title = "Too many wrong codes"


class WrongVerificationCode(InvalidRequest):
    problem_type = "wrong-verification-code"
    title = "The code is wrong or has expired"

    def __init__(self, attempts_left: int | None) -> None:
        super().__init__("the code is wrong or has expired", attempts_left=attempts_left)
        self.attempts_left = attempts_left


class VerificationCodeTooSoon(LoginlessError):
    status_code = 429
    problem_type = "verification-code-too-soon"
    title = "A code was sent moments ago"

"""The links service in memory, for the tests of the services that call it and for the documents benchmark.

:class:`FakeLinks` is a :class:`~loginless.links.client.LinksApi`: links' own rules (the link aggregate's
``decide`` and ``evolve``, the issue rules, the verification-code rules of ``loginless.links.domain``) over
dictionaries where links has PostgreSQL, raising the errors :class:`~loginless.links.client.LinksClient` raises.
The contract suite ``services/links/tests/integration/test_links_api_contract.py`` runs the same tests against
this fake and against the client talking to the real service, so a caller's tests learn nothing false here.

Beside the API: seeding (:meth:`FakeLinks.add_tenant`, :meth:`~FakeLinks.add_api_key`, :meth:`~FakeLinks.add_link`),
looking behind it (:meth:`~FakeLinks.state_of`, :meth:`~FakeLinks.last_code`, ``calls``, ``events``), a clock the
test moves, and faults (``unavailable``, :meth:`~FakeLinks.fail_issuing_after`).
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from loginless.events import IntegrationEvent
from loginless.events.payloads.links import DeliveryChannel, GuestAction, Verification
from loginless.links.client import LinksRefused, LinksUnavailable
from loginless.links.domain import (
    LINK,
    CodeSendingCaps,
    Command,
    ExpiryPolicy,
    IssueLink,
    Language,
    Link,
    LockVerification,
    OpenLink,
    RevokeLink,
    UseLink,
    VerificationState,
    check_code_request,
    check_issue,
    judge_code,
)
from loginless.links.errors import (
    InvalidFields,
    LinkNotFound,
    LinkNotResendable,
    WrongVerificationCode,
)
from loginless.links.settings import LinksSettings
from loginless.links.tenants import Tenant, check_tenant
from loginless.links.tokens import is_well_formed_token, new_api_key, new_token, new_verification_code, parse_api_key
from loginless.links.views import (
    ClientIn,
    IssuedLink,
    IssuedLinks,
    IssueLinksIn,
    LinkView,
    RecipientIn,
    branding_of,
)
from loginless.shared.branding import Branding
from loginless.shared.errors import NotFound
from loginless.shared.web.auth import StaffPrincipal
from loginless.shared.web.idempotency import fingerprint
from loginless.testkit.clock import ManualWallClock


@dataclass
class _CodeState:
    """What links keeps of a link's one-time codes (the code itself, here, where links keeps its HMAC)."""

    verification: VerificationState = VerificationState()
    code: str | None = None
    codes_sent: int = 0


class FakeLinks:
    """:class:`~loginless.links.client.LinksApi` in memory.

    ``clock`` decides expiry (default: a :class:`ManualWallClock`, moved by ``fake.clock.advance(...)``).
    ``calls`` logs each API call as ``(operation, id)``: the method's name and the link id (``""`` for a token
    that opens nothing), the tenant id (``issue``, ``branding``) or the key id (``verify_api_key``). ``events``
    holds what links would have published. With ``unavailable`` set, every call raises ``LinksUnavailable`` (and
    ``branding`` answers None, as the client does when links never answered).
    """

    def __init__(self, *, public_url: str = "https://guests.example.test",
                 clock: Callable[[], datetime] | None = None, expiry: ExpiryPolicy | None = None) -> None:
        self.public_url = public_url.rstrip("/")
        self.clock = clock or ManualWallClock()
        # The service's default lifetimes, never the environment's: a fake must not depend on LINKS_* variables.
        self.expiry = expiry or LinksSettings.model_construct().expiry_policy()
        self.code_caps = CodeSendingCaps()
        self.unavailable = False
        self.calls: list[tuple[str, str]] = []
        self.events: list[IntegrationEvent] = []
        self.tenants: dict[str, Branding] = {}
        self._principals: dict[str, StaffPrincipal] = {}  # by API key
        self._links: dict[str, Link] = {}
        self._links_by_token: dict[str, str] = {}
        self._codes: dict[str, _CodeState] = {}
        self._answers: dict[tuple[str, str], tuple[bytes, IssuedLinks]] = {}  # (tenant, Idempotency-Key)
        self.resent: list[str] = []  # link ids sent again, in order
        self._issues_before_failure: int | None = None
        self._failed_issues_lose_their_answer = False

    # ---- the API ------------------------------------------------------------------------------------------

    async def verify_api_key(self, api_key: str) -> StaffPrincipal | None:
        principal = self._principals.get(api_key)
        self._called("verify_api_key", principal.key_id if principal else "")
        return principal

    async def resolve(self, token: str) -> LinkView:
        link_id = self._links_by_token.get(token) if is_well_formed_token(token) else None
        self._called("resolve", link_id or "")
        with _raised_as_the_client_raises():
            if link_id is None:
                raise LinkNotFound()
            link = self._links[link_id]
            link.require_active(self.clock())
        return LinkView.of(link, self.clock())

    async def get(self, link_id: str) -> LinkView | None:
        self._called("get", link_id)
        link = self._links.get(link_id)
        return LinkView.of(link, self.clock()) if link is not None else None

    async def record_opened(self, link_id: str, client: ClientIn) -> None:
        self._called("record_opened", link_id)
        self._run(link_id, OpenLink)

    async def use(self, link_id: str, client: ClientIn) -> LinkView:
        self._called("use", link_id)
        return LinkView.of(self._run(link_id, UseLink), self.clock())

    async def send_verification_code(self, link_id: str) -> None:
        self._called("send_verification_code", link_id)
        now = self.clock()
        with _raised_as_the_client_raises():
            link = self._link(link_id)
            codes = self._codes.setdefault(link_id, _CodeState())
            expires_at = check_code_request(link, codes.verification, now, self.code_caps)
            codes.code = new_verification_code()
            recent = tuple(at for at in codes.verification.recent_sends if at > now - timedelta(days=1))
            codes.verification = replace(codes.verification, code_issued_at=now, code_expires_at=expires_at,
                                         recent_sends=(*recent, now))
            codes.codes_sent += 1

    async def check_verification_code(self, link_id: str, code: str) -> None:
        self._called("check_verification_code", link_id)
        now = self.clock()
        with _raised_as_the_client_raises():
            link = self._link(link_id)
            codes = self._codes.setdefault(link_id, _CodeState())
            matches = codes.code is not None and hmac.compare_digest(codes.code.encode(), code.encode())
            judgement = judge_code(link, codes.verification, code_matches=matches, now=now)
            if judgement.locks:
                self._run(link_id, LockVerification)
            codes.verification = replace(codes.verification, failed_attempts=judgement.failed_attempts)
            if judgement.verified:  # a right code is spent at once
                codes.verification = replace(codes.verification, code_expires_at=codes.verification.code_issued_at)
                return
            if judgement.locks:
                self._link(link_id).require_unlocked(now)  # the lock just recorded: 423 with its retry_after
            raise WrongVerificationCode(attempts_left=judgement.attempts_left)

    async def branding(self, tenant_id: str) -> Branding | None:
        self.calls.append(("branding", tenant_id))
        return None if self.unavailable else self.tenants.get(tenant_id)

    async def issue(self, tenant_id: str, request: IssueLinksIn, *, idempotency_key: str | None = None,
                    ) -> IssuedLinks:
        self._called("issue", tenant_id)
        failing = self._issues_before_failure == 0
        if failing and not self._failed_issues_lose_their_answer:
            raise LinksUnavailable()
        issued = self._issue(tenant_id, request, idempotency_key)
        if failing:
            raise LinksUnavailable("the links service did not answer in time")
        if self._issues_before_failure is not None:
            self._issues_before_failure -= 1
        return issued

    async def revoke(self, tenant_id: str, link_id: str) -> LinkView:
        self._called("revoke", link_id)
        link = self._links.get(link_id)
        if link is None or link.tenant_id != tenant_id:
            raise LinkNotFound()
        return LinkView.of(self._run(link_id, RevokeLink), self.clock())

    async def resend(self, tenant_id: str, link_id: str) -> LinkView:
        self._called("resend", link_id)
        link = self._links.get(link_id)
        if link is None or link.tenant_id != tenant_id:
            raise LinkNotFound()
        link.require_active(self.clock())
        if link.delivery == "none":
            raise LinkNotResendable()
        self.resent.append(link_id)
        return LinkView.of(link, self.clock())

    async def close(self) -> None:
        pass

    # ---- faults -------------------------------------------------------------------------------------------

    def fail_issuing_after(self, successes: int | None, *, answer_lost: bool = False) -> None:
        """The next ``successes`` calls of ``issue`` go through, every later one raises ``LinksUnavailable``, until
        this is called with None. A failing call issues nothing -- or, with ``answer_lost``, issues the links and
        keeps the answer for its Idempotency-Key, as when links commits but its answer never arrives."""
        self._issues_before_failure = successes
        self._failed_issues_lose_their_answer = answer_lost

    # ---- seeding ------------------------------------------------------------------------------------------

    def add_tenant(self, tenant_id: str | None = None, name: str = "Demo Firm", *, logo_url: str | None = None,
                   color: str | None = None, contact_name: str | None = None, contact_email: str | None = None,
                   contact_phone: str | None = None) -> str:
        """A firm and its branding, checked as links checks them; returns its id (a new one unless given)."""
        tenant = Tenant(tenant_id=tenant_id or f"firm-{uuid.uuid4().hex[:8]}", name=name, logo_url=logo_url,
                        color=color, contact_name=contact_name, contact_email=contact_email,
                        contact_phone=contact_phone)
        check_tenant(tenant)
        self.tenants[tenant.tenant_id] = branding_of(tenant)
        return tenant.tenant_id

    def add_api_key(self, tenant_id: str, api_key: str | None = None) -> str:
        """A staff API key of the tenant, shaped as links makes them (``ll_<key id>_<secret>``); returns it."""
        key = parse_api_key(api_key) if api_key is not None else new_api_key()
        if key is None:
            raise ValueError("links issues API keys shaped ll_<key id>_<secret of 43+ characters>")
        self._principals[key.value] = StaffPrincipal(tenant_id=tenant_id, key_id=key.key_id)
        return key.value

    def add_link(self, tenant_id: str | None = None, *, action: GuestAction = "view", resource_id: str | None = None,
                 email: str | None = "guest@example.test", phone: str | None = None, name: str | None = "Guest",
                 language: Language = "en", expires_at: datetime | None = None, expires_in: timedelta | None = None,
                 max_uses: int | None = None, verification: Verification = "none",
                 delivery: DeliveryChannel = "none") -> tuple[str, LinkView]:
        """One link issued under the same rules as ``issue``, without a call in ``calls``; returns its token and
        the link. ``tenant_id`` defaults to the first tenant added."""
        request = IssueLinksIn(
            action=action, resource_id=resource_id or f"{action}-{uuid.uuid4().hex[:10]}",
            recipients=[RecipientIn(name=name, email=email, phone=phone, language=language, delivery=delivery)],
            expires_at=expires_at, expires_in_seconds=int(expires_in.total_seconds()) if expires_in else None,
            max_uses=max_uses, verification=verification)
        [issued] = self._issue(tenant_id or next(iter(self.tenants)), request, None).links
        return issued.url.rsplit("/l/", 1)[1], self.state_of(issued.link_id)

    # ---- looking behind the API ---------------------------------------------------------------------------

    def state_of(self, link_id: str) -> LinkView:
        """The link as links knows it now (without a call in ``calls``)."""
        return LinkView.of(self._links[link_id], self.clock())

    def links_for(self, resource_id: str) -> list[LinkView]:
        return [LinkView.of(link, self.clock()) for link in self._links.values() if link.resource_id == resource_id]

    def last_code(self, link_id: str) -> str | None:
        """The newest one-time code sent for the link: what the recipient would read in the message."""
        codes = self._codes.get(link_id)
        return codes.code if codes else None

    def codes_sent(self, link_id: str) -> int:
        codes = self._codes.get(link_id)
        return codes.codes_sent if codes else 0

    def wrong_codes(self, link_id: str) -> int:
        """Wrong codes entered since the last right one (the link locks at ``MAX_CODE_ATTEMPTS``)."""
        codes = self._codes.get(link_id)
        return codes.verification.failed_attempts if codes else 0

    # ---- inside -------------------------------------------------------------------------------------------

    def _called(self, operation: str, subject: str) -> None:
        self.calls.append((operation, subject))
        if self.unavailable:
            raise LinksUnavailable()

    def _link(self, link_id: str) -> Link:
        link = self._links.get(link_id)
        if link is None:
            raise LinkNotFound()
        return link

    def _run(self, link_id: str, command: Callable[[datetime], Command]) -> Link:
        """One command on one link, as links' handlers run it: decide, then evolve by the events."""
        with _raised_as_the_client_raises():
            link = self._link(link_id)
            events = LINK.decide(link, command(self.clock()))
        return self._record(link, events)

    def _record(self, link: Link | None, events: list[IntegrationEvent]) -> Link:
        link = LINK.replay(events, link)
        assert link is not None
        self._links[link.link_id] = link
        self.events += events
        return link

    def _issue(self, tenant_id: str, request: IssueLinksIn, idempotency_key: str | None) -> IssuedLinks:
        if tenant_id not in self.tenants:
            raise NotFound("links knows no such tenant", tenant_id=tenant_id)
        now = self.clock()
        wanted = request.to_domain()
        with _raised_as_the_client_raises():
            checked = check_issue(wanted, self.expiry, now)
        request_fingerprint = fingerprint(asdict(wanted))
        if idempotency_key is not None and (tenant_id, idempotency_key) in self._answers:
            stored_fingerprint, answer = self._answers[(tenant_id, idempotency_key)]
            if stored_fingerprint != request_fingerprint:
                raise LinksRefused("links: this Idempotency-Key was used with a different request in the last 24 "
                                   "hours", errors=None)
            return answer.model_copy(deep=True)
        issued = []
        for recipient, delivery in checked.recipients:
            link_id, token = str(uuid.uuid4()), new_token()
            link = self._record(None, LINK.decide(None, IssueLink(
                link_id=link_id, tenant_id=tenant_id, action=wanted.action, resource_id=wanted.resource_id,
                recipient=recipient, expires_at=checked.expires_at, max_uses=wanted.max_uses,
                verification=wanted.verification, delivery=delivery, now=now)))
            self._links_by_token[token] = link_id
            issued.append(IssuedLink.of(link, f"{self.public_url}/l/{token}", now))
        answer = IssuedLinks(links=issued)
        if idempotency_key is not None:
            self._answers[(tenant_id, idempotency_key)] = (request_fingerprint, answer.model_copy(deep=True))
        return answer


@contextmanager
def _raised_as_the_client_raises() -> Iterator[None]:
    """Links' domain errors as :class:`~loginless.links.client.LinksClient` raises them once they crossed HTTP:
    the same classes (the client raises links' own), except that broken rules of an issue come back refused."""
    try:
        yield
    except InvalidFields as error:
        raise LinksRefused(f"links: {error.detail}", errors=error.extra["errors"]) from error

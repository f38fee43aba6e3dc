"""The gateway's read model of link state: what every replica checks on every guest request.

The worker's consumer ``gateway-link-state`` (``consumers.py``) applies ``links.events`` to the ``link_state``
table (inbox-deduplicated, offsets committed after the effect), so a restart resumes where it stopped instead of
replaying the topic. A link the consumer has not seen yet (issued a moment ago) is fetched from the links service
and merged in the same way.
Every replica reads the same table, so a revocation is enforced everywhere as soon as its event is applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import asyncpg

from loginless.events import CloudEvent, event_class
from loginless.events.payloads import links as link_events
from loginless.links.views import LinkView
from loginless.shared.eventstore import quote_ident
from loginless.shared.web.assertion import GuestAssertion, GuestRecipient


@dataclass(frozen=True)
class LinkFacts:
    """What one event or answer says about a link; None means "says nothing about it"."""

    link_id: str
    tenant_id: str
    action: str | None = None
    resource_id: str | None = None
    recipient_name: str | None = None
    recipient_email: str | None = None
    recipient_phone: str | None = None
    recipient_language: str | None = None
    expires_at: datetime | None = None
    max_uses: int | None = None
    verification: str | None = None
    uses: int = 0
    revoked_at: datetime | None = None
    # The newest lock after too many wrong codes: since when and until when codes are refused. A staff reset is
    # recorded as a lock that ended as it began, so the newest fact of either kind wins.
    verification_locked_at: datetime | None = None
    verification_locked_until: datetime | None = None

    @classmethod
    def from_view(cls, view: LinkView) -> LinkFacts:
        return cls(
            link_id=view.link_id, tenant_id=view.tenant_id, action=view.action, resource_id=view.resource_id,
            recipient_name=view.recipient.name, recipient_email=view.recipient.email,
            recipient_phone=view.recipient.phone, recipient_language=view.recipient.language,
            expires_at=view.expires_at, max_uses=view.max_uses, verification=view.verification, uses=view.uses,
            revoked_at=view.revoked_at,
            # The view says only whether and until when; a newer event (a reset) still wins over it.
            verification_locked_at=datetime.now(UTC) if view.verification_locked else None,
            verification_locked_until=view.verification_locked_until if view.verification_locked else None,
        )


@dataclass(frozen=True)
class LinkState(LinkFacts):
    """A row of the read model."""

    @property
    def described(self) -> bool:
        """Whether the issue itself is known (else only, say, its revocation is)."""
        return self.action is not None and self.resource_id is not None and self.expires_at is not None

    def closed_reason(self, now: datetime) -> str | None:
        """Why a guest already inside may no longer use the link: ``revoked``, ``expired`` or None.

        Running out of uses is not a reason here: it stops new entries (the links service decides those),
        not the guest whose entry used the last one.
        """
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return None

    def verification_locked_until_at(self, now: datetime) -> datetime | None:
        """When the link takes codes again, if a lock pauses them at ``now`` (a lock links recorded without its
        end is for links to refuse: the page is asked for and links answers 423)."""
        until = self.verification_locked_until
        return until if until is not None and now < until else None

    def assertion(self, audience: str, *, device_proven: bool = False) -> GuestAssertion:
        if not self.described:
            raise ValueError(f"link {self.link_id} is not described yet; fetch it from links first")
        return GuestAssertion(
            link_id=self.link_id, tenant_id=self.tenant_id, action=self.action, resource_id=self.resource_id,
            recipient=GuestRecipient(name=self.recipient_name, email=self.recipient_email,
                                     phone=self.recipient_phone, language=self.recipient_language),
            link_expires_at=self.expires_at, audience=audience, device_proven=device_proven,
        )


_COLUMNS = [field.name for field in fields(LinkFacts)]
_FIXED = [name for name in _COLUMNS if name not in ("link_id", "tenant_id", "uses", "revoked_at",
                                                      "verification_locked_at", "verification_locked_until")]


def _merge_sql(table: str) -> str:
    placeholders = ", ".join(f"${index}" for index in range(1, len(_COLUMNS) + 1))
    fixed = ", ".join(f"{name} = coalesce(link_state.{name}, EXCLUDED.{name})" for name in _FIXED)
    return (
        f"INSERT INTO {table} AS link_state ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
        f" ON CONFLICT (link_id) DO UPDATE SET {fixed},"
        " uses = greatest(link_state.uses, EXCLUDED.uses),"
        " revoked_at = coalesce(link_state.revoked_at, EXCLUDED.revoked_at),"
        # The newest verification fact (lock or reset) wins, both of its columns together.
        " (verification_locked_at, verification_locked_until) = (SELECT at, until FROM (VALUES"
        " (link_state.verification_locked_at, link_state.verification_locked_until),"
        " (EXCLUDED.verification_locked_at, EXCLUDED.verification_locked_until)) AS facts(at, until)"
        " ORDER BY at DESC NULLS LAST, until ASC NULLS LAST LIMIT 1),"
        " updated_at = clock_timestamp()"
    )


class LinkStateStore:
    """The ``link_state`` table.

    ``cache_seconds`` > 0 keeps each row read in this process that long, so a burst of requests for one link (a
    page and its assets) costs one query. A revocation then reaches this replica at most that much later; the
    default (0.1 s) keeps the one-second promise with room to spare. 0 reads the table on every request.
    """

    def __init__(self, pool: asyncpg.Pool, *, schema: str, cache_seconds: float = 0.0,
                 clock: Callable[[], float] = time.monotonic, max_cached: int = 10_000) -> None:
        self.pool = pool
        self.cache_seconds = cache_seconds
        self.clock = clock
        self.max_cached = max_cached
        self._recent: dict[str, tuple[float, LinkState]] = {}
        table = f"{quote_ident(schema)}.link_state"
        self._select_sql = f"SELECT {', '.join(_COLUMNS)} FROM {table} WHERE link_id = $1"
        self._merge_sql = _merge_sql(table)

    async def get(self, link_id: str) -> LinkState | None:
        """The row of ``link_id``, if the gateway knows the link: one indexed read (or a very recent one)."""
        if self.cache_seconds > 0:
            recent = self._recent.get(link_id)
            if recent is not None and recent[0] > self.clock():
                return recent[1]
        row = await self.pool.fetchrow(self._select_sql, link_id)
        if row is None:
            return None
        state = LinkState(**row)
        if self.cache_seconds > 0:
            if len(self._recent) >= self.max_cached:
                self._recent.clear()
            self._recent[link_id] = (self.clock() + self.cache_seconds, state)
        return state

    async def merge(self, facts: LinkFacts, connection: asyncpg.Connection | None = None) -> None:
        arguments = [getattr(facts, name) for name in _COLUMNS]
        await (connection or self.pool).execute(self._merge_sql, *arguments)
        self._recent.pop(facts.link_id, None)


# The links.events types that change link state. The consumer skips every other type without retrying it (a
# newer version during a rolling upgrade among them, with a warning), so an unknown record never holds back a
# revocation queued behind it on its partition.
LINK_STATE_EVENTS = tuple(payload.type_name() for payload in (
    link_events.LinkIssued, link_events.LinkRevoked, link_events.LinkUsed, link_events.LinkVerificationLocked,
    link_events.LinkVerificationReset))


class LinkStateFreshness:
    """``link_state_freshness``: how far the read model can be trusted to know of every revocation.

    The worker reports, per partition of ``links.events`` it consumes, when it was last caught up; the API reads
    the oldest report, keeping it ``cache_seconds`` (as it keeps link rows), and calls the read model fresh while
    that is less than ``max_staleness_seconds`` old. No report at all (no worker ever ran, or every one stopped)
    is not fresh.
    """

    def __init__(self, pool: asyncpg.Pool, *, schema: str, max_staleness_seconds: float = 2.0,
                 cache_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.pool = pool
        self.max_staleness_seconds = max_staleness_seconds
        self.cache_seconds = cache_seconds
        self.clock = clock
        self.wall_clock = wall_clock
        self._recent: tuple[float, float | None] | None = None  # (reuse until, oldest report as a unix time)
        table = f"{quote_ident(schema)}.link_state_freshness"
        self._oldest_sql = f"SELECT extract(epoch FROM min(caught_up_at))::float8 FROM {table}"
        # A partition not caught up (NULL) keeps its last report; one never reported before starts as stale.
        self._report_sql = (
            f"INSERT INTO {table} AS freshness (partition, caught_up_at)"
            " SELECT partition, coalesce(at, '-infinity') FROM unnest($1::int[], $2::timestamptz[]) AS r(partition, at)"
            " ON CONFLICT (partition) DO UPDATE SET caught_up_at = CASE WHEN EXCLUDED.caught_up_at = '-infinity'"
            " THEN freshness.caught_up_at ELSE EXCLUDED.caught_up_at END, reported_at = clock_timestamp()"
        )
        self._stale_sql = (f"UPDATE {table} SET caught_up_at = '-infinity', reported_at = clock_timestamp()"
                           " WHERE partition = ANY($1::int[])")

    async def fresh(self) -> bool:
        """Whether every partition's last report is recent enough to trust the read model as it is."""
        now = self.clock()
        if self._recent is None or self._recent[0] <= now:
            oldest = await self.pool.fetchval(self._oldest_sql)
            self._recent = (now + self.cache_seconds, oldest)
        oldest = self._recent[1]
        return oldest is not None and self.wall_clock() - oldest <= self.max_staleness_seconds

    async def report(self, caught_up: dict[int, datetime | None]) -> None:
        """The worker's report: a time for each partition caught up; None (not caught up) keeps what was there, or
        starts a partition never reported as stale."""
        if caught_up:
            partitions = list(caught_up)
            await self.pool.execute(self._report_sql, partitions, [caught_up[p] for p in partitions])

    async def mark_stale(self, partitions: set[int]) -> None:
        await self.pool.execute(self._stale_sql, sorted(partitions))


def facts_from_event(event: CloudEvent) -> LinkFacts | None:
    """What a ``links.events`` event says about link state; None for events that say nothing about access.

    An event type not in the catalog raises ``UnknownEventType``; the consumer reads only ``LINK_STATE_EVENTS``.
    """
    payload = event_class(event.type).model_validate(event.data)
    match payload:
        case link_events.LinkIssued():
            return LinkFacts(
                link_id=payload.link_id, tenant_id=payload.tenant_id, action=payload.action,
                resource_id=payload.resource_id, recipient_name=payload.recipient_name,
                recipient_email=payload.recipient_email, recipient_phone=payload.recipient_phone,
                recipient_language=payload.recipient_language, expires_at=payload.expires_at,
                max_uses=payload.max_uses, verification=payload.verification,
            )
        case link_events.LinkRevoked():
            return LinkFacts(link_id=payload.link_id, tenant_id=payload.tenant_id, revoked_at=payload.revoked_at)
        case link_events.LinkUsed():
            return LinkFacts(link_id=payload.link_id, tenant_id=payload.tenant_id, uses=payload.uses)
        case link_events.LinkVerificationLocked():
            return LinkFacts(link_id=payload.link_id, tenant_id=payload.tenant_id,
                             verification_locked_at=payload.locked_at, verification_locked_until=payload.locked_until)
        case link_events.LinkVerificationReset():
            return LinkFacts(link_id=payload.link_id, tenant_id=payload.tenant_id,
                             verification_locked_at=payload.reset_at, verification_locked_until=payload.reset_at)
        case (link_events.LinkOpened() | link_events.LinkDelivered() | link_events.LinkDeliveryFailed()
              | link_events.LinkExpired()):
            return None
    raise TypeError(f"the gateway does not know how to apply {event.type}")

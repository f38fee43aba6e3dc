"""The branding cache guest-facing services share: fresh for a while, stale rather than missing."""

import pytest

from loginless.shared.branding import Branding, BrandingCache
from loginless.testkit.clock import ManualClock

pytestmark = pytest.mark.unit


class Links:
    """The links service's answers, one per call, in order (None: it cannot tell right now)."""

    def __init__(self, *answers: Branding | None) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, tenant_id: str) -> Branding | None:
        self.asked.append(tenant_id)
        return self.answers.pop(0)


async def test_branding_is_fetched_once_per_lifetime_and_then_again():
    clock, links = ManualClock(), Links(Branding(name="Acme"), Branding(name="Acme Advisors"))
    cache = BrandingCache(links, ttl_seconds=60, clock=clock)
    assert (await cache.get("t1")).name == "Acme"
    clock.now += 59
    assert (await cache.get("t1")).name == "Acme"
    clock.now += 2
    assert (await cache.get("t1")).name == "Acme Advisors"
    assert links.asked == ["t1", "t1"]


async def test_when_links_cannot_tell_the_last_known_branding_is_served_however_old():
    clock, links = ManualClock(), Links(Branding(name="Acme"), None, None)
    cache = BrandingCache(links, ttl_seconds=60, clock=clock)
    await cache.get("t1")
    clock.now += 3600
    assert (await cache.get("t1")).name == "Acme"
    assert await cache.get("t2") is None  # never known: nothing to show
    assert links.asked == ["t1", "t1", "t2"]


async def test_the_cache_stays_bounded():
    links = Links(*(Branding(name=f"Firm {n}") for n in range(5)))
    cache = BrandingCache(links, ttl_seconds=60, clock=ManualClock(), max_tenants=3)
    for n in range(5):
        await cache.get(f"t{n}")
    assert len(cache._entries) <= 3

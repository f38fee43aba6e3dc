"""What a consumer does with each record: handle, upcast, skip, or retry a failing handler within its budget."""

import pytest

from loginless.events import CloudEvent
from loginless.shared.eventstore import Upcasters
from loginless.shared.messaging.reading import EventReader, Handle, PoisonMessage, RetryPolicy, Skip, SkipReason

pytestmark = pytest.mark.unit

TALLY_V1 = "loginless.sample.TallyIncremented.v1"  # registered by loginless.testkit.sample


@pytest.fixture(autouse=True)
def _sample_events():
    import loginless.testkit.sample  # noqa: F401  (registers the sample event type)


def event(type_name: str, data: dict | None = None) -> CloudEvent:
    return CloudEvent(source="/loginless/sample", type=type_name, subject="t1",
                      data={"tally_id": "t1", "number": 1} if data is None else data, tenantid="t", correlationid="c")


def test_a_type_the_consumer_reads_is_handled_as_it_came():
    received = event(TALLY_V1)
    assert EventReader(handles=[TALLY_V1]).read(received) == Handle(received)
    assert EventReader().read(received) == Handle(received)  # None: every type in the catalog


def test_a_type_the_consumer_does_not_read_is_skipped_not_retried():
    reader = EventReader(handles=[TALLY_V1])
    assert reader.read(event("loginless.links.LinkOpened.v1")) == Skip(SkipReason.UNHANDLED)
    assert reader.read(event("loginless.sample.TallyReset.v1")) == Skip(SkipReason.UNHANDLED)  # a brand-new type
    assert reader.read(event("com.example.something.else")) == Skip(SkipReason.UNHANDLED)  # not even ours
    assert EventReader().read(event("loginless.sample.Unheard.v1")) == Skip(SkipReason.UNHANDLED)


def test_a_newer_version_of_a_type_the_consumer_reads_is_skipped_with_its_own_reason_without_an_upcaster():
    assert EventReader(handles=[TALLY_V1]).read(event("loginless.sample.TallyIncremented.v2")) == Skip(
        SkipReason.UNKNOWN_VERSION)
    assert EventReader().read(event("loginless.sample.TallyIncremented.v7")) == Skip(SkipReason.UNKNOWN_VERSION)


def test_a_version_the_consumer_does_not_read_is_read_through_its_upcasters_step_by_step():
    upcasters = Upcasters()

    @upcasters.register("sample", "TallyIncremented", 0)
    def v0_to_v1(data: dict) -> dict:
        return {"tally_id": data["tally"], "number": data["count"]}

    received = event("loginless.sample.TallyIncremented.v0", {"tally": "t9", "count": 4})
    reading = EventReader(handles=[TALLY_V1], upcasters=upcasters).read(received)
    assert isinstance(reading, Handle)
    assert (reading.event.type, reading.event.data, reading.upcast_from) == (
        TALLY_V1, {"tally_id": "t9", "number": 4}, "loginless.sample.TallyIncremented.v0")
    assert (reading.event.id, reading.event.subject) == (received.id, received.subject)  # the same event, read anew


def test_data_that_does_not_fit_its_type_or_upcaster_is_poison_for_the_dead_letters_at_once():
    with pytest.raises(PoisonMessage):
        EventReader(handles=[TALLY_V1]).read(event(TALLY_V1, {"tally_id": "t1"}))  # no number
    upcasters = Upcasters()
    upcasters.register("sample", "TallyIncremented", 0)(lambda data: {"tally_id": data["missing"]})
    with pytest.raises(PoisonMessage):
        EventReader(handles=[TALLY_V1], upcasters=upcasters).read(event("loginless.sample.TallyIncremented.v0", {}))


def test_a_failing_handler_is_retried_with_growing_pauses_until_its_attempts_run_out():
    policy = RetryPolicy(max_attempts=4, first_delay_seconds=0.05, budget_seconds=10)
    assert [policy.delay_after(attempt, 0.0) for attempt in (1, 2, 3, 4)] == [0.05, 0.1, 0.2, None]


def test_a_failing_handler_never_holds_its_partition_past_the_time_budget():
    policy = RetryPolicy(max_attempts=100, first_delay_seconds=0.05, budget_seconds=1.0)
    elapsed, attempt = 0.0, 1
    while (delay := policy.delay_after(attempt, elapsed)) is not None:
        elapsed += delay + 0.01  # each attempt itself takes a little time
        attempt += 1
    assert elapsed <= 1.0 + 0.01  # the last pause is cut to what is left of the budget
    assert attempt < 100  # the budget, not the attempts, ended it
    assert policy.delay_after(1, 1.0) is None

"""An error page's words follow the problem type, then the status, and always say what to do next."""

import pytest

from loginless.shared.errors import ConcurrencyConflict, DependencyUnavailable, NotFound
from loginless.shared.guest import problems
from loginless.shared.guest.problems import GuestProblem, guest_problem

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("error", "expected"), [
    (NotFound("x"), problems.NOTHING_HERE),
    (ConcurrencyConflict("x"), problems.CHANGED_MEANWHILE),
    (DependencyUnavailable("x"), problems.UNAVAILABLE),
])
def test_the_kernels_errors_have_their_own_words(error, expected):
    assert guest_problem(error.problem_type, error.status_code) is expected


def test_a_link_that_ended_tells_the_guest_to_ask_the_firm_for_a_new_one():
    gone = guest_problem("link-gone", 410)
    assert gone.title == "This link is no longer valid"
    assert gone.next_step == "If you still need it, ask %(firm)s for a new link."


def test_the_problem_type_decides_before_the_status():
    assert guest_problem("verification-locked", 423) is problems.VERIFICATION_LOCKED
    assert guest_problem("gone", 400) is problems.LINK_GONE


def test_an_unknown_type_falls_back_to_the_status_then_to_its_class():
    assert guest_problem("tus-version", 410) is problems.LINK_GONE
    assert guest_problem(None, 401) is problems.NO_ACCESS
    assert guest_problem("upload-busy", 418) is problems.NOT_ACCEPTED
    assert guest_problem(None, 502) is problems.UNAVAILABLE
    assert guest_problem("internal-error", 500) is problems.UNEXPECTED


def test_a_service_adds_words_for_a_problem_only_it_has():
    deadline = GuestProblem("Closed", "The deadline passed.", "Ask %(firm)s.", "Ask the sender.")
    assert guest_problem("gone", 410, specific={"gone": deadline}) is deadline
    assert guest_problem("not-found", 404, specific={"gone": deadline}) is problems.NOTHING_HERE


@pytest.mark.parametrize("problem", [value for value in vars(problems).values() if isinstance(value, GuestProblem)])
def test_every_problem_says_what_to_do_next_with_and_without_the_firms_name(problem):
    assert problem.next_step and problem.next_step_unbranded
    assert "%(firm)s" not in problem.next_step_unbranded
    assert "%(" not in problem.title + problem.explanation

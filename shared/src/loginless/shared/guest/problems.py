"""What an error page says, chosen by the problem type of the error (``LoginlessError.problem_type``), else by
its HTTP status: what happened, in a guest's words, and what to do next -- naming the firm and how to reach it
whenever the page knows whose link it is (the base template's footer gives the contact).

The messages are English msgids, translated where the page shows them (``guest/error.html``). A service adds
words of its own for a problem only it has by passing ``specific`` to :func:`guest_problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from loginless.shared.guest.i18n import N_


@dataclass(frozen=True)
class GuestProblem:
    """An error page's three messages. ``next_step`` may name ``%(firm)s``; ``next_step_unbranded`` is said
    instead when the page cannot name the firm (an unknown link must not reveal whose it might have been)."""

    title: str
    explanation: str
    next_step: str
    next_step_unbranded: str


LINK_GONE = GuestProblem(
    title=N_("This link is no longer valid"),
    explanation=N_("This link has expired."),
    next_step=N_("If you still need it, ask %(firm)s for a new link."),
    next_step_unbranded=N_("If you still need it, ask whoever sent it to you for a new link."),
)
LINK_NOT_FOUND = GuestProblem(  # a link nobody issued, or a mistyped one; the page must not name any firm
    title=N_("This link doesn't work"),
    explanation=N_("The address may be incomplete or mistyped. Open the link again from the message you received, "
                   "and make sure you use the whole address."),
    next_step=N_("If it still doesn't work, ask %(firm)s for a new link."),
    next_step_unbranded=N_("If it still doesn't work, ask whoever sent it to you for a new link."),
)
NOTHING_HERE = GuestProblem(  # the link works, but what was asked for under it does not exist
    title=N_("There is nothing here"),
    explanation=N_("What you asked for is not part of what this link opens."),
    next_step=N_("Go back to the page your link opened. If something you expected is missing, ask %(firm)s."),
    next_step_unbranded=N_("Go back to the page your link opened."),
)
NO_ACCESS = GuestProblem(
    title=N_("Open your link first"),
    explanation=N_("This page only opens from the link you received, in the browser where you opened it."),
    next_step=N_("Open the link from your message again. If it no longer works, ask %(firm)s for a new one."),
    next_step_unbranded=N_("Open the link from your message again. If it no longer works, ask whoever sent it to "
                           "you for a new one."),
)
NOT_ALLOWED = GuestProblem(
    title=N_("Your link does not allow this"),
    explanation=N_("What you asked for is not part of what was shared with you through this link."),
    next_step=N_("If you need it, ask %(firm)s."),
    next_step_unbranded=N_("If you need it, ask whoever sent you the link."),
)
VERIFICATION_LOCKED = GuestProblem(
    title=N_("Too many wrong codes"),
    explanation=N_("For your security, this link no longer accepts codes."),
    next_step=N_("Ask %(firm)s to send you a new link."),
    next_step_unbranded=N_("Ask whoever sent you the link to send you a new one."),
)
TOO_MANY_REQUESTS = GuestProblem(
    title=N_("Too many attempts"),
    explanation=N_("We have paused this for a moment to keep your link safe."),
    next_step=N_("Please try again in a few minutes."),
    next_step_unbranded=N_("Please try again in a few minutes."),
)
CHANGED_MEANWHILE = GuestProblem(
    title=N_("This changed while you were on the page"),
    explanation=N_("Someone else acted on it at the same time, so nothing was changed by your last step."),
    next_step=N_("Open the page again to see where things stand. If something looks wrong, contact %(firm)s."),
    next_step_unbranded=N_("Open the page again to see where things stand."),
)
NOT_ACCEPTED = GuestProblem(
    title=N_("That could not be accepted"),
    explanation=N_("Something in what was sent is not what this page expects."),
    next_step=N_("Go back, check what you entered and try again. If it keeps happening, contact %(firm)s."),
    next_step_unbranded=N_("Go back, check what you entered and try again."),
)
UNAVAILABLE = GuestProblem(
    title=N_("We can't open this right now"),
    explanation=N_("Part of our service is not answering at the moment. Nothing was lost."),
    next_step=N_("Please try again in a few minutes."),
    next_step_unbranded=N_("Please try again in a few minutes."),
)
UNEXPECTED = GuestProblem(
    title=N_("Something went wrong"),
    explanation=N_("Something went wrong on our side. Nothing you did caused it."),
    next_step=N_("Please try again in a few minutes. If it keeps happening, contact %(firm)s."),
    next_step_unbranded=N_("Please try again in a few minutes."),
)

BY_PROBLEM_TYPE: dict[str, GuestProblem] = {
    "link-gone": LINK_GONE,
    "gone": LINK_GONE,
    "not-found": NOTHING_HERE,
    "forbidden": NOT_ALLOWED,
    "verification-locked": VERIFICATION_LOCKED,
    "verification-code-too-soon": TOO_MANY_REQUESTS,
    "concurrency-conflict": CHANGED_MEANWHILE,
    "conflict": CHANGED_MEANWHILE,
    "invalid-request": NOT_ACCEPTED,
    "dependency-unavailable": UNAVAILABLE,
}
BY_STATUS: dict[int, GuestProblem] = {
    401: NO_ACCESS, 403: NOT_ALLOWED, 404: NOTHING_HERE, 409: CHANGED_MEANWHILE, 410: LINK_GONE,
    422: NOT_ACCEPTED, 423: VERIFICATION_LOCKED, 429: TOO_MANY_REQUESTS, 503: UNAVAILABLE,
}


def guest_problem(problem_type: str | None, status_code: int, *,
                  specific: Mapping[str, GuestProblem] | None = None) -> GuestProblem:
    """The words for a problem: the service's ``specific`` ones for its type, else the kit's, else the status's,
    else the generic ones (every other 4xx is something the guest sent; 5xx, something on our side)."""
    if problem_type is not None:
        found = (specific or {}).get(problem_type) or BY_PROBLEM_TYPE.get(problem_type)
        if found is not None:
            return found
    if status_code in BY_STATUS:
        return BY_STATUS[status_code]
    return NOT_ACCEPTED if 400 <= status_code < 500 else (UNAVAILABLE if status_code in (502, 504) else UNEXPECTED)

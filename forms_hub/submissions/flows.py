"""The submission lifecycle as one table of allowed transitions (STYLE.md: explicit state
machines). Anything not in the table is refused; every transition writes a history row.

    draft --submit--> submitted --start_review--> in_review --approve--> approved
                          |                        |   ^
                          |                 request_info  resubmit (the resident answers)
                          |                        v   |
                          |                     info_requested
                          +--reject / withdraw     (reject from submitted or in_review;
                                                    withdraw by the resident before a decision)
"""

from __future__ import annotations

from dataclasses import dataclass

RESIDENT = "resident"
DEPARTMENT = "department"  # an officer of the form's department, or its back-end system

STATUSES = ("draft", "submitted", "in_review", "info_requested", "approved", "rejected", "withdrawn")
DECIDED = ("approved", "rejected", "withdrawn")


@dataclass(frozen=True)
class Transition:
    source: str
    action: str
    target: str
    actor: str
    reason_required: bool = False


TRANSITIONS: tuple[Transition, ...] = (
    Transition("draft", "submit", "submitted", RESIDENT),
    Transition("submitted", "start_review", "in_review", DEPARTMENT),
    Transition("submitted", "reject", "rejected", DEPARTMENT, reason_required=True),
    Transition("in_review", "request_info", "info_requested", DEPARTMENT, reason_required=True),
    Transition("info_requested", "resubmit", "in_review", RESIDENT),
    Transition("in_review", "approve", "approved", DEPARTMENT),
    Transition("in_review", "reject", "rejected", DEPARTMENT, reason_required=True),
    Transition("submitted", "withdraw", "withdrawn", RESIDENT),
    Transition("in_review", "withdraw", "withdrawn", RESIDENT),
    Transition("info_requested", "withdraw", "withdrawn", RESIDENT),
)
_BY_KEY = {(t.source, t.action): t for t in TRANSITIONS}
DEPARTMENT_ACTIONS = tuple(sorted({t.action for t in TRANSITIONS if t.actor == DEPARTMENT}))


class IllegalTransition(Exception):
    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"cannot {action} a submission that is {status}")
        self.status = status
        self.action = action


def transition(status: str, action: str, actor: str) -> Transition:
    """The transition ``actor`` may make with ``action`` from ``status``.

    Raises:
        IllegalTransition: not in the table (or not this actor's to make).
    """
    found = _BY_KEY.get((status, action))
    if found is None or found.actor != actor:
        raise IllegalTransition(status, action)
    return found


def actions_from(status: str, actor: str) -> list[str]:
    return [t.action for t in TRANSITIONS if t.source == status and t.actor == actor]

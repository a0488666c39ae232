"""The application status machine: pure rules deciding which event a change produces."""

from __future__ import annotations

from enum import StrEnum

from core.errors import Forbidden, InvalidTransition, ValidationFailed


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Party(StrEnum):
    OWNER = "owner"
    REVIEWER = "reviewer"


# (from, to) -> who may make the change, and whether a reason is required.
TRANSITIONS: dict[tuple[Status, Status], tuple[Party, bool]] = {
    (Status.DRAFT, Status.SUBMITTED): (Party.OWNER, False),
    (Status.SUBMITTED, Status.UNDER_REVIEW): (Party.REVIEWER, False),
    (Status.UNDER_REVIEW, Status.APPROVED): (Party.REVIEWER, True),
    (Status.UNDER_REVIEW, Status.REJECTED): (Party.REVIEWER, True),
    (Status.DRAFT, Status.WITHDRAWN): (Party.OWNER, False),
    (Status.SUBMITTED, Status.WITHDRAWN): (Party.OWNER, False),
}

MAX_REASON_LENGTH = 2000


def check_transition(current: str, target: str, *, is_owner: bool, is_reviewer: bool, reason: str | None) -> None:
    """Raise unless ``target`` may follow ``current`` for this caller."""
    try:
        rule = TRANSITIONS.get((Status(current), Status(target)))
    except ValueError:
        rule = None
    if rule is None:
        raise InvalidTransition(f"Cannot change status from {current} to {target}.", current=current, target=target)
    party, reason_required = rule
    if party is Party.OWNER and not is_owner:
        raise Forbidden("Only the owner can make this change.")
    if party is Party.REVIEWER:
        if not is_reviewer:
            raise Forbidden("Only a reviewer can make this change.")
        # Separation of duties: nobody reviews their own application.
        if is_owner:
            raise Forbidden("Reviewers cannot review their own application.")
    if reason_required and not (reason and reason.strip()):
        raise ValidationFailed("A reason is required.", errors=[{"field": "reason", "code": "required"}])

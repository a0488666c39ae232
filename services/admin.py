"""Bootstrap and administration use cases."""

from __future__ import annotations

import uuid

from core.emails import looks_like_email, normalize_email
from core.errors import ValidationFailed
from core.passwords import check_password_policy
from core.permissions import Role
from events.model import SYSTEM, Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services.deps import Deps


def create_admin(deps: Deps, email: str, password: str) -> str:
    """A verified admin, created by ``system`` (CLI bootstrap)."""
    if not looks_like_email(email):
        raise ValidationFailed("That is not an email address.", errors=[{"field": "email", "code": "invalid_email"}])
    check_password_policy(password, email)
    index = deps.email_index(email)
    claim_stream = stream_id("email", index)
    claims = deps.store.read_stream(claim_stream)
    if claims and claims[-1].type == T.EMAIL_CLAIMED:
        raise ValidationFailed("A user with that email exists; use set-roles.", code="email_taken")
    user_id = uuid.uuid4().hex
    vault = deps.vault
    data = {
        "subject": user_id,
        "email_index": index,
        "email": vault.seal(user_id, "email", normalize_email(email)),
        "full_name": vault.seal(user_id, "full_name", "Administrator"),
        "password_hash": vault.seal(user_id, "password_hash", deps.hasher.hash(password)),
        "roles": [Role.ADMIN.value],
        "email_verified": True,
        "verification_hash": None,
        "verification_expires_at": None,
    }
    deps.commit(
        [
            StreamAppend(
                claim_stream, claims[-1].version if claims else 0, (NewEvent(T.EMAIL_CLAIMED, {"subject": user_id}),)
            ),
            StreamAppend(stream_id("user", user_id), 0, (NewEvent(T.USER_REGISTERED, data),)),
        ],
        Context(actor=SYSTEM),
    )
    return user_id

"""The token service: the one place access tokens are issued and checked.

Access tokens are HS256 JWTs (algorithm pinned: ``alg: none`` and every other
algorithm are rejected by passing ``algorithms=["HS256"]``). The current key
signs; previous keys (``JWT_PREVIOUS_SECRET_KEYS``) still verify until removed.
Keys are chosen by ``kid``; an unknown ``kid`` is rejected, never tried against
every key.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from core.crypto import key_id, token_hash
from core.errors import InvalidToken, Unauthenticated

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]
CLOCK_SKEW_SECONDS = 30


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    roles: tuple[str, ...]
    amr: tuple[str, ...]
    jti: str
    expires_at: datetime


class TokenService:
    def __init__(
        self,
        current_key: str,
        previous_keys: tuple[str, ...] = (),
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int = 900,
    ) -> None:
        self._current_kid = key_id(current_key.encode())
        self._keys = {key_id(k.encode()): k for k in (*previous_keys, current_key)}
        self._issuer = issuer
        self._audience = audience
        self.ttl_seconds = ttl_seconds

    def issue_access(
        self, *, user_id: str, session_id: str, roles: tuple[str, ...], amr: tuple[str, ...], now: datetime
    ) -> tuple[str, AccessClaims]:
        expires_at = now + timedelta(seconds=self.ttl_seconds)
        jti = uuid.uuid4().hex
        payload = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user_id,
            "sid": session_id,
            "roles": list(roles),
            "amr": list(amr),
            "jti": jti,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        token = jwt.encode(
            payload, self._keys[self._current_kid], algorithm=ALGORITHM, headers={"kid": self._current_kid}
        )
        return token, AccessClaims(user_id, session_id, tuple(roles), tuple(amr), jti, expires_at)

    def verify_access(self, token: str, now: datetime) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(header.get("kid", ""))
            if key is None or header.get("alg") != ALGORITHM:
                raise Unauthenticated("The access token is invalid.")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError as ex:
            raise Unauthenticated("The access token is invalid.") from ex
        # Times are checked against the injected clock, never the wall clock inside pyjwt.
        moment = int(now.timestamp())
        if not isinstance(claims["exp"], int) or claims["exp"] <= moment:
            raise Unauthenticated("The access token has expired.")
        if not isinstance(claims["iat"], int) or claims["iat"] > moment + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("The access token is not valid yet.")
        if not isinstance(claims.get("sid"), str) or not isinstance(claims.get("roles"), list):
            raise Unauthenticated("The access token is invalid.")
        return AccessClaims(
            user_id=str(claims["sub"]),
            session_id=claims["sid"],
            roles=tuple(str(r) for r in claims["roles"]),
            amr=tuple(str(a) for a in claims.get("amr", [])),
            jti=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(claims["exp"]).astimezone(),
        )


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def compose_token(owner_id: str, secret: str) -> str:
    """Opaque tokens carry the id of what they open, so lookup needs no token index."""
    return f"{owner_id}.{secret}"


def split_token(token: object) -> tuple[str, str]:
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 200:
        raise InvalidToken()
    owner_id, secret = token.split(".")
    if not owner_id or not secret:
        raise InvalidToken()
    return owner_id, secret


__all__ = ["AccessClaims", "TokenService", "new_opaque_token", "compose_token", "split_token", "token_hash"]

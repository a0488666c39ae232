"""Typed, frozen configuration read once from the environment.

Secrets are wrapped in :class:`Secret` so they never print. Outside production a
missing secret is generated once and kept in ``<var_dir>/secrets.json`` (0600) so
tokens and encrypted data survive a restart; in production a missing or weak
secret stops start-up with a message naming the variable.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.entropy import key_problem, secret_problem
from core.ratelimits import PolicyError, parse_overrides

logger = logging.getLogger(__name__)

GENERATED_SECRETS = ("JWT_SECRET_KEY", "SECRET_KEY", "ENCRYPTION_KEY")
MIN_SECRET_BYTES = 32


class ConfigError(Exception):
    """Configuration that must stop start-up; the message names the variable."""


class Secret:
    """A string that does not show itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def new_encryption_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def decode_encryption_key(value: str, name: str = "ENCRYPTION_KEY") -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
    except (ValueError, TypeError) as ex:
        raise ConfigError(f"{name} is not url-safe base64") from ex
    if len(raw) != 32:
        raise ConfigError(f"{name} must decode to 32 bytes, got {len(raw)}")
    return raw


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _int(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError as ex:
        raise ConfigError(f"{name} must be an integer") from ex
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return number


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 4


@dataclass(frozen=True)
class Settings:
    jwt_secret_key: Secret
    secret_key: Secret
    encryption_key: Secret
    app_env: str = "development"
    jwt_previous_secret_keys: tuple[Secret, ...] = ()
    encryption_previous_keys: tuple[Secret, ...] = ()
    mongodb_uri: str | None = None
    mongodb_db: str = "warden"
    sendgrid_api_key: Secret | None = None
    sendgrid_from_email: str = "no-reply@warden.invalid"
    sentry_dsn: Secret | None = None
    allowed_origins: tuple[str, ...] = ()
    data_retention_days: int = 2555
    public_base_url: str = "http://localhost:8000"
    trusted_proxy_count: int = 0
    require_email_verification: bool = True
    argon2: Argon2Params = field(default_factory=Argon2Params)
    jwt_issuer: str = "warden"
    jwt_audience: str = "warden-api"
    access_token_ttl_seconds: int = 900
    # Overrides of core.ratelimits.DEFAULT_LIMITS as (name, max, window_seconds); () = SPEC §6 defaults.
    rate_limits: tuple[tuple[str, int, int], ...] = ()
    consent_purposes: tuple[str, ...] = ("marketing_email", "analytics", "research")
    var_dir: str = "var"
    port: int = 8000

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def encryption_key_bytes(self) -> bytes:
        return decode_encryption_key(self.encryption_key.reveal())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read the environment once. Outside production, fill missing secrets from var/."""
        env = dict(os.environ if environ is None else environ)
        app_env = env.get("APP_ENV", "development").strip() or "development"
        if app_env not in ("development", "test", "production"):
            raise ConfigError("APP_ENV must be development, test or production")
        var_dir = env.get("WARDEN_VAR_DIR", "var")
        if app_env != "production":
            env = {**_local_secrets(Path(var_dir), env), **env}
        settings = cls._build(env, app_env, var_dir)
        settings.check()
        return settings

    @classmethod
    def _build(cls, env: dict[str, str], app_env: str, var_dir: str) -> "Settings":
        def secret(name: str) -> Secret:
            value = env.get(name, "")
            if not value:
                raise ConfigError(f"{name} is required")
            return Secret(value)

        def optional(name: str) -> Secret | None:
            return Secret(env[name]) if env.get(name) else None

        return cls(
            app_env=app_env,
            jwt_secret_key=secret("JWT_SECRET_KEY"),
            secret_key=secret("SECRET_KEY"),
            encryption_key=secret("ENCRYPTION_KEY"),
            jwt_previous_secret_keys=tuple(Secret(v) for v in _split(env.get("JWT_PREVIOUS_SECRET_KEYS", ""))),
            encryption_previous_keys=tuple(Secret(v) for v in _split(env.get("ENCRYPTION_PREVIOUS_KEYS", ""))),
            mongodb_uri=env.get("MONGODB_URI") or None,
            mongodb_db=env.get("MONGODB_DB", "warden"),
            sendgrid_api_key=optional("SENDGRID_API_KEY"),
            sendgrid_from_email=env.get("SENDGRID_FROM_EMAIL", "no-reply@warden.invalid"),
            sentry_dsn=optional("SENTRY_DSN"),
            allowed_origins=_split(env.get("ALLOWED_ORIGINS", "")),
            data_retention_days=_int(env.get("DATA_RETENTION_DAYS", "2555"), "DATA_RETENTION_DAYS", 1, 36500),
            public_base_url=env.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/"),
            trusted_proxy_count=_int(env.get("TRUSTED_PROXY_COUNT", "0"), "TRUSTED_PROXY_COUNT", 0, 10),
            require_email_verification=_bool(
                env.get("REQUIRE_EMAIL_VERIFICATION", "true"), "REQUIRE_EMAIL_VERIFICATION"
            ),
            argon2=Argon2Params(
                time_cost=_int(env.get("ARGON2_TIME_COST", "3"), "ARGON2_TIME_COST", 1, 20),
                memory_cost=_int(env.get("ARGON2_MEMORY_COST", "65536"), "ARGON2_MEMORY_COST", 8, 4194304),
                parallelism=_int(env.get("ARGON2_PARALLELISM", "4"), "ARGON2_PARALLELISM", 1, 16),
            ),
            consent_purposes=_split(env.get("CONSENT_PURPOSES", "marketing_email,analytics,research")),
            rate_limits=_rate_limits(env.get("RATE_LIMITS", "")),
            var_dir=var_dir,
            port=_int(env.get("PORT", "8000"), "PORT", 1, 65535),
        )

    def _check_production_secrets(self) -> None:
        """Refuse guessable keys: anyone who knows one forges tokens, checkpoints or reads PII."""
        named = [("JWT_SECRET_KEY", self.jwt_secret_key), ("SECRET_KEY", self.secret_key)]
        named += [(f"JWT_PREVIOUS_SECRET_KEYS[{i}]", k) for i, k in enumerate(self.jwt_previous_secret_keys)]
        for name, value in named:
            problem = secret_problem(value.reveal(), MIN_SECRET_BYTES)
            if problem:
                raise ConfigError(f"{name} {problem}")
        if self.jwt_secret_key == self.secret_key:
            raise ConfigError("SECRET_KEY must differ from JWT_SECRET_KEY (one leaked key must not give both)")
        keys = [("ENCRYPTION_KEY", self.encryption_key)]
        keys += [(f"ENCRYPTION_PREVIOUS_KEYS[{i}]", k) for i, k in enumerate(self.encryption_previous_keys)]
        for name, key in keys:
            problem = key_problem(decode_encryption_key(key.reveal(), name))
            if problem:
                raise ConfigError(f"{name} {problem}")

    def check(self) -> None:
        """Validate; in production refuse weak or missing secrets, naming the variable."""
        decode_encryption_key(self.encryption_key.reveal())
        for index, old in enumerate(self.encryption_previous_keys):
            decode_encryption_key(old.reveal(), f"ENCRYPTION_PREVIOUS_KEYS[{index}]")
        if not self.production:
            return
        self._check_production_secrets()
        if not self.mongodb_uri:
            raise ConfigError("MONGODB_URI is required in production")
        if any("*" in origin for origin in self.allowed_origins):
            raise ConfigError("ALLOWED_ORIGINS must list origins, not '*'")
        if not self.public_base_url.startswith("https://"):
            raise ConfigError("PUBLIC_BASE_URL must be https in production")
        if any(count == 0 for _, count, _ in self.rate_limits):
            raise ConfigError("RATE_LIMITS may not turn a limit off (0) in production")



def _rate_limits(text: str) -> tuple[tuple[str, int, int], ...]:
    try:
        return parse_overrides(text)
    except PolicyError as ex:
        raise ConfigError(str(ex)) from ex

def _local_secrets(var_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """Load (or create once) development secrets kept under var/ with mode 0600."""
    missing = [name for name in GENERATED_SECRETS if not env.get(name)]
    if not missing:
        return {}
    path = var_dir / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    if any(name not in stored for name in missing):
        stored = {**generate_secrets(), **stored}
        var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle)
        logger.warning("generated development secrets", extra={"fields": {"path": str(path), "names": missing}})
    return {name: stored[name] for name in missing}


def generate_secrets() -> dict[str, str]:
    return {
        "JWT_SECRET_KEY": new_secret(),
        "SECRET_KEY": new_secret(),
        "ENCRYPTION_KEY": new_encryption_key(),
    }

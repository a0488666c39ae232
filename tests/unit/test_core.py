"""Unit tests for core/ (pure: no network, no database) and the pure domain rules in events/."""

from __future__ import annotations

import base64
import itertools
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from core.crypto import (
    DecryptionFailed,
    KeyEncryptionKeys,
    blind_index,
    derive_key,
    is_sealed,
    key_id,
    new_data_key,
    open_field,
    seal_field,
)
from core.emails import local_part, looks_like_email, normalize_email
from core.errors import Forbidden, InvalidTransition, Unauthenticated, ValidationFailed, WeakPassword
from core.passwords import PasswordHasher, check_password_policy, common_passwords
from core.settings import Argon2Params, ConfigError, Secret, Settings, new_encryption_key, new_secret
from core.tokens import TokenService
from events.applications import TRANSITIONS, Status, check_transition
from events.lockout import BASE_LOCK, MAX_LOCK, WINDOW, LockoutState, after_failure, lock_duration

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
KEY = "current-jwt-key-" + "a" * 48  # 64 bytes: long enough for HS256 and HS512 without warnings
OLD_KEY = "previous-jwt-key-" + "b" * 47
OTHER_KEY = "unconfigured-jwt-key-" + "c" * 43
ISSUER = "warden"
AUDIENCE = "warden-api"
CHEAP = Argon2Params(time_cost=1, memory_cost=8192, parallelism=1)


# --------------------------------------------------------------------------- passwords


def _policy_code(password: object, email: str = "") -> str:
    with pytest.raises(WeakPassword) as info:
        check_password_policy(password, email)
    assert info.value.code == "weak_password"
    assert len(info.value.errors) == 1
    assert info.value.errors[0]["field"] == "password"
    return info.value.errors[0]["code"]


def test_password_of_11_characters_is_too_short() -> None:
    assert _policy_code("Zq8vLp2Wm#x") == "too_short"


def test_password_of_12_characters_is_accepted() -> None:
    assert check_password_policy("Zq8vLp2Wm#xY") == "Zq8vLp2Wm#xY"


def test_password_of_128_characters_is_accepted() -> None:
    password = "Zq8vLp2Wm#xY" * 10 + "Zq8vLp2W"
    assert len(password) == 128
    assert check_password_policy(password) == password


def test_password_of_129_characters_is_too_long() -> None:
    assert _policy_code("Zq8vLp2Wm#xY" * 10 + "Zq8vLp2Wm") == "too_long"


def test_shipped_common_password_list_has_at_least_10000_entries() -> None:
    assert len(common_passwords()) >= 10_000


@pytest.mark.parametrize("password", ["1qaz2wsx3edc", "1QAZ2WSX3EDC", "123qweasdzxc"])
def test_common_password_is_rejected_case_insensitively(password: str) -> None:
    assert "1qaz2wsx3edc" in common_passwords()
    assert _policy_code(password) == "too_common"


def test_password_containing_email_local_part_is_rejected() -> None:
    assert _policy_code("my Alice.Smith password!", "alice.smith@example.com") == "contains_email"


def test_password_containing_normalized_local_part_is_rejected() -> None:
    assert _policy_code("xx-alicesmith-2026-xx", "ＡｌｉｃｅＳｍｉｔｈ@example.com") == "contains_email"


def test_password_without_email_local_part_is_accepted() -> None:
    assert check_password_policy("violet tractor evening", "alice.smith@example.com")


def test_non_string_password_is_wrong_type() -> None:
    assert _policy_code(123456789012) == "wrong_type"


def test_policy_names_the_field_it_was_given() -> None:
    with pytest.raises(WeakPassword) as info:
        check_password_policy("short", field="new_password")
    assert info.value.errors == [{"field": "new_password", "code": "too_short"}]


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(CHEAP)


def test_hash_is_argon2id_and_verifies(hasher: PasswordHasher) -> None:
    stored = hasher.hash("violet tractor evening")
    assert stored.startswith("$argon2id$")
    assert "violet" not in stored
    assert hasher.verify(stored, "violet tractor evening") is True


def test_hash_is_salted(hasher: PasswordHasher) -> None:
    assert hasher.hash("violet tractor evening") != hasher.hash("violet tractor evening")


def test_wrong_password_does_not_verify(hasher: PasswordHasher) -> None:
    stored = hasher.hash("violet tractor evening")
    assert hasher.verify(stored, "violet tractor evening!") is False


def test_verify_without_stored_hash_is_false(hasher: PasswordHasher) -> None:
    assert hasher.verify(None, "violet tractor evening") is False


def test_verify_without_stored_hash_is_false_even_for_the_dummy_password(hasher: PasswordHasher) -> None:
    assert hasher.verify(None, "warden-dummy-password-for-timing") is False


def test_verify_against_garbage_hash_is_false(hasher: PasswordHasher) -> None:
    assert hasher.verify("not-an-argon2-hash", "violet tractor evening") is False


def test_no_rehash_needed_with_same_params(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash(hasher.hash("violet tractor evening")) is False


@pytest.mark.parametrize(
    "changed",
    [
        Argon2Params(time_cost=2, memory_cost=8192, parallelism=1),
        Argon2Params(time_cost=1, memory_cost=16384, parallelism=1),
        Argon2Params(time_cost=1, memory_cost=8192, parallelism=2),
    ],
)
def test_rehash_needed_when_params_change(hasher: PasswordHasher, changed: Argon2Params) -> None:
    stored = hasher.hash("violet tractor evening")
    stronger = PasswordHasher(changed)
    assert stronger.needs_rehash(stored) is True
    assert stronger.verify(stored, "violet tractor evening") is True


# --------------------------------------------------------------------------- tokens


def _service(key: str = KEY, previous: tuple[str, ...] = (), **kw: Any) -> TokenService:
    options: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "ttl_seconds": 900}
    options.update(kw)
    return TokenService(key, previous, **options)


def _issue(service: TokenService, now: datetime = NOW) -> str:
    token, _ = service.issue_access(user_id="u1", session_id="s1", roles=("applicant",), amr=("pwd",), now=now)
    return token


def _payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u1",
        "sid": "s1",
        "roles": ["admin"],
        "amr": ["pwd", "otp"],
        "jti": "j1",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 900,
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def _rejects(token: str, service: TokenService | None = None, now: datetime = NOW) -> None:
    with pytest.raises(Unauthenticated):
        (service or _service()).verify_access(token, now)


def test_token_round_trip() -> None:
    service = _service()
    token, issued = service.issue_access(
        user_id="u1", session_id="s1", roles=("applicant", "reviewer"), amr=("pwd",), now=NOW
    )
    claims = service.verify_access(token, NOW)
    assert claims == issued
    assert claims.user_id == "u1"
    assert claims.session_id == "s1"
    assert claims.roles == ("applicant", "reviewer")
    assert claims.amr == ("pwd",)
    assert claims.expires_at == NOW + timedelta(seconds=900)


def test_issued_token_is_hs256_with_current_kid() -> None:
    header = jwt.get_unverified_header(_issue(_service(KEY, (OLD_KEY,))))
    assert header["alg"] == "HS256"
    assert header["kid"] == key_id(KEY.encode())


def test_issued_token_carries_required_claims() -> None:
    claims = jwt.decode(_issue(_service()), options={"verify_signature": False})
    assert {"iss", "aud", "exp", "iat", "jti", "sub", "sid", "roles", "amr"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900


def test_each_token_has_a_fresh_jti() -> None:
    service = _service()
    first = jwt.decode(_issue(service), options={"verify_signature": False})
    second = jwt.decode(_issue(service), options={"verify_signature": False})
    assert first["jti"] != second["jti"]


def test_valid_handmade_token_is_accepted() -> None:
    """Control for the rejection tests below: the same recipe with nothing wrong is accepted."""
    token = jwt.encode(_payload(), KEY, algorithm="HS256", headers={"kid": key_id(KEY.encode())})
    assert _service().verify_access(token, NOW).roles == ("admin",)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_rejects_handcrafted_alg_none() -> None:
    header = {"alg": "none", "typ": "JWT", "kid": key_id(KEY.encode())}
    _rejects(f"{_b64(header)}.{_b64(_payload())}.")


def test_rejects_pyjwt_made_alg_none_with_right_kid() -> None:
    token = jwt.encode(_payload(), None, algorithm="none", headers={"kid": key_id(KEY.encode())})
    _rejects(token)


def test_rejects_alg_none_with_a_copied_valid_signature() -> None:
    valid = _issue(_service())
    _, payload, signature = valid.split(".")
    header = {"alg": "none", "typ": "JWT", "kid": key_id(KEY.encode())}
    _rejects(f"{_b64(header)}.{payload}.{signature}")


def test_rejects_hs512_signed_with_the_right_key() -> None:
    token = jwt.encode(_payload(), KEY, algorithm="HS512", headers={"kid": key_id(KEY.encode())})
    _rejects(token)


def test_rejects_hs384_signed_with_the_right_key() -> None:
    token = jwt.encode(_payload(), KEY, algorithm="HS384", headers={"kid": key_id(KEY.encode())})
    _rejects(token)


def test_rejects_unknown_kid() -> None:
    token = jwt.encode(_payload(), KEY, algorithm="HS256", headers={"kid": "0123456789ab"})
    _rejects(token)


def test_rejects_missing_kid() -> None:
    _rejects(jwt.encode(_payload(), KEY, algorithm="HS256"))


def test_rejects_kid_of_one_key_signed_by_another() -> None:
    token = jwt.encode(_payload(), OLD_KEY, algorithm="HS256", headers={"kid": key_id(KEY.encode())})
    _rejects(token, _service(KEY, (OLD_KEY,)))


def test_rejects_token_signed_by_unconfigured_key() -> None:
    _rejects(_issue(_service(OTHER_KEY)))


def test_rejects_unconfigured_key_even_with_the_configured_kid() -> None:
    token = jwt.encode(_payload(), OTHER_KEY, algorithm="HS256", headers={"kid": key_id(KEY.encode())})
    _rejects(token)


def test_rejects_missing_exp() -> None:
    token = jwt.encode(_payload(exp=None), KEY, algorithm="HS256", headers={"kid": key_id(KEY.encode())})
    _rejects(token)


@pytest.mark.parametrize("claim", ["iat", "iss", "aud", "sub", "jti", "sid", "roles"])
def test_rejects_missing_claim(claim: str) -> None:
    token = jwt.encode(_payload(**{claim: None}), KEY, algorithm="HS256", headers={"kid": key_id(KEY.encode())})
    _rejects(token)


def test_token_valid_one_second_before_expiry() -> None:
    token = _issue(_service())
    assert _service().verify_access(token, NOW + timedelta(seconds=899)).user_id == "u1"


def test_rejects_token_at_expiry_per_injected_clock() -> None:
    _rejects(_issue(_service()), now=NOW + timedelta(seconds=900))


def test_rejects_expired_token_per_injected_clock() -> None:
    _rejects(_issue(_service()), now=NOW + timedelta(hours=1))


def test_expiry_uses_injected_clock_not_wall_clock() -> None:
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    token = _issue(_service(), now=long_ago)
    assert _service().verify_access(token, long_ago + timedelta(seconds=10)).user_id == "u1"


def test_rejects_wrong_audience() -> None:
    _rejects(_issue(_service(audience="another-api")))


def test_rejects_wrong_issuer() -> None:
    _rejects(_issue(_service(issuer="evil")))


def test_rejects_tampered_payload() -> None:
    header, _, signature = _issue(_service()).split(".")
    _rejects(f"{header}.{_b64(_payload())}.{signature}")


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "e30.e30.", "Bearer abc"])
def test_rejects_garbage(garbage: str) -> None:
    _rejects(garbage)


def test_previous_key_still_verifies_when_listed() -> None:
    old_token = _issue(_service(OLD_KEY))
    assert _service(KEY, (OLD_KEY,)).verify_access(old_token, NOW).user_id == "u1"


def test_previous_key_stops_verifying_once_removed() -> None:
    _rejects(_issue(_service(OLD_KEY)), _service(KEY))


def test_rotated_service_signs_with_current_key_only() -> None:
    token = _issue(_service(KEY, (OLD_KEY,)))
    assert _service(KEY).verify_access(token, NOW).user_id == "u1"
    _rejects(token, _service(OLD_KEY))


# --------------------------------------------------------------------------- crypto


def test_seal_open_round_trip() -> None:
    dek = new_data_key()
    sealed = seal_field(dek, "user-1", "email", "alice@example.com")
    assert is_sealed(sealed)
    assert "alice" not in sealed
    assert open_field(dek, "user-1", "email", sealed) == "alice@example.com"


def test_seal_round_trips_unicode_and_empty() -> None:
    dek = new_data_key()
    for value in ("", "Zoë Ångström ✓", "x" * 10_000):
        assert open_field(dek, "s", "f", seal_field(dek, "s", "f", value)) == value


def test_sealing_twice_gives_different_ciphertexts() -> None:
    dek = new_data_key()
    assert seal_field(dek, "s", "f", "same") != seal_field(dek, "s", "f", "same")


def test_ciphertext_moved_to_another_subject_fails() -> None:
    dek = new_data_key()
    sealed = seal_field(dek, "user-1", "email", "alice@example.com")
    with pytest.raises(DecryptionFailed):
        open_field(dek, "user-2", "email", sealed)


def test_ciphertext_moved_to_another_field_fails() -> None:
    dek = new_data_key()
    sealed = seal_field(dek, "user-1", "email", "alice@example.com")
    with pytest.raises(DecryptionFailed):
        open_field(dek, "user-1", "full_name", sealed)


def test_ciphertext_under_another_data_key_fails() -> None:
    sealed = seal_field(new_data_key(), "user-1", "email", "alice@example.com")
    with pytest.raises(DecryptionFailed):
        open_field(new_data_key(), "user-1", "email", sealed)


def test_tampered_ciphertext_fails() -> None:
    dek = new_data_key()
    sealed = seal_field(dek, "user-1", "email", "alice@example.com")
    last = "A" if sealed[-1] != "A" else "B"
    with pytest.raises(DecryptionFailed):
        open_field(dek, "user-1", "email", sealed[:-1] + last)


@pytest.mark.parametrize("value", ["alice@example.com", "enc1:", "enc1:!!!"])
def test_unsealed_or_malformed_value_fails(value: str) -> None:
    with pytest.raises(DecryptionFailed):
        open_field(new_data_key(), "user-1", "email", value)


def test_wrap_unwrap_round_trip() -> None:
    keks = KeyEncryptionKeys(os.urandom(32))
    dek = new_data_key()
    wrapped = keks.wrap(dek, "user-1")
    assert wrapped["kek_id"] == keks.current_id
    assert keks.unwrap(wrapped, "user-1") == dek


def test_wrapped_key_bound_to_subject() -> None:
    keks = KeyEncryptionKeys(os.urandom(32))
    wrapped = keks.wrap(new_data_key(), "user-1")
    with pytest.raises(DecryptionFailed):
        keks.unwrap(wrapped, "user-2")


def test_unwrap_with_previous_kek_after_rotation() -> None:
    old, new = os.urandom(32), os.urandom(32)
    dek = new_data_key()
    wrapped = KeyEncryptionKeys(old).wrap(dek, "user-1")
    rotated = KeyEncryptionKeys(new, (old,))
    assert rotated.unwrap(wrapped, "user-1") == dek
    rewrapped = rotated.wrap(dek, "user-1")
    assert rewrapped["kek_id"] == key_id(new)
    assert KeyEncryptionKeys(new).unwrap(rewrapped, "user-1") == dek


def test_unwrap_fails_once_previous_kek_removed() -> None:
    old = os.urandom(32)
    wrapped = KeyEncryptionKeys(old).wrap(new_data_key(), "user-1")
    with pytest.raises(DecryptionFailed):
        KeyEncryptionKeys(os.urandom(32)).unwrap(wrapped, "user-1")


def test_unwrap_with_forged_kek_id_fails() -> None:
    old, new = os.urandom(32), os.urandom(32)
    wrapped = KeyEncryptionKeys(old).wrap(new_data_key(), "user-1")
    forged = {**wrapped, "kek_id": key_id(new)}
    with pytest.raises(DecryptionFailed):
        KeyEncryptionKeys(new, (old,)).unwrap(forged, "user-1")


def test_blind_index_is_stable() -> None:
    key = os.urandom(32)
    assert blind_index(key, "alice@example.com") == blind_index(key, "alice@example.com")
    assert len(blind_index(key, "alice@example.com")) == 64


def test_blind_index_is_keyed() -> None:
    assert blind_index(os.urandom(32), "alice@example.com") != blind_index(os.urandom(32), "alice@example.com")


def test_blind_index_distinguishes_values() -> None:
    key = os.urandom(32)
    assert blind_index(key, "alice@example.com") != blind_index(key, "bob@example.com")


def test_blind_index_does_not_contain_value() -> None:
    assert "alice" not in blind_index(os.urandom(32), "alice@example.com")


def test_derive_key_is_deterministic_and_purpose_bound() -> None:
    assert derive_key("master", "blind-index") == derive_key("master", "blind-index")
    assert len(derive_key("master", "blind-index")) == 32
    assert derive_key("master", "blind-index") != derive_key("master", "signing")
    assert derive_key("master", "blind-index") != derive_key("other", "blind-index")


def test_key_id_is_short_and_not_the_key() -> None:
    key = os.urandom(32)
    assert len(key_id(key)) == 12
    assert key_id(key) != key_id(os.urandom(32))
    assert key.hex()[:12] != key_id(key)


# --------------------------------------------------------------------------- emails


@pytest.mark.parametrize("variant", ["Alice@Example.com", "ａｌｉｃｅ@example.com", " ALICE@EXAMPLE.COM "])
def test_email_variants_normalize_equal(variant: str) -> None:
    assert normalize_email(variant) == "alice@example.com"


def test_email_variants_share_a_blind_index() -> None:
    key = os.urandom(32)
    indexes = {blind_index(key, normalize_email(v)) for v in ("Alice@Example.com", "ａｌｉｃｅ@example.com")}
    assert len(indexes) == 1


def test_different_emails_normalize_differently() -> None:
    assert normalize_email("alice@example.com") != normalize_email("alice2@example.com")


def test_local_part_is_normalized() -> None:
    assert local_part(" ＡＬＩＣＥ@Example.com") == "alice"


@pytest.mark.parametrize("value", ["alice@example.com", "a.b+tag@sub.example.org"])
def test_looks_like_email_accepts(value: str) -> None:
    assert looks_like_email(value)


@pytest.mark.parametrize(
    "value",
    [
        "alice",
        "alice@",
        "@example.com",
        "alice@example",
        "a b@example.com",
        "alice@.example.com",
        "alice@example.com.",
        "a" * 250 + "@x.com",
    ],
)
def test_looks_like_email_rejects(value: str) -> None:
    assert not looks_like_email(value)


# --------------------------------------------------------------------------- settings


def _production_env(**overrides: str | None) -> dict[str, str]:
    env: dict[str, str | None] = {
        "APP_ENV": "production",
        # Real random values: production refuses repeated characters (core/entropy.py).
        "JWT_SECRET_KEY": new_secret(),
        "SECRET_KEY": new_secret(),
        "ENCRYPTION_KEY": new_encryption_key(),
        "MONGODB_URI": "mongodb://db.internal:27017",
        "PUBLIC_BASE_URL": "https://warden.example.com",
        "ALLOWED_ORIGINS": "https://app.example.com",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def _config_error(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    return str(info.value)


def test_production_env_with_good_values_loads() -> None:
    settings = Settings.from_env(_production_env())
    assert settings.production
    assert settings.mongodb_uri == "mongodb://db.internal:27017"
    assert settings.allowed_origins == ("https://app.example.com",)
    assert len(settings.encryption_key_bytes) == 32


def test_production_refuses_missing_jwt_secret() -> None:
    assert "JWT_SECRET_KEY" in _config_error(_production_env(JWT_SECRET_KEY=None))


def test_production_refuses_empty_jwt_secret() -> None:
    assert "JWT_SECRET_KEY" in _config_error(_production_env(JWT_SECRET_KEY=""))


def test_production_refuses_short_jwt_secret() -> None:
    assert "JWT_SECRET_KEY" in _config_error(_production_env(JWT_SECRET_KEY="x" * 31))


def test_production_refuses_short_secret_key() -> None:
    assert "SECRET_KEY" in _config_error(_production_env(SECRET_KEY="short"))


def test_production_refuses_missing_encryption_key() -> None:
    assert "ENCRYPTION_KEY" in _config_error(_production_env(ENCRYPTION_KEY=None))


@pytest.mark.parametrize(
    "bad",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(os.urandom(16)).decode(),
        base64.urlsafe_b64encode(os.urandom(33)).decode(),
    ],
)
def test_production_refuses_bad_encryption_key(bad: str) -> None:
    assert "ENCRYPTION_KEY" in _config_error(_production_env(ENCRYPTION_KEY=bad))


def test_refuses_bad_previous_encryption_key() -> None:
    message = _config_error(_production_env(ENCRYPTION_PREVIOUS_KEYS=new_encryption_key() + ",tooshort"))
    assert "ENCRYPTION_PREVIOUS_KEYS" in message


@pytest.mark.parametrize("origins", ["*", "https://app.example.com,*"])
def test_production_refuses_wildcard_origin(origins: str) -> None:
    assert "ALLOWED_ORIGINS" in _config_error(_production_env(ALLOWED_ORIGINS=origins))


def test_production_refuses_http_public_base_url() -> None:
    assert "PUBLIC_BASE_URL" in _config_error(_production_env(PUBLIC_BASE_URL="http://warden.example.com"))


def test_production_refuses_default_public_base_url() -> None:
    assert "PUBLIC_BASE_URL" in _config_error(_production_env(PUBLIC_BASE_URL=None))


def test_production_refuses_missing_mongodb_uri() -> None:
    assert "MONGODB_URI" in _config_error(_production_env(MONGODB_URI=None))


def test_production_never_generates_secrets(tmp_path: Path) -> None:
    env = _production_env(JWT_SECRET_KEY=None, WARDEN_VAR_DIR=str(tmp_path))
    assert "JWT_SECRET_KEY" in _config_error(env)
    assert not (tmp_path / "secrets.json").exists()


def test_config_error_does_not_echo_the_secret() -> None:
    message = _config_error(_production_env(JWT_SECRET_KEY="hunter2-weak"))
    assert "hunter2-weak" not in message


def test_unknown_app_env_is_refused() -> None:
    assert "APP_ENV" in _config_error({"APP_ENV": "prod"})


def test_development_generates_secrets_into_var_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"APP_ENV": "development", "WARDEN_VAR_DIR": str(tmp_path)})
    path = tmp_path / "secrets.json"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["JWT_SECRET_KEY"] == settings.jwt_secret_key.reveal()
    assert stored["SECRET_KEY"] == settings.secret_key.reveal()
    assert stored["ENCRYPTION_KEY"] == settings.encryption_key.reveal()
    assert len(settings.encryption_key_bytes) == 32
    assert len(settings.jwt_secret_key.reveal().encode()) >= 32


def test_development_reuses_generated_secrets(tmp_path: Path) -> None:
    env = {"APP_ENV": "development", "WARDEN_VAR_DIR": str(tmp_path)}
    first = Settings.from_env(env)
    written = (tmp_path / "secrets.json").read_text()
    second = Settings.from_env(env)
    assert second.jwt_secret_key == first.jwt_secret_key
    assert second.secret_key == first.secret_key
    assert second.encryption_key == first.encryption_key
    assert (tmp_path / "secrets.json").read_text() == written


def test_development_environment_value_wins_over_generated(tmp_path: Path) -> None:
    env = {"APP_ENV": "development", "WARDEN_VAR_DIR": str(tmp_path)}
    Settings.from_env(env)
    explicit = Settings.from_env({**env, "JWT_SECRET_KEY": "explicit-" + "k" * 40})
    assert explicit.jwt_secret_key.reveal() == "explicit-" + "k" * 40


def test_development_with_all_secrets_writes_nothing(tmp_path: Path) -> None:
    env = _production_env(APP_ENV="development", WARDEN_VAR_DIR=str(tmp_path))
    Settings.from_env(env)
    assert not (tmp_path / "secrets.json").exists()


def test_secret_repr_and_str_hide_value() -> None:
    secret = Secret("hunter2-super-secret")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2-super-secret"


def test_settings_repr_hides_secrets() -> None:
    env = _production_env()
    settings = Settings.from_env(env)
    text = repr(settings)
    assert env["JWT_SECRET_KEY"] not in text
    assert env["SECRET_KEY"] not in text
    assert env["ENCRYPTION_KEY"] not in text


# --------------------------------------------------------------------------- application status machine

ALLOWED = {
    ("draft", "submitted"): "owner",
    ("submitted", "under_review"): "reviewer",
    ("under_review", "approved"): "reviewer",
    ("under_review", "rejected"): "reviewer",
    ("draft", "withdrawn"): "owner",
    ("submitted", "withdrawn"): "owner",
}
STATUSES = [s.value for s in Status]


def test_transition_table_matches_spec() -> None:
    table = {(a.value, b.value): party.value for (a, b), (party, _) in TRANSITIONS.items()}
    assert table == ALLOWED


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transition_by_the_right_party(current: str, target: str) -> None:
    is_owner = ALLOWED[(current, target)] == "owner"
    check_transition(current, target, is_owner=is_owner, is_reviewer=not is_owner, reason="looks fine")


@pytest.mark.parametrize(("current", "target"), [p for p in itertools.product(STATUSES, STATUSES) if p not in ALLOWED])
def test_every_other_transition_is_invalid(current: str, target: str) -> None:
    with pytest.raises(InvalidTransition):
        check_transition(current, target, is_owner=True, is_reviewer=True, reason="because")


@pytest.mark.parametrize(("current", "target"), [("draft", "bogus"), ("bogus", "draft"), ("DRAFT", "SUBMITTED")])
def test_unknown_status_is_invalid_transition(current: str, target: str) -> None:
    with pytest.raises(InvalidTransition):
        check_transition(current, target, is_owner=True, is_reviewer=True, reason="because")


@pytest.mark.parametrize(("current", "target"), sorted(k for k, v in ALLOWED.items() if v == "owner"))
def test_owner_transitions_refused_to_non_owner_reviewer(current: str, target: str) -> None:
    with pytest.raises(Forbidden):
        check_transition(current, target, is_owner=False, is_reviewer=True, reason=None)


@pytest.mark.parametrize(("current", "target"), sorted(k for k, v in ALLOWED.items() if v == "reviewer"))
def test_reviewer_transitions_refused_to_non_reviewer(current: str, target: str) -> None:
    with pytest.raises(Forbidden):
        check_transition(current, target, is_owner=False, is_reviewer=False, reason="because")


@pytest.mark.parametrize(("current", "target"), sorted(k for k, v in ALLOWED.items() if v == "reviewer"))
def test_reviewer_cannot_review_own_application(current: str, target: str) -> None:
    with pytest.raises(Forbidden):
        check_transition(current, target, is_owner=True, is_reviewer=True, reason="because")


@pytest.mark.parametrize("target", ["approved", "rejected"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_decision_requires_reason(target: str, reason: str | None) -> None:
    with pytest.raises(ValidationFailed) as info:
        check_transition("under_review", target, is_owner=False, is_reviewer=True, reason=reason)
    assert info.value.errors == [{"field": "reason", "code": "required"}]


def test_non_decision_needs_no_reason() -> None:
    check_transition("submitted", "under_review", is_owner=False, is_reviewer=True, reason=None)


# --------------------------------------------------------------------------- lockout


def test_lock_durations_double_and_cap() -> None:
    assert lock_duration(0) == timedelta(minutes=15)
    assert lock_duration(1) == timedelta(minutes=30)
    assert lock_duration(2) == timedelta(hours=1)
    assert lock_duration(6) == timedelta(hours=16)
    assert lock_duration(7) == timedelta(hours=24)
    assert lock_duration(1000) == MAX_LOCK
    assert BASE_LOCK == timedelta(minutes=15)
    assert MAX_LOCK == timedelta(hours=24)


def _failures(count: int, age: timedelta = timedelta(minutes=1)) -> tuple[datetime, ...]:
    return tuple(NOW - age - timedelta(seconds=i) for i in range(count))


def test_fourth_failure_does_not_lock() -> None:
    assert after_failure(LockoutState(_failures(3)), NOW) == (4, None)


def test_fifth_failure_in_window_locks_for_15_minutes() -> None:
    assert after_failure(LockoutState(_failures(4)), NOW) == (5, NOW + timedelta(minutes=15))


def test_repeat_lock_doubles() -> None:
    state = LockoutState(_failures(4), lock_count=1)
    assert after_failure(state, NOW) == (5, NOW + timedelta(minutes=30))


def test_repeat_lock_is_capped_at_24_hours() -> None:
    state = LockoutState(_failures(4), lock_count=10)
    assert after_failure(state, NOW) == (5, NOW + timedelta(hours=24))


def test_failures_outside_window_do_not_count() -> None:
    assert after_failure(LockoutState(_failures(4, age=WINDOW + timedelta(seconds=1))), NOW) == (1, None)


def test_failure_exactly_window_old_does_not_count() -> None:
    old = (NOW - WINDOW,)
    assert after_failure(LockoutState(_failures(3) + old), NOW) == (4, None)


def test_lockout_state_locked() -> None:
    until = NOW + timedelta(minutes=15)
    assert LockoutState().locked(NOW) is False
    assert LockoutState(locked_until=until).locked(NOW) is True
    assert LockoutState(locked_until=until).locked(until) is False
    assert LockoutState(locked_until=until).locked(until + timedelta(seconds=1)) is False


def test_injected_clock_ahead_of_wall_clock_is_honoured() -> None:
    """Time comes from the injected clock only: a token issued and checked at the same injected
    instant is valid whatever the wall clock says (pyjwt must not judge iat/nbf by the wall clock)."""
    future = datetime(2099, 1, 1, tzinfo=UTC)
    token = _issue(_service(), now=future)
    assert _service().verify_access(token, future + timedelta(seconds=1)).user_id == "u1"


@pytest.mark.parametrize("kid", [["x"], {"k": 1}, 7, None])
def test_rejects_non_string_kid(kid: Any) -> None:
    token = jwt.encode(_payload(), KEY, algorithm="HS256", headers={"kid": key_id(KEY.encode())})
    _, payload, signature = token.split(".")
    forged = _b64({"alg": "HS256", "typ": "JWT", "kid": kid})
    _rejects(f"{forged}.{payload}.{signature}")

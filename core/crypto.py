"""Envelope encryption, blind indexes and key derivation.

Each subject has a random 256-bit data key (DEK). PII is sealed with AES-256-GCM
under the DEK, with associated data binding the ciphertext to its subject and
field, so a ciphertext copied to another subject or field does not open. DEKs are
wrapped by the key-encryption key (KEK, ``ENCRYPTION_KEY``). Destroying a DEK
makes everything sealed under it unreadable: that is erasure (crypto-shredding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEALED_PREFIX = "enc1:"
NONCE_BYTES = 12


class DecryptionFailed(Exception):
    """Ciphertext did not authenticate (wrong key, subject, field or tampered)."""


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from a master secret with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"warden:" + purpose.encode()).derive(
        secret.encode()
    )


def key_id(key: bytes) -> str:
    """A short public identifier of a key (never the key)."""
    return hashlib.sha256(b"warden-key-id:" + key).hexdigest()[:12]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return _b64(nonce + AESGCM(key).encrypt(nonce, plaintext, aad))


def _open(key: bytes, sealed: str, aad: bytes) -> bytes:
    try:
        raw = _unb64(sealed)
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError) as ex:
        raise DecryptionFailed("ciphertext did not authenticate") from ex


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


class KeyEncryptionKeys:
    """The current KEK wraps; previous KEKs only unwrap (during rotation)."""

    def __init__(self, current: bytes, previous: tuple[bytes, ...] = ()) -> None:
        self.current = current
        self.current_id = key_id(current)
        self._by_id = {key_id(k): k for k in (*previous, current)}

    def wrap(self, data_key: bytes, subject_id: str) -> dict[str, str]:
        return {"kek_id": self.current_id, "wrapped": _seal(self.current, data_key, b"dek:" + subject_id.encode())}

    def unwrap(self, wrapped: dict[str, str], subject_id: str) -> bytes:
        kek = self._by_id.get(wrapped["kek_id"])
        if kek is None:
            raise DecryptionFailed(f"unknown key-encryption key {wrapped['kek_id']}")
        return _open(kek, wrapped["wrapped"], b"dek:" + subject_id.encode())


def seal_field(data_key: bytes, subject_id: str, field: str, value: str) -> str:
    return SEALED_PREFIX + _seal(data_key, value.encode(), f"{subject_id}|{field}".encode())


def open_field(data_key: bytes, subject_id: str, field: str, sealed: str) -> str:
    if not sealed.startswith(SEALED_PREFIX):
        raise DecryptionFailed("not a sealed value")
    return _open(data_key, sealed[len(SEALED_PREFIX) :], f"{subject_id}|{field}".encode()).decode()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def blind_index(key: bytes, normalized: str) -> str:
    """Keyed HMAC of a normalized value: equality lookups without storing the value."""
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    """Hash of a high-entropy opaque token; stored instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def seal_bytes(data_key: bytes, subject_id: str, field: str, value: bytes) -> bytes:
    """Binary twin of ``seal_field`` (attachments): nonce + AES-256-GCM ciphertext, raw bytes."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, value, f"{subject_id}|{field}".encode())


def open_bytes(data_key: bytes, subject_id: str, field: str, sealed: bytes) -> bytes:
    try:
        return AESGCM(data_key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], f"{subject_id}|{field}".encode())
    except (InvalidTag, ValueError) as ex:
        raise DecryptionFailed("ciphertext did not authenticate") from ex

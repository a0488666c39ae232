"""How much randomness a configured secret carries, and the obviously weak ones.

A secret's strength is estimated as ``length x bits per character`` of the
smallest usual alphabet that holds all of its characters: hexadecimal (4 bits),
base64 / url-safe base64 (6 bits, padding ignored), printable ASCII (6.5 bits),
anything else 8 bits per UTF-8 byte. ``warden gen-secrets`` (48 random bytes,
64 url-safe characters, 384 bits) and Render's ``generateValue`` (256 bits in
base64, 43 significant characters, 258 bits) pass the 32-byte bar; a 40-letter
word does not, because letters alone count as base64.

The estimate is an upper bound for human-made strings, so values a person would
type are refused outright: known placeholders (``changeme``, ``secret``...), a
short pattern repeated, long runs of one character, long alphabet or keyboard
sequences, too few distinct characters. For a truly random 32-byte secret each
check has a false-positive chance below one in a million.
"""

from __future__ import annotations

import math
import re
import string

HEX = frozenset(string.hexdigits)
BASE64 = frozenset(string.ascii_letters + string.digits + "+/-_")
PRINTABLE = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")

# Placeholders are six characters or more, so a random secret contains one by chance
# with probability below 1e-7.
PLACEHOLDERS = (
    "changeme",
    "change-me",
    "change_me",
    "password",
    "passw0rd",
    "secret",
    "example",
    "default",
    "insecure",
    "placeholder",
    "replaceme",
    "qwerty",
    "letmein",
)
SEQUENCES = (
    string.ascii_lowercase,
    string.digits + string.ascii_lowercase,
    "qwertyuiopasdfghjklzxcvbnm",
    "1234567890",
)
MIN_RUN = 8  # identical characters in a row
MIN_SEQUENCE = 8  # characters of an alphabet or keyboard row in order
MIN_DISTINCT = 10
RUN = re.compile(r"(.)\1{" + str(MIN_RUN - 1) + ",}")


def entropy_bits(value: str) -> float:
    """Upper-bound estimate of the bits of randomness in ``value``."""
    chars = set(value.rstrip("="))
    significant = len(value.rstrip("=")) if chars <= BASE64 else len(value)
    if chars <= HEX:
        return significant * 4.0
    if chars <= BASE64:
        return significant * 6.0
    if chars <= PRINTABLE:
        return len(value) * math.log2(len(PRINTABLE))
    return len(value.encode()) * 8.0


def weakness(value: str) -> str | None:
    """Why ``value`` is obviously not random, or None."""
    lowered = value.lower()
    for word in PLACEHOLDERS:
        if word in lowered:
            return f"contains the placeholder {word!r}"
    if RUN.search(value):
        return f"repeats one character {MIN_RUN} or more times in a row"
    for period in range(1, len(value) // 2 + 1):
        if len(value) % period == 0 and value == value[:period] * (len(value) // period):
            return "repeats a short pattern"
    for alphabet in SEQUENCES:
        for text in (lowered, lowered[::-1]):
            for start in range(len(alphabet) - MIN_SEQUENCE + 1):
                if alphabet[start : start + MIN_SEQUENCE] in text:
                    return "contains a keyboard or alphabet sequence"
    if len(set(value)) < MIN_DISTINCT:
        return f"uses fewer than {MIN_DISTINCT} distinct characters"
    return None


def secret_problem(value: str, min_bytes: int) -> str | None:
    """One phrase saying what is wrong with a secret, or None when it is strong enough."""
    reason = weakness(value)
    if reason:
        return f"is weak: it {reason}"
    bits = entropy_bits(value)
    if bits < min_bytes * 8:
        return (
            f"is too weak: about {int(bits) // 8} bytes of entropy, at least {min_bytes} needed "
            "(use `warden gen-secrets`)"
        )
    return None


def key_problem(raw: bytes) -> str | None:
    """A decoded 32-byte key that is plainly not random (all zeros, one byte repeated, a counter)."""
    if len(set(raw)) < 12:
        return "is not random: its bytes repeat (generate one with `warden gen-secrets`)"
    if all(b - a == 1 for a, b in zip(raw, raw[1:], strict=False)):
        return "is not random: its bytes count up (generate one with `warden gen-secrets`)"
    return None

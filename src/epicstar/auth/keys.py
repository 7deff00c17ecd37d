"""The key format ``esk_<prefix>_<secret>`` and the Argon2id hash of its secret.

The prefix (12 characters) is stored in clear to find the key and to show it; the secret
(43 characters, 256 bits) is stored only as an Argon2id hash, so a copy of the database
gives no key away.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

KEY_PATTERN = re.compile(r"esk_(?P<prefix>[a-z0-9]{8,32})_(?P<secret>[A-Za-z0-9]{32,128})")
PREFIX_LENGTH = 12
SECRET_LENGTH = 43
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits

_HASHER = PasswordHasher()  # argon2-cffi's defaults: RFC 9106's low-memory Argon2id profile


@dataclass(frozen=True)
class NewKey:
    prefix: str
    secret: str

    @property
    def full(self) -> str:
        return f"esk_{self.prefix}_{self.secret}"


def generate_key() -> NewKey:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    return NewKey(prefix, secret)


def split_key(text: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    match = KEY_PATTERN.fullmatch(text)
    return (match["prefix"], match["secret"]) if match else None


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


def secret_matches(secret_hash: str, secret: str) -> bool:
    """Argon2's own constant-time comparison; a damaged hash never matches."""
    try:
        return _HASHER.verify(secret_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


STAND_IN_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$/NKtEpT34f3ftQmO/NxA7A$"
    "3eN7lHPhs4uS1BGQq9no1jnvF4oIeEGvxy/yC2vAIY4"
)
"""The hash of a generated secret that was thrown away: no one holds it. Made in advance, as
making one costs what checking one does (a third of a second of CPU), and every process that
serves needs one."""

_STAND_IN: list[str] = []


def stand_in_hash() -> str:
    """A hash of nothing anyone holds, checked when a prefix is unknown so that costs the
    same as a wrong secret: :data:`STAND_IN_HASH`, or a new one should the hasher's cost
    parameters ever differ from its."""
    if not _STAND_IN:
        stale = _HASHER.check_needs_rehash(STAND_IN_HASH)
        _STAND_IN.append(hash_secret(generate_key().secret) if stale else STAND_IN_HASH)
    return _STAND_IN[0]

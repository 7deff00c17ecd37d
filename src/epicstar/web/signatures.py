"""GitHub's webhook signature: ``X-Hub-Signature-256: sha256=<HMAC-SHA256 hex of the raw body>``.

The digest is computed over the bytes exactly as received, before any decoding, and compared
in constant time (research/github.md §3). The SHA-1 ``X-Hub-Signature`` is not accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Hub-Signature-256"

_PREFIX = "sha256="
_WELL_FORMED = re.compile(r"sha256=[0-9a-fA-F]{64}")


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub sends for ``body`` signed with ``secret``."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is a well-formed ``sha256=`` signature of ``body`` under ``secret``."""
    if header is None or not _WELL_FORMED.fullmatch(header):
        return False
    expected = sign(secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.lower().encode("ascii"))

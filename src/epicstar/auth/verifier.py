"""Who a bearer key belongs to, checked on every request at the cost of one indexed read.

Argon2 is slow on purpose (tens of milliseconds), so a key's secret is verified once and
then remembered for :data:`VERIFIED_FOR` seconds by a SHA-256 of the whole key, in this
process only. Revocation and expiry are read from the database on every request, so they
take effect at once in every process. Usage (count, last time, last address) is gathered in
memory and written every :data:`USAGE_FLUSH_SECONDS` seconds by a background thread.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from epicstar.auth.keys import secret_matches, split_key, stand_in_hash
from epicstar.auth.scopes import Scope, grants
from epicstar.state.audit import Actor
from epicstar.state.database import Database
from epicstar.state.models import ApiKey, key_is_live, utcnow

VERIFIED_FOR = 300.0
"""Seconds a verified key skips Argon2 in this process."""
CACHE_SIZE = 10_000
USAGE_FLUSH_SECONDS = 2.0

_log = structlog.get_logger("epicstar.auth")

_LOOKUP = select(
    ApiKey.id, ApiKey.name, ApiKey.secret_hash, ApiKey.scopes, ApiKey.expires_at, ApiKey.revoked_at
).where(ApiKey.prefix == bindparam("prefix"))
_TABLE: Table = ApiKey.__table__  # type: ignore[assignment]
_RECORD_USE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"))
    .values(
        usage_count=_TABLE.c.usage_count + bindparam("b_count"),
        last_used_at=bindparam("b_at"),
        last_used_ip=bindparam("b_ip"),
    )
)


@dataclass(frozen=True)
class Principal:
    """Who a request is made for, and what they may do: an API key (by id, name and prefix),
    or a user a trusted proxy signed in (by name, with ``EPICSTAR_TRUSTED_HEADER_SCOPES``)."""

    key_id: int | None
    name: str
    prefix: str | None
    scopes: frozenset[Scope]

    @classmethod
    def proxy_user(cls, name: str, scopes: frozenset[Scope]) -> Principal:
        return cls(None, name, None, scopes)

    @property
    def budget(self) -> tuple[str, str]:
        """The rate-limit budget the principal's requests spend."""
        return ("key", str(self.key_id)) if self.key_id is not None else ("user", self.name)

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes

    def actor(self, address: str | None) -> Actor:
        if self.key_id is None:
            return Actor("user", key_name=self.name, address=address)
        return Actor("key", self.key_id, self.name, self.prefix, address)


@dataclass
class _Use:
    count: int
    at: datetime
    address: str | None


class KeyVerifier:
    """Checks keys against the database; one per process (its cache is the point)."""

    def __init__(self, database: Database, *, verified_for: float = VERIFIED_FOR) -> None:
        self._database = database
        self._verified_for = verified_for
        self._verified: OrderedDict[bytes, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._uses: dict[int, _Use] = {}
        self._uses_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._stopping = threading.Event()
        stand_in_hash()  # made now, not during the first request with an unknown prefix

    @property
    def database(self) -> Database:
        return self._database

    def authenticate(self, token: str, address: str | None) -> Principal | None:
        """The key's principal, or None for a malformed, unknown, wrong, expired or revoked key.

        Blocking (a database read, sometimes Argon2): call it from a thread.
        """
        parts = split_key(token)
        if parts is None:
            return None
        prefix, secret = parts
        with self._database.reading() as session:
            row = session.execute(_LOOKUP, {"prefix": prefix}).first()
        fingerprint = hashlib.sha256(token.encode()).digest()
        if row is None:
            secret_matches(stand_in_hash(), secret)
            return None
        key_id, name, secret_hash, scopes, expires_at, revoked_at = row
        if not self._recently_verified(fingerprint, key_id):
            if not secret_matches(secret_hash, secret):
                return None
            self._remember(fingerprint, key_id)
        now = utcnow()
        if not key_is_live(revoked_at, expires_at, now):
            return None
        self._note_use(key_id, now, address)
        return Principal(key_id, name, prefix, grants(scopes))

    def _recently_verified(self, fingerprint: bytes, key_id: int) -> bool:
        with self._lock:
            entry = self._verified.get(fingerprint)
            if entry is None:
                return False
            cached_id, verified_at = entry
            if cached_id != key_id or time.monotonic() - verified_at > self._verified_for:
                del self._verified[fingerprint]
                return False
            self._verified.move_to_end(fingerprint)
            return True

    def _remember(self, fingerprint: bytes, key_id: int) -> None:
        with self._lock:
            self._verified[fingerprint] = (key_id, time.monotonic())
            self._verified.move_to_end(fingerprint)
            while len(self._verified) > CACHE_SIZE:
                self._verified.popitem(last=False)

    # -- usage -------------------------------------------------------------------------

    def _note_use(self, key_id: int, now: datetime, address: str | None) -> None:
        with self._uses_lock:
            use = self._uses.get(key_id)
            if use is None:
                self._uses[key_id] = _Use(1, now, address)
            else:
                use.count, use.at, use.address = use.count + 1, now, address
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_periodically, name="epicstar-key-usage", daemon=True
                )
                self._flusher.start()

    def _flush_periodically(self) -> None:
        while not self._stopping.wait(USAGE_FLUSH_SECONDS):
            self.flush_usage()

    def flush_usage(self) -> None:
        """Write the gathered usage now (also done every few seconds, and at close)."""
        with self._uses_lock:
            uses, self._uses = self._uses, {}
        if not uses:
            return
        rows = [
            {"b_id": key_id, "b_count": use.count, "b_at": use.at, "b_ip": use.address}
            for key_id, use in uses.items()
        ]
        try:
            with self._database.session() as session:
                session.execute(_RECORD_USE, rows)
        except SQLAlchemyError as error:
            _log.warning("key usage not recorded", keys=len(rows), error=type(error).__name__)

    def close(self) -> None:
        self._stopping.set()
        flusher = self._flusher
        if flusher is not None:
            flusher.join(timeout=10)
        self.flush_usage()

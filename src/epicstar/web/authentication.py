"""Who is calling, and may they: the one place the API and the dashboard check API keys,
sessions, a trusted proxy's user, scopes, request budgets and CSRF tokens.

A route declares the scope it needs with ``Depends(require(Scope.READ))`` and receives the
:class:`Caller`. Missing, malformed, unknown, wrong, expired or revoked keys all get the same
401 (with ``WWW-Authenticate: Bearer``); a key without the scope gets 403; a caller over its
budget gets 429 with ``Retry-After``.

Requests that fail authentication are counted per client address (an IPv6 address per /64).
Once that budget is spent, every request from the address gets 429 until the window frees
a slot, a valid key's too, and no key is looked at: were valid keys still checked, a 200
among the 429s would tell a right guess from a wrong one, so guessing would go on at full
speed, and every guess would still cost an Argon2 verification. The price: clients that
share an address with someone sending bad keys wait with them. Behind a reverse proxy,
every client has the proxy's address unless ``EPICSTAR_TRUSTED_PROXIES`` names it.

The dashboard signs a browser in with a key (:meth:`Authenticator.sign_in`): a session row
and an HttpOnly cookie holding a random token; the key's revocation or expiry ends the
session at the next request. A request from a trusted proxy naming a user in
``EPICSTAR_TRUSTED_HEADER`` is that user, with ``EPICSTAR_TRUSTED_HEADER_SCOPES``; the header
is ignored from anyone else. Every state-changing dashboard request carries a CSRF token
derived from the session's token, which a page of another site can neither read nor guess.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from epicstar.auth.scopes import Scope, grants
from epicstar.auth.verifier import KeyVerifier, Principal
from epicstar.state import sessions
from epicstar.state.audit import Actor
from epicstar.web.access_log import KEY_PREFIX_STATE
from epicstar.web.ratelimit import ClientAddress, RateLimits, address_bucket

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key, `esk_<prefix>_<secret>` (`epicstar keys create`).",
)
UNAUTHENTICATED = "a valid API key is required: Authorization: Bearer esk_<prefix>_<secret>"


@dataclass(frozen=True)
class Caller:
    principal: Principal
    address: str | None
    channel: str = "API"  # or "dashboard"

    @property
    def actor(self) -> Actor:
        return self.principal.actor(self.address)


SESSION_COOKIE = "epicstar_session"


class SignInRequired(Exception):
    """No signed-in browser: the dashboard sends it to ``/login``."""


class SignInRefused(Exception):
    """Why a key does not sign in, in a sentence the sign-in page shows."""


@dataclass(frozen=True)
class Visitor:
    """A signed-in browser: who it is for, and the CSRF token its forms must carry."""

    caller: Caller
    csrf: str

    def may(self, scope: Scope) -> bool:
        return self.caller.principal.may(scope)


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(b"epicstar csrf\0" + session_token.encode()).hexdigest()


def csrf_matches(visitor: Visitor, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(visitor.csrf, offered)


class Authenticator:
    """The app's verifier, budgets and address rule (one per process)."""

    def __init__(
        self,
        verifier: KeyVerifier,
        limits: RateLimits,
        addresses: ClientAddress,
        *,
        session_lifetime: timedelta = timedelta(hours=12),
        trusted_header: str | None = None,
        proxy_scopes: frozenset[Scope] = frozenset({Scope.READ}),
    ):
        self.verifier = verifier
        self.limits = limits
        self.addresses = addresses
        self.session_lifetime = session_lifetime
        self.trusted_header = trusted_header
        self.proxy_scopes = proxy_scopes

    def caller(
        self,
        request: Request,
        token: str | None,
        *scopes: Scope,
        challenge: str = "Bearer",
        unauthenticated: str = UNAUTHENTICATED,
    ) -> Caller:
        """The key's caller, admitted when it holds one of ``scopes``; a bad key gets 401 with
        ``unauthenticated`` and ``WWW-Authenticate: <challenge>``."""
        address = self.addresses.of(request)
        principal = self._key(
            token,
            address,
            throttled=lambda wait: _too_many(
                wait, "too many requests with an invalid key from this address"
            ),
            invalid=lambda: HTTPException(
                401, unauthenticated, headers={"WWW-Authenticate": challenge}
            ),
        )
        setattr(request.state, KEY_PREFIX_STATE, principal.prefix)
        return self._admitted(Caller(principal, address), *scopes)

    def _key(
        self,
        token: str | None,
        address: str | None,
        *,
        throttled: Callable[[float], Exception],
        invalid: Callable[[], Exception],
    ) -> Principal:
        """The key's principal; ``throttled`` once the address has spent its budget of
        failures (before the key is looked at), ``invalid`` for a bad key (counted)."""
        failures = ("failed", address_bucket(address))
        wait = self.limits.exhausted(*failures)
        if wait is not None:
            raise throttled(wait)
        principal = self.verifier.authenticate(token, address) if token else None
        if principal is None:
            self.limits.spend(*failures)
            raise invalid()
        return principal

    def _admitted(self, caller: Caller, *scopes: Scope) -> Caller:
        wait = self.limits.spend(*caller.principal.budget)
        if wait is not None:
            raise _too_many(wait, "this key has used up its request budget")
        if not any(caller.principal.may(scope) for scope in scopes):
            named = " or ".join(f"'{scope.value}'" for scope in scopes)
            raise HTTPException(403, f"this key lacks the {named} scope")
        return caller

    # -- the dashboard -----------------------------------------------------------------

    def sign_in(self, request: Request, token: str) -> str:
        """A new session's token for a valid key that may read; :class:`SignInRefused`
        otherwise (counted, as the API counts bad keys)."""
        address = self.addresses.of(request)
        principal = self._key(
            token.strip(),
            address,
            throttled=lambda wait: SignInRefused(
                "too many sign-ins with an invalid key from this address; "
                f"try again in {int(wait) + 1} seconds"
            ),
            invalid=lambda: SignInRefused("that key is not valid (mistyped, expired or revoked)"),
        )
        if not principal.may(Scope.READ):
            raise SignInRefused("that key cannot open the dashboard: it has no 'read' scope")
        return self._open_session(address, key_id=principal.key_id)

    def _open_session(
        self, address: str | None, *, key_id: int | None = None, user_name: str | None = None
    ) -> str:
        with self.verifier.database.session() as session:
            return sessions.open_session(
                session,
                lifetime=self.session_lifetime,
                key_id=key_id,
                user_name=user_name,
                address=address,
            )

    def sign_out(self, request: Request) -> None:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            with self.verifier.database.session() as session:
                sessions.close(session, token)

    def visitor(self, request: Request, scope: Scope) -> Visitor:
        """The signed-in browser (:class:`SignInRequired` when there is none), admitted for
        ``scope`` as :meth:`caller` admits a key."""
        address = self.addresses.of(request)
        user = self._proxy_user(request)
        token = request.cookies.get(SESSION_COOKIE)
        found = self._session(token) if token else None
        if user is not None:
            if found is None or found.user_name != user:
                token = self._open_session(address, user_name=user)
                request.state.new_session_token = token
            principal = Principal.proxy_user(user, self.proxy_scopes)
        elif found is not None and found.key_id is not None and found.key_name is not None:
            principal = Principal(
                found.key_id, found.key_name, found.key_prefix, grants(found.key_scopes)
            )
        else:
            raise SignInRequired
        assert token is not None
        if principal.prefix:
            setattr(request.state, KEY_PREFIX_STATE, principal.prefix)
        caller = self._admitted(Caller(principal, address, channel="dashboard"), scope)
        return Visitor(caller, csrf_token(token))

    def _session(self, token: str) -> sessions.OpenSession | None:
        with self.verifier.database.reading() as session:
            return sessions.find(session, token)

    def _proxy_user(self, request: Request) -> str | None:
        """The user a trusted proxy names, or None (no header set, not from such a proxy)."""
        if self.trusted_header is None or not self.addresses.from_trusted_proxy(request):
            return None
        name = request.headers.get(self.trusted_header, "").strip()
        return name[:200] or None


def _too_many(wait: float, detail: str) -> HTTPException:
    return HTTPException(429, detail, headers={"Retry-After": str(int(wait))})


def require(*scopes: Scope) -> Callable[..., Caller]:
    """A dependency admitting callers whose key holds one of ``scopes``."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> Caller:
        authenticator: Authenticator = request.app.state.authenticator
        token = credentials.credentials if credentials is not None else None
        return authenticator.caller(request, token, *scopes)

    return dependency

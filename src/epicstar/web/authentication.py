"""Who is calling, and may they: the one place the API (and the dashboard after it) checks
API keys, scopes and request budgets.

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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from epicstar.auth import KeyVerifier, Principal, Scope
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

    @property
    def actor(self) -> Actor:
        return self.principal.actor(self.address)


class Authenticator:
    """The app's verifier, budgets and address rule (one per process)."""

    def __init__(self, verifier: KeyVerifier, limits: RateLimits, addresses: ClientAddress):
        self.verifier = verifier
        self.limits = limits
        self.addresses = addresses

    def caller(self, request: Request, token: str | None, scope: Scope) -> Caller:
        address = self.addresses.of(request)
        failures = ("failed", address_bucket(address))
        wait = self.limits.exhausted(*failures)
        if wait is not None:
            raise _too_many(wait, "too many requests with an invalid key from this address")
        principal = self.verifier.authenticate(token, address) if token else None
        if principal is None:
            self.limits.spend(*failures)
            raise HTTPException(401, UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
        setattr(request.state, KEY_PREFIX_STATE, principal.prefix)
        wait = self.limits.spend("key", str(principal.key_id))
        if wait is not None:
            raise _too_many(wait, "this key has used up its request budget")
        if not principal.may(scope):
            raise HTTPException(403, f"this key lacks the '{scope.value}' scope")
        return Caller(principal, address)


def _too_many(wait: float, detail: str) -> HTTPException:
    return HTTPException(429, detail, headers={"Retry-After": str(int(wait))})


def require(scope: Scope) -> Callable[..., Caller]:
    """A dependency admitting callers whose key holds ``scope``."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> Caller:
        authenticator: Authenticator = request.app.state.authenticator
        token = credentials.credentials if credentials is not None else None
        return authenticator.caller(request, token, scope)

    return dependency

"""API keys: their format, scopes, storage and verification (used by the API and the CLI)."""

from epicstar.auth.keys import KEY_PATTERN, NewKey, generate_key, split_key
from epicstar.auth.scopes import Scope, grants, may_grant, parse_scopes
from epicstar.auth.store import (
    KeyNotFound,
    ScopeNotHeld,
    create_key,
    find_key,
    key_status,
    key_view,
    list_keys,
    page_of_keys,
    parse_expiry,
    revoke_key,
)
from epicstar.auth.verifier import KeyVerifier, Principal

__all__ = [
    "KEY_PATTERN",
    "KeyNotFound",
    "KeyVerifier",
    "NewKey",
    "Principal",
    "Scope",
    "ScopeNotHeld",
    "create_key",
    "find_key",
    "generate_key",
    "grants",
    "key_status",
    "key_view",
    "list_keys",
    "may_grant",
    "page_of_keys",
    "parse_expiry",
    "parse_scopes",
    "revoke_key",
    "split_key",
]

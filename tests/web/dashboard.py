"""Signing in to the dashboard in process, and reading what its pages say."""

from __future__ import annotations

import re

import httpx

from epicstar.auth import create_key
from epicstar.state.audit import CLI
from epicstar.state.database import Database
from tests.web.conftest import Web

CSRF_FIELD = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def new_key(db: Database, *scopes: str, name: str = "dashboard test") -> str:
    with db.session() as session:
        _row, key = create_key(session, name=name, scopes=scopes, expires_in=None, actor=CLI)
    return key.full


def sign_in(web: Web, key: str, next_path: str = "/") -> httpx.Response:
    return web.form("/login", {"key": key, "next": next_path})


def signed_in(web: Web, db: Database, *scopes: str) -> str:
    """Sign ``web`` in with a new key of ``scopes``; the key."""
    key = new_key(db, *scopes)
    answer = sign_in(web, key)
    assert answer.status_code == 303, answer.text
    return key


def csrf_of(page: httpx.Response) -> str:
    found = CSRF_FIELD.search(page.text)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)

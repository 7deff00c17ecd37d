"""A browser's view of the dashboard in process: a signed-in client (its own cookie jar),
the forms' CSRF token, form posts, and the API keys it signs in with."""

from __future__ import annotations

import re
from functools import partial

import httpx

from epicstar.auth.store import create_key
from epicstar.state.audit import CLI
from epicstar.state.database import Database
from epicstar.state.models import ApiKey
from epicstar.web.dashboard.access import SCRIPT_HEADER
from tests.web.conftest import MakeWeb, Web, tracked

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
ACTION_FORM = re.compile(r'<form method="post" action="(?!/logout")')


def new_key(db: Database, *scopes: str, name: str = "in process") -> str:
    with db.session() as session:
        _row, key = create_key(session, name=name, scopes=scopes, expires_in=None, actor=CLI)
    return key.full


def repository(db: Database, github_id: int, full_name: str) -> None:
    """A mirrored repository of its own name and OneDev project."""
    tracked(
        db,
        github_id=github_id,
        full_name=full_name,
        onedev_path=f"github/mirror-{github_id}",
        onedev_project_id=github_id,
    )


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
    return found[1]


def key_id(db: Database, key: str) -> int:
    prefix = key.removeprefix("esk_").split("_", 1)[0]
    with db.session() as session:
        row = session.query(ApiKey).filter_by(prefix=prefix).one()
        return row.id


class Browser:
    """One browser signed in with ``key`` on an app of its own (same database)."""

    def __init__(self, web: Web, key: str) -> None:
        self.web = web
        answer = sign_in(web, key)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/"

    def get(self, path: str) -> httpx.Response:
        return self.web.get(path)

    def post(
        self,
        path: str,
        data: dict[str, str | list[str]],
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.web.portal.call(partial(self.web.client.post, path, data=data, headers=headers))

    def csrf(self) -> str:
        """The session's CSRF token, as every form on its pages carries it."""
        return csrf_of(self.get("/"))

    def act(self, path: str, **fields: str | list[str]) -> httpx.Response:
        """A form post as the page's own form sends it (with the session's token)."""
        return self.post(path, {"csrf": self.csrf(), **fields})

    def act_by_script(self, path: str) -> httpx.Response:
        """The post the page's script sends for a ``data-script`` form."""
        return self.post(path, {"csrf": self.csrf()}, headers={SCRIPT_HEADER: "1"})


def browser(make_web: MakeWeb, db: Database, *scopes: str) -> Browser:
    return Browser(make_web(), new_key(db, *scopes))


def action_forms(html: str) -> int:
    """How many forms on the page change something (signing out aside)."""
    return len(ACTION_FORM.findall(html))

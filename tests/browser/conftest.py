"""Chromium driven by Playwright against a real ``epicstar serve``.

The browser is Debian's Chromium (``/usr/bin/chromium``, or ``EPICSTAR_CHROMIUM``); Playwright's
own browser downloads are never used. Without it the browser tests are skipped with a message,
except under CI (``CI`` set), where they fail.

Every page a test opens records script errors (console errors and uncaught exceptions); a test
that saw any fails, so "no script error on any page" is checked by every browser test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    ViewportSize,
    sync_playwright,
)

from tests.api.conftest import GENEROUS_RATE, Api, api_world, serving
from tests.conftest import unavailable
from tests.e2e.conftest import World

CHROMIUM = Path(os.environ.get("EPICSTAR_CHROMIUM", "/usr/bin/chromium"))
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
SEEDED = {
    "octo/hello": "Hello, world",
    "octo/tools": "Small tools",
    "acme/website": "Acme's website",
}
"""Repositories starred and mirrored before the dashboard starts: name and description."""


class ScriptErrors:
    """Console errors and uncaught exceptions of the pages it watches."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.pages: list[Page] = []
        self.excused: list[re.Pattern[str]] = []

    def excuse(self, pattern: str) -> None:
        """Messages matching ``pattern`` are what the test provokes on purpose."""
        self.excused.append(re.compile(pattern))

    def watch(self, page: Page) -> Page:
        self.pages.append(page)
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url")
            self.seen.append(f"console error: {message.text}" + (f" ({where})" if where else ""))

    def _page_error(self, error: Error) -> None:
        self.seen.append(f"uncaught {error.name}: {error.message}")

    def check(self) -> None:
        """Fail if any watched page has had a script error so far."""
        for page in self.pages:
            if not page.is_closed():
                page.evaluate("0")  # a round trip: events the page sent before it have arrived
        seen = [line for line in self.seen if not any(p.search(line) for p in self.excused)]
        if seen:
            raise AssertionError("script errors in the browser:\n  " + "\n  ".join(seen))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for a module's tests. Not for the session: while Playwright's sync API runs,
    its event loop is the thread's running loop, so a later test of another module calling
    ``asyncio.run()`` in the same worker would fail."""
    if not CHROMIUM.is_file():
        unavailable(
            f"Chromium is not at {CHROMIUM} (install Debian's: apt-get install chromium; "
            "or set EPICSTAR_CHROMIUM)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # As root (CI, containers) Chromium refuses to start with its sandbox on.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()


@pytest.fixture
def script_errors() -> ScriptErrors:
    """The script errors of the test's pages; checked after the test (see the hook below)."""
    return ScriptErrors()


@pytest.fixture
def page(browser: Browser, script_errors: ScriptErrors) -> Iterator[Page]:
    """A desktop-sized page in a fresh context (no cookies from other tests)."""
    context = browser.new_context(viewport=DESKTOP)
    yield script_errors.watch(context.new_page())
    context.close()


@pytest.fixture
def phone_page(browser: Browser, script_errors: ScriptErrors) -> Iterator[Page]:
    """A phone-sized touch page in a fresh context."""
    context = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=3,
    )
    yield script_errors.watch(context.new_page())
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """A test that passed fails after all if a page it opened had a script error."""
    result = yield
    watched = getattr(item, "funcargs", {}).get("script_errors")
    if isinstance(watched, ScriptErrors):
        watched.check()
    return result


class Dashboard:
    """A served epicstar with mirrored repositories: its URL, keys, and the sandbox behind it."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.url: str = api.served.url

    @property
    def world(self) -> World:
        return self.api.world

    def key(self, *scopes: str, name: str = "browser test") -> str:
        """A new API key with ``scopes``, made as ``epicstar keys create`` makes it."""
        return self.api.key(*scopes, name=name)

    def mirror(self, full_name: str, *, description: str | None = None) -> int:
        """A new sandbox repository, tracked and mirrored; returns its GitHub id."""
        owner, name = full_name.split("/")
        repo = self.world.github.create_repo(owner, name, description=description)
        self.world.add(full_name)
        assert self.world.sync().ok
        return int(repo.id)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """``epicstar serve`` (SQLite) shared by a module's tests, with :data:`SEEDED` mirrored.

    Ticks and polls are an hour apart, so nothing changes behind a test's back."""
    with api_world("sqlite", tmp_path_factory) as world:
        for full_name, description in SEEDED.items():
            owner, name = full_name.split("/")
            world.github.create_repo(owner, name, description=description)
        world.star(*SEEDED)
        assert world.sync(poll=True).ok
        env = {
            "EPICSTAR_API_RATE_LIMIT": GENEROUS_RATE,
            "EPICSTAR_TICK_SECONDS": "3600",
            "EPICSTAR_POLL_INTERVAL": "3600",
        }
        with serving(world, env) as api:
            yield Dashboard(api)

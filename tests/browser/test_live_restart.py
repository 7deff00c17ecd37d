"""An open page keeps updating across a restart of ``epicstar serve``: its session is in the
database, and its event stream reconnects by itself."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import GENEROUS_RATE, Api, api_world
from tests.browser.conftest import ScriptErrors
from tests.browser.test_dashboard import LIVE
from tests.e2e.served import Served


def test_a_page_updates_after_serve_restarts(
    page: Page, script_errors: ScriptErrors, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # While serve is down, the browser logs each refused reconnection of the event stream.
    script_errors.excuse(r"ERR_CONNECTION_REFUSED \(http://127\.0\.0\.1:\d+/events\)")
    env = {
        "EPICSTAR_API_RATE_LIMIT": GENEROUS_RATE,
        "EPICSTAR_TICK_SECONDS": "3600",
        "EPICSTAR_POLL_INTERVAL": "3600",
    }
    with api_world("sqlite", tmp_path_factory) as world:
        first = Served(world, env)
        api = Api(world, first)
        try:
            key = api.key("read", name="restart")
            page.goto(f"{first.url}/login")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{first.url}/repositories")
            state = page.locator("[data-live-state]")
            expect(state).to_have_text("Live updates: on", timeout=LIVE)
            page.evaluate("window.__notReloaded = true")
        finally:
            assert first.stop() == 0
        expect(state).to_have_text(re.compile("reconnecting"), timeout=LIVE)

        second = Served(world, env, port=int(urlsplit(first.url).port or 0))
        try:
            expect(state).to_have_text("Live updates: on", timeout=LIVE)
            repo = world.github.create_repo("octo", "after-restart")
            world.add("octo/after-restart")  # what a worker or the API would write
            expect(page.locator(f'tr[data-github-id="{repo.id}"]')).to_contain_text(
                "octo/after-restart", timeout=LIVE
            )
            assert page.evaluate("window.__notReloaded === true")
        finally:
            second.stop()
            api.database.dispose()

"""What's new in Chromium, through ``epicstar serve`` against the sandbox: a commit pushed
upstream and mirrored by a real pass shows on the open page without a reload, its hostile
title as text, and reaches the Atom feed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import Dashboard
from tests.browser.test_dashboard import LIVE, live, not_reloaded, sign_in

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script> & co'


def test_a_new_commit_shows_in_whats_new_and_the_feed(page: Page, dashboard: Dashboard) -> None:
    github_id = dashboard.mirror("octo/newsy")
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    sign_in(page, dashboard, "read")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="What's new").click()
    expect(page.get_by_role("heading", name="What's new", level=1)).to_be_visible()
    page.get_by_label("Repository").fill("octo/newsy")
    page.get_by_role("button", name="Apply").click()
    first = page.locator(f'tr[data-github-id="{github_id}"]')
    expect(first).to_have_count(1)
    expect(first).to_contain_text("new mirror")
    live(page)

    world = dashboard.world
    sha = world.github.commit("octo/newsy", "main", {"news.txt": "news\n"}, f"{HOSTILE}\n\nbody")
    assert world.sync().ok

    entries = page.locator(f'tr[data-github-id="{github_id}"]')
    expect(entries).to_have_count(2, timeout=LIVE)
    newest = entries.first
    expect(newest).to_contain_text(HOSTILE)
    expect(newest.locator("td").nth(2)).to_have_text("commit")
    expect(newest.get_by_role("link", name=sha[:7])).to_have_attribute(
        "href", re.compile(rf"^https?://[^/]+/octo/newsy/commit/{sha}$")
    )
    expect(page.locator('img[src="x"]')).to_have_count(0)
    assert not_reloaded(page)
    assert dialogs == []

    feed_key = dashboard.key("feed", name="feed reader")
    answer = dashboard.api.served.client.get("/feed.atom", params={"key": feed_key})
    assert answer.status_code == 200
    root = ET.fromstring(answer.content)  # noqa: S314 - our own answer
    titles = [entry.findtext("{http://www.w3.org/2005/Atom}title") for entry in root]
    assert f"octo/newsy: {HOSTILE}" in titles

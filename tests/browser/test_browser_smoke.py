"""The browser setup works: Chromium renders the served pages and script errors are caught."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import SEEDED, Dashboard, ScriptErrors


def test_swagger_ui_starts_in_chromium(page: Page, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/docs")
    expect(page).to_have_title("epicstar API")
    expect(page.locator("#swagger-ui .swagger-ui")).to_be_attached()


def test_the_phone_page_is_phone_sized(phone_page: Page, dashboard: Dashboard) -> None:
    phone_page.goto(f"{dashboard.url}/docs")
    expect(phone_page).to_have_title("epicstar API")
    assert phone_page.evaluate("[window.innerWidth, navigator.maxTouchPoints > 0]") == [390, True]


def test_the_api_docs_render_in_chromium(page: Page, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/docs")
    expect(page.locator(".info .title")).to_contain_text("epicstar")
    expect(page.get_by_text("/api/v1/summary").first).to_be_visible()


def test_the_dashboard_serves_mirrored_repositories(dashboard: Dashboard) -> None:
    key = dashboard.key("read")
    for full_name in SEEDED:
        github_id = dashboard.world.github.repo(full_name).id
        seeded = dashboard.api.get(f"/repositories/{github_id}", key).json()
        assert (seeded["full_name"], seeded["sync_status"]) == (full_name, "completed")

    hostile = '<img src=x onerror="alert(1)">'
    github_id = dashboard.mirror("mallory/hostile", description=hostile)
    added = dashboard.api.get(f"/repositories/{github_id}", key).json()
    assert (added["description"], added["sync_status"]) == (hostile, "completed")
    assert dashboard.world.onedev.refs(added["onedev_path"])


@pytest.mark.parametrize(
    "script",
    [
        '<script>throw new Error("deliberate")</script>',
        '<script>console.error("deliberate")</script>',
        '<script>Promise.reject(new Error("deliberate"))</script>',
    ],
)
def test_a_script_error_fails_the_check(browser: Browser, script: str) -> None:
    context = browser.new_context()
    try:
        errors = ScriptErrors()
        page = errors.watch(context.new_page())
        page.set_content(f"<title>broken</title>{script}")
        with pytest.raises(AssertionError, match="deliberate"):
            errors.check()
    finally:
        context.close()


def test_a_clean_page_passes_the_check(browser: Browser) -> None:
    context = browser.new_context()
    try:
        errors = ScriptErrors()
        page = errors.watch(context.new_page())
        page.set_content('<title>fine</title><script>console.log("all well")</script>')
        errors.check()
    finally:
        context.close()

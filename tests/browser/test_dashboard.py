"""The dashboard in Chromium, through ``epicstar serve`` against the sandbox: sign in, read and
filter the tables, act and watch the outcome arrive without a reload, as a read key be refused
everything, and see GitHub's markup as text."""

from __future__ import annotations

import re

from playwright.sync_api import Dialog, Locator, Page, expect

from tests.browser.conftest import SEEDED, Dashboard
from tests.e2e.helpers import wait_for
from tests.web.conftest import payload

LIVE = 15_000
"""Milliseconds the page may take to connect, or to show what no pass has to finish for."""
SHOWN_AFTER_PASS = 2_000
"""The promise: a pass's outcome shows within 2 seconds of the pass finishing."""


def sign_in(page: Page, dashboard: Dashboard, *scopes: str) -> str:
    key = dashboard.key(*scopes)
    page.goto(f"{dashboard.url}/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    return key


def row(page: Page, github_id: int) -> Locator:
    return page.locator(f'tr[data-github-id="{github_id}"]').first


def field(page: Page, github_id: int, name: str) -> Locator:
    return page.locator(f'tr[data-github-id="{github_id}"] [data-field="{name}"]').first


def live(page: Page) -> None:
    """Wait until the page listens to the server's events, and mark it: a reload unmarks it."""
    expect(page.locator("[data-live-state]")).to_have_text("Live updates: on", timeout=LIVE)
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


def after_the_pass(dashboard: Dashboard, github_id: int, **expected: str) -> None:
    """Until the repository's row (the database) says ``expected``: the pass has finished."""

    def finished() -> bool:
        row = dashboard.world.row(github_id)
        return all(getattr(row, name) == value for name, value in expected.items())

    wait_for(finished, timeout=90)


def test_signing_in_shows_the_overview_and_the_tables(page: Page, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/repositories")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Frepositories$"))
    page.get_by_label("API key").fill("esk_notakey00000_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("that key is not valid")

    page.get_by_label("API key").fill(dashboard.key("read"))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/repositories$"))
    for full_name in SEEDED:
        github_id = dashboard.world.github.repo(full_name).id
        expect(row(page, github_id)).to_contain_text(full_name)
        expect(field(page, github_id, "state")).to_have_text("active")
        expect(field(page, github_id, "sync_status")).to_have_text("completed")
    page.get_by_role("link", name="Overview").click()
    expect(page.locator('[data-count-status="completed"] .card-number')).not_to_have_text("0")


def test_filters_search_and_sorting_live_in_the_url(page: Page, dashboard: Dashboard) -> None:
    sign_in(page, dashboard, "read")
    page.goto(f"{dashboard.url}/repositories")
    page.get_by_label("Sync status").select_option("failed")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(page.get_by_text("No repository matches.")).to_be_visible()
    page.get_by_label("Sync status").select_option("")
    page.get_by_label("Search").fill("TOOLS")
    page.get_by_label("Search").press("Enter")
    expect(page).to_have_url(re.compile(r"q=TOOLS"))
    tools = dashboard.world.github.repo("octo/tools").id
    expect(page.locator("tbody tr[data-github-id]")).to_have_count(1)
    expect(row(page, tools)).to_be_visible()
    page.reload()  # the URL alone brings the same view back
    expect(page.locator("tbody tr[data-github-id]")).to_have_count(1)
    page.goto(f"{dashboard.url}/repositories?sort=-name")
    names = page.locator("tbody tr[data-github-id] td.name > a:first-child").all_inner_texts()
    assert names == sorted(names, key=str.lower, reverse=True)


def test_a_sync_shows_its_outcome_without_a_reload(page: Page, dashboard: Dashboard) -> None:
    github_id = dashboard.mirror("octo/vanishing")
    dashboard.world.github.delete("octo/vanishing")
    sign_in(page, dashboard, "write")
    page.goto(f"{dashboard.url}/repositories?q=vanishing")
    expect(field(page, github_id, "state")).to_have_text("active")
    live(page)
    row(page, github_id).get_by_role("button", name="Sync").click()
    expect(page.locator("[data-toast]")).to_contain_text("Sync asked for")
    after_the_pass(dashboard, github_id, state="source_gone")
    expect(field(page, github_id, "state")).to_have_text("source gone", timeout=SHOWN_AFTER_PASS)
    assert not_reloaded(page)


def test_a_failed_repository_is_retried_and_recovers_live(page: Page, dashboard: Dashboard) -> None:
    world = dashboard.world
    repo = world.github.create_repo("octo", "flaky")
    world.onedev.inject("POST", r"^/~api/projects$", 500, body="<b>OneDev is down</b>", times=None)
    world.add("octo/flaky")
    assert not world.sync().ok
    world.onedev.faults.clear()
    sign_in(page, dashboard, "write")
    page.goto(f"{dashboard.url}/repositories?status=failed")
    expect(field(page, repo.id, "sync_status")).to_have_text("failed")
    expect(field(page, repo.id, "error")).to_contain_text("500")
    live(page)
    row(page, repo.id).get_by_role("button", name="Retry").click()
    expect(page.locator("[data-toast]")).to_contain_text("Retry asked for")
    page.goto(f"{dashboard.url}/repositories/{repo.id}")
    live(page)
    facts = page.locator('[data-live="facts"]')
    after_the_pass(dashboard, repo.id, sync_status="completed")
    expect(facts.locator('[data-field="sync_status"]')).to_have_text(
        "completed", timeout=SHOWN_AFTER_PASS
    )
    expect(page.locator('[data-live="history"] tbody tr').first).to_contain_text("mirrored")
    assert not_reloaded(page)


def test_a_repository_added_by_name_arrives_live(page: Page, dashboard: Dashboard) -> None:
    repo = dashboard.world.github.create_repo("octo", "newcomer", description="Added by hand")
    sign_in(page, dashboard, "write")
    page.goto(f"{dashboard.url}/repositories")
    live(page)
    page.get_by_label("Repository to add (owner/name)").fill("octo/newcomer")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("[data-toast]")).to_contain_text("octo/newcomer is tracked")
    after_the_pass(dashboard, repo.id, sync_status="completed")
    expect(field(page, repo.id, "sync_status")).to_have_text("completed", timeout=SHOWN_AFTER_PASS)
    assert not_reloaded(page)
    assert dashboard.world.onedev.refs("github/octo/newcomer")


def test_markup_from_github_is_shown_as_text(page: Page, dashboard: Dashboard) -> None:
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    github_id = dashboard.mirror("mallory/hostile", description=hostile)
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    sign_in(page, dashboard, "read")
    for path in ("/repositories?q=hostile", f"/repositories/{github_id}"):
        page.goto(f"{dashboard.url}{path}")
        expect(page.get_by_text(hostile).first).to_be_visible()
        expect(page.locator('img[src="x"]')).to_have_count(0)
    assert dialogs == []


def test_a_read_key_sees_no_action_and_every_forged_one_is_refused(
    page: Page, dashboard: Dashboard
) -> None:
    sign_in(page, dashboard, "read")
    github_id = dashboard.world.github.repo("octo/hello").id
    for path in ("/", "/repositories", f"/repositories/{github_id}", "/activity", "/deliveries"):
        page.goto(f"{dashboard.url}{path}")
        expect(page.locator('main form[method="post"]')).to_have_count(0)
    csrf = page.locator('input[name="csrf"]').first.input_value()
    forged = [
        page.request.post(
            f"{dashboard.url}{path}",
            form={"csrf": csrf, "full_name": "octo/cat", "action": "sync", "github_id": "1"},
            max_redirects=0,
        ).status
        for path in (
            f"/repositories/{github_id}/sync",
            f"/repositories/{github_id}/retry",
            f"/repositories/{github_id}/remove",
            f"/repositories/{github_id}/approve",
            "/repositories/bulk",
            "/repositories",
            "/stars/poll",
            "/deliveries/any/replay",
            "/keys",
            "/keys/1/revoke",
        )
    ]
    assert forged == [403] * 10


def test_a_delivery_is_replayed(page: Page, dashboard: Dashboard) -> None:
    answer = dashboard.api.served.deliver("ping", payload("ping"))
    assert answer.status_code == 200
    delivery = answer.request.headers["X-GitHub-Delivery"]
    page.on("dialog", lambda dialog: dialog.accept())  # "Process delivery … again?"
    sign_in(page, dashboard, "write")
    page.goto(f"{dashboard.url}/deliveries")
    entry = page.locator("tr", has_text=delivery)
    entry.get_by_role("button", name="Replay").click()
    expect(page.locator("[data-toast]")).to_contain_text(f"Delivery {delivery} replayed")


def test_a_key_is_created_shown_once_and_revoked(page: Page, dashboard: Dashboard) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, dashboard, "admin")
    page.goto(f"{dashboard.url}/keys")
    page.get_by_label("Name").fill("from the browser")
    page.get_by_label("read", exact=True).check()
    page.get_by_role("button", name="Create key").click()
    shown = page.locator(".key-once code").inner_text().strip()
    assert re.fullmatch(r"esk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", shown)
    assert dashboard.api.get("/summary", shown).status_code == 200
    page.goto(f"{dashboard.url}/keys")
    assert shown not in page.content()  # shown once only
    prefix = shown.split("_")[1]
    page.locator("tr", has_text=prefix).get_by_role("button", name="Revoke").click()
    expect(page.locator("tr", has_text=prefix)).to_contain_text("revoked", timeout=LIVE)
    assert dashboard.api.get("/summary", shown).status_code == 401


def test_every_page_is_free_of_script_errors_on_a_phone(
    phone_page: Page, dashboard: Dashboard
) -> None:
    sign_in(phone_page, dashboard, "admin")
    github_id = dashboard.world.github.repo("octo/hello").id
    for path in (
        "/",
        "/repositories",
        f"/repositories/{github_id}",
        "/activity",
        "/deliveries",
        "/keys",
        "/audit",
    ):
        phone_page.goto(f"{dashboard.url}{path}")
        expect(phone_page.locator("main h1")).to_be_visible()
        width = phone_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width} px)"


def test_the_keyboard_alone_signs_in_and_acts(page: Page, dashboard: Dashboard) -> None:
    key = dashboard.key("write")
    github_id = dashboard.world.github.repo("octo/hello").id
    page.goto(f"{dashboard.url}/login?next=/repositories%3Fq%3Dhello")
    expect(page.get_by_label("API key")).to_be_focused()  # ready to paste into
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/repositories\?q=hello$"))
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    sync = row(page, github_id).get_by_role("button", name="Sync")
    for _ in range(60):
        page.keyboard.press("Tab")
        if sync.evaluate("button => button === document.activeElement"):
            break
    expect(sync).to_be_focused()
    outline = sync.evaluate("button => getComputedStyle(button).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Enter")
    expect(page.locator("[data-toast]")).to_contain_text("Sync asked for")

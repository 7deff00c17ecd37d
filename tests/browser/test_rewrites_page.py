"""A repository's page in Chromium shows what GitHub overwrote or deleted, with ref names from
GitHub as text, and a repository held back is approved from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import select, update

from epicstar.state.models import RefRewrite, Repository, RewriteStatus, SyncStatus
from tests.browser.conftest import Dashboard
from tests.browser.test_dashboard import after_the_pass, live, sign_in

HOSTILE_REF = "refs/heads/<img src=x onerror=alert(1)>"
SCREENSHOT = "/tmp/rewrites-page.png"
FOUND = datetime(2024, 5, 1, 12, tzinfo=UTC)


def rewritten(dashboard: Dashboard, full_name: str) -> tuple[int, dict[str, int]]:
    """A mirrored repository held back with two rewrites (one of a hostile branch name), and
    one rewrite applied and restored before; its id, and the rewrites' ids by ref."""
    github_id = dashboard.mirror(full_name)
    rows = {
        "refs/heads/main": RefRewrite(
            ref="refs/heads/main",
            old_sha="a" * 40,
            new_sha="b" * 40,
            kind="forced",
            commits_lost=2,
            kept_as="refs/epicstar/rewritten/20240501T120000Z/heads/main",
            status=RewriteStatus.APPLIED,
            found_at=FOUND,
            restored_as="epicstar/rewritten/20240501T120000Z/heads/main",
            restored_at=FOUND + timedelta(hours=1),
        ),
        HOSTILE_REF: RefRewrite(
            ref=HOSTILE_REF,
            old_sha="c" * 40,
            new_sha="d" * 40,
            kind="forced",
            commits_lost=100_000,
            commits_lost_partial=True,
            kept_as="refs/epicstar/rewritten/20240502T120000Z/heads/<img src=x onerror=alert(1)>",
            whole_repository=True,
            status=RewriteStatus.HELD,
            found_at=FOUND + timedelta(days=1),
        ),
        "refs/tags/v1": RefRewrite(
            ref="refs/tags/v1",
            old_sha="e" * 40,
            new_sha=None,
            kind="deleted",
            commits_lost=0,
            kept_as="refs/epicstar/rewritten/20240502T120000Z/tags/v1",
            status=RewriteStatus.HELD,
            found_at=FOUND + timedelta(days=1),
        ),
    }
    with dashboard.api.database.session() as session:
        for row in rows.values():
            row.repository_id = github_id
            session.add(row)
        session.execute(
            update(Repository)
            .where(Repository.github_id == github_id)
            .values(
                sync_status=SyncStatus.HELD,
                held_refs={HOSTILE_REF: "d" * 40, "refs/tags/v1": None},
            )
        )
        session.flush()
        ids = {ref: row.id for ref, row in rows.items()}
    return github_id, ids


def statuses(dashboard: Dashboard, github_id: int) -> dict[str, str]:
    with dashboard.api.database.session() as session:
        found = session.scalars(select(RefRewrite).where(RefRewrite.repository_id == github_id))
        return {row.ref: row.status for row in found}


def test_rewrites_are_listed_as_text_and_a_held_repository_is_approved(
    page: Page, dashboard: Dashboard
) -> None:
    github_id, ids = rewritten(dashboard, "octo/rewritten")
    alerts: list[str] = []

    def answer(dialog: Dialog) -> None:
        if dialog.type == "confirm":  # "Let the mirror follow GitHub's rewritten history?"
            dialog.accept()
        else:
            alerts.append(dialog.message)
            dialog.dismiss()

    page.on("dialog", answer)
    sign_in(page, dashboard, "write")
    page.goto(f"{dashboard.url}/repositories/{github_id}")

    section = page.locator('[data-live="rewrites"]')
    expect(section.get_by_role("heading", name="Rewritten history")).to_be_visible()
    expect(section.locator("tbody tr")).to_have_count(3)
    hostile = section.locator(f'tr[data-rewrite-id="{ids[HOSTILE_REF]}"]')
    expect(hostile.locator('[data-field="ref"]')).to_have_text("<img src=x onerror=alert(1)>")
    expect(hostile.locator('[data-field="commits_lost"]')).to_have_text("100,000+")
    expect(hostile.locator('[data-field="kind"]')).to_contain_text("whole history")
    expect(hostile.locator('[data-field="tips"]')).to_have_text("cccccccccccc → dddddddddddd")
    expect(hostile.locator('[data-field="status"]')).to_have_text("held")
    tag = section.locator(f'tr[data-rewrite-id="{ids["refs/tags/v1"]}"]')
    expect(tag.locator('[data-field="ref"]')).to_have_text("v1 tag")
    expect(tag.locator('[data-field="tips"]')).to_have_text("eeeeeeeeeeee → deleted")
    restored = section.locator(f'tr[data-rewrite-id="{ids["refs/heads/main"]}"]')
    expect(restored.locator('[data-field="restored_as"]')).to_contain_text(
        "epicstar/rewritten/20240501T120000Z/heads/main"
    )
    expect(section).to_contain_text("epicstar restore octo/rewritten ID")
    held = page.locator('[data-field="held"]')
    expect(held.locator('[data-field="held_ref"]')).to_have_text([HOSTILE_REF, "refs/tags/v1"])
    expect(page.locator('[data-live="facts"] [data-field="sync_status"]')).to_have_text("held")
    expect(page.locator('img[src="x"]')).to_have_count(0)
    page.screenshot(path=SCREENSHOT, full_page=True)

    live(page)
    held.get_by_role("button", name="Approve").click()

    expect(page.locator("[data-toast]")).to_contain_text("Approved 2 held refs")
    expect(page.locator('[data-field="held"]')).to_have_count(0)
    expect(hostile.locator('[data-field="status"]')).to_contain_text("approved")
    expect(tag.locator('[data-field="status"]')).to_contain_text("approved")
    assert statuses(dashboard, github_id) == {
        "refs/heads/main": "applied",
        HOSTILE_REF: "approved",
        "refs/tags/v1": "approved",
    }
    after_the_pass(dashboard, github_id, sync_status="completed")
    assert dashboard.world.row(github_id).held_refs is None
    assert alerts == []


def test_the_rewrites_fit_a_phone(phone_page: Page, dashboard: Dashboard) -> None:
    github_id, _ids = rewritten(dashboard, "octo/narrow")
    sign_in(phone_page, dashboard, "write")
    phone_page.goto(f"{dashboard.url}/repositories/{github_id}")
    expect(phone_page.locator('[data-live="rewrites"] tbody tr')).to_have_count(3)
    expect(phone_page.get_by_role("button", name="Approve")).to_be_visible()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"

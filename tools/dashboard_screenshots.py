"""Screenshots of the dashboard for the docs: the demo's mirrors, on a desktop and a phone.

    .venv/bin/python -m tools.dashboard_screenshots [--out docs/screenshots]

Runs ``epicstar demo --serve`` (the local sandbox, no accounts), signs in with the key it
prints, and saves the overview, repositories, What's new and one repository's pages, 1280 px
wide and 390 px wide, with Debian's Chromium (``/usr/bin/chromium``, or ``EPICSTAR_CHROMIUM``).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, ViewportSize, expect, sync_playwright

READY = re.compile(
    r"Dashboard: (?P<url>http://\S+?)/?\s+\(sign in with this key: (?P<key>esk_\S+)\)"
)
VIEWS: dict[str, tuple[ViewportSize, bool]] = {
    "desktop": ({"width": 1280, "height": 860}, False),
    "phone": ({"width": 390, "height": 844}, True),
}
PAGES = {"overview": "/", "repositories": "/repositories", "whats-new": "/whats-new"}
SHOWN_REPOSITORY = "demo-org/website"


def start_demo(folder: Path) -> tuple[subprocess.Popen[str], str, str]:
    demo = subprocess.Popen(
        [sys.executable, "-m", "epicstar", "demo", "--serve", "--port", "0", "--dir", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    deadline = time.monotonic() + 300
    for line in demo.stdout:
        found = READY.search(line)
        if found:
            return demo, found["url"], found["key"]
        if time.monotonic() > deadline:
            break
    demo.kill()
    raise SystemExit("the demo did not print its dashboard's address")


def shoot(browser: Browser, url: str, key: str, out: Path) -> list[Path]:
    saved = []
    for view, (viewport, phone) in VIEWS.items():
        context = browser.new_context(
            viewport=viewport, is_mobile=phone, has_touch=phone, device_scale_factor=1
        )
        page = context.new_page()
        page.goto(f"{url}/login")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        for name, path in PAGES.items():
            page.goto(f"{url}{path}")
            expect(page.locator("[data-live-state]")).to_have_text("Live updates: on")
            target = out / f"{name}-{view}.png"
            page.screenshot(path=target, full_page=True)
            saved.append(target)
        # One repository's page: the demo's with an LFS file and a wiki.
        page.goto(f"{url}/repositories?q={SHOWN_REPOSITORY}")
        page.get_by_role("link", name=SHOWN_REPOSITORY, exact=True).click()
        expect(page.locator("[data-field=wiki]")).to_contain_text("synced")
        target = out / f"repository-{view}.png"
        page.screenshot(path=target, full_page=True)
        saved.append(target)
        context.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    arguments = parser.parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    chromium = os.environ.get("EPICSTAR_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory(prefix="epicstar-screenshots-") as folder:
        demo, url, key = start_demo(Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
                )
                for path in shoot(browser, url, key, arguments.out):
                    print(path)
                browser.close()
        finally:
            demo.send_signal(signal.SIGTERM)
            demo.wait(timeout=60)


if __name__ == "__main__":
    main()

"""``epicstar demo`` works with no accounts and no configuration, and tells the truth."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

DASHBOARD_LINE = re.compile(
    r"Dashboard: (http://127\.0\.0\.1:\d+/)  \(sign in with this key: (esk_\S+)\)"
)


def _without_epicstar_settings() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("EPICSTAR_")}


def test_demo_mirrors_the_samples_exactly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "epicstar", "demo", "--dir", str(tmp_path / "demo")],
        env=_without_epicstar_settings(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "stars of the token's user: full walk of 6 stars in 1 request, 6 changes" in out
    assert "6 repositories: 6 mirrored, 0 up to date" in out
    assert "rename   octocat/community: was octocat/.github" in out
    assert "unstar   alice/dotfiles: mirror kept as it is" in out
    assert "gone     bob/dotfiles: GitHub answers 404; mirror kept" in out
    assert "track    carol/new-star" in out
    assert "unchanged since the last poll (1 request, answered 304: free)" in out
    assert "5 repositories: 0 mirrored, 5 up to date" in out
    assert "repository metadata requests: 5 (5 answered 304); GitHub rate limit used: 0;" in out
    assert "pushes to OneDev: 0" in out
    assert out.count(" refs  exact\n") == 5
    assert out.count(" refs  kept as it was (") == 2
    assert "DIFFERENT" not in out
    assert (tmp_path / "demo" / "data" / "epicstar.db").is_file()
    assert "Traceback" not in result.stderr


def test_demo_serve_runs_the_service_with_a_key_to_sign_in(tmp_path: Path) -> None:
    command = ["demo", "--dir", str(tmp_path / "demo"), "--serve", "--port", "0"]
    with (tmp_path / "stderr").open("w+") as stderr:
        demo = subprocess.Popen(
            [sys.executable, "-m", "epicstar", *command],
            env=_without_epicstar_settings(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        lines: list[str] = []
        announced_or_ended = threading.Event()

        def read() -> None:
            assert demo.stdout is not None
            for line in demo.stdout:
                lines.append(line)
                if DASHBOARD_LINE.search(line):
                    announced_or_ended.set()
            announced_or_ended.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            announced_or_ended.wait(180)
            found = DASHBOARD_LINE.search("".join(lines))
            assert found is not None, "".join(lines) + (tmp_path / "stderr").read_text()
            url, key = found.groups()
            assert not url.endswith(":8000/")  # --port 0: a free port, and the real one is printed

            summary = httpx.get(
                f"{url}api/v1/summary", headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
            assert summary.status_code == 200, summary.text
            counts = summary.json()
            assert counts["total"] == 7  # the six samples and the star added on the way
            assert counts["by_sync_status"]["completed"] == 7
            assert httpx.get(f"{url}api/v1/summary", timeout=30).status_code == 401

            demo.send_signal(signal.SIGTERM)
            assert demo.wait(60) == 0
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait()
        reader.join(10)
    out = "".join(lines)
    assert "git -c http.extraHeader=" in out
    assert out.endswith("stopped\n")
    assert "Traceback" not in (tmp_path / "stderr").read_text()

"""``epicstar demo`` works with no accounts and no configuration, and tells the truth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_mirrors_the_samples_exactly(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("EPICSTAR_")}
    result = subprocess.run(
        [sys.executable, "-m", "epicstar", "demo", "--dir", str(tmp_path / "demo")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "6 repositories: 6 mirrored, 0 up to date" in out
    assert "6 repositories: 0 mirrored, 6 up to date" in out
    assert "repository metadata requests: 6 (6 answered 304); GitHub rate limit used: 0;" in out
    assert "pushes to OneDev: 0" in out
    assert out.count(" refs  exact\n") == 6
    assert "DIFFERENT" not in out
    assert "renamed on GitHub from octocat/.github" in out
    assert (tmp_path / "demo" / "data" / "epicstar.db").is_file()
    assert "Traceback" not in result.stderr

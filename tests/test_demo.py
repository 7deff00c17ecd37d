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

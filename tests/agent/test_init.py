"""``epicstar agent init``: a template that parses, names every setting, holds no secret, is
readable only by its owner, and never replaces a file without --force."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from epicstar.agent.config import AgentSettings, load_agent_settings


def agent(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "epicstar", "agent", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_init_writes_a_private_template_without_secrets(tmp_path: Path) -> None:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "EPICSTAR_GITHUB_TOKEN": "ghp_must_not_be_written",
        "EPICSTAR_API_KEY": "esk_must_not_be_written",
    }
    result = agent("init", env=env)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "config" / "epicstar" / "agent.toml"
    assert str(path) in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "ghp_must_not_be_written" not in text
    assert "esk_must_not_be_written" not in text
    parsed = tomllib.loads(text)
    # The secrets are references to their variables; nothing else is set.
    assert parsed == {
        "api_key": "${EPICSTAR_API_KEY}",
        "github_token": "${EPICSTAR_GITHUB_TOKEN}",
    }
    for name in AgentSettings.model_fields:
        assert f"# {name} = " in text or f"{name} = " in text, name


def test_every_setting_uncommented_still_parses_and_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agent.toml"
    assert agent("init", "--config", str(path), env={}).returncode == 0
    uncommented = "\n".join(
        line.removeprefix("# ") if " = " in line and line.startswith("# ") else line
        for line in path.read_text().splitlines()
    )
    path.write_text(uncommented)
    monkeypatch.setenv("EPICSTAR_GITHUB_TOKEN", "ghp_x")
    settings = load_agent_settings(path, required=True)
    assert settings.server_url == "https://epicstar.example.com"
    assert settings.include == ["octocat/*", "*/awesome-*"]
    assert settings.require_github_token() == "ghp_x"  # through the reference


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('server_url = "https://mine.example.com"\n')
    refused = agent("init", "--config", str(path), env={})
    assert refused.returncode == 1
    assert "exists" in refused.stderr
    assert "--force" in refused.stderr
    assert path.read_text() == 'server_url = "https://mine.example.com"\n'

    forced = agent("init", "--config", str(path), "--force", env={})
    assert forced.returncode == 0, forced.stderr
    assert "server_url" in path.read_text()
    assert "mine.example.com" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["agent.toml"]  # no temporary left

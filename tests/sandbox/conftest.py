"""Fixtures for the sandbox tests: a running Sandbox and a hermetic git runner."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from epicstar.sandbox import Role, Sandbox

GH_TOKEN = "ghp_sandbox_token_1"
GH_TOKEN_2 = "ghp_sandbox_token_2"
OD_ADMIN = "od-admin-token"
OD_CREATOR = "od-creator-token"
OD_NO_CREATE = "od-nocreate-token"
OD_READ_ONLY = "od-readonly-token"


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.invalid",
    )
    return env


def git(
    *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run git without any credential helper or prompt (a 401 fails instead of asking)."""
    proc = subprocess.run(
        ["git", "-c", "credential.helper=", *args],
        cwd=cwd,
        env=git_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def with_credentials(url: str, token: str, user: str = "x-access-token") -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{token}@{rest}"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    tokens = {
        OD_ADMIN: Role.ADMIN,
        OD_CREATOR: Role.CREATOR,
        OD_NO_CREATE: Role.NO_CREATE,
        OD_READ_ONLY: Role.READ_ONLY,
    }
    with Sandbox(tmp_path / "sb", github_tokens=[GH_TOKEN, GH_TOKEN_2], onedev_tokens=tokens) as sb:
        yield sb

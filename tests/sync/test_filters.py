"""Which starred repositories the EPICSTAR_INCLUDE… settings leave out, and why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from epicstar.config import load_settings
from epicstar.discovery import Repository
from epicstar.sync.filters import Filters

REPO = Repository(
    id=1,
    full_name="Octo/Hello",
    owner="Octo",
    name="Hello",
    clone_url="https://github.com/Octo/Hello.git",
    html_url="https://github.com/Octo/Hello",
    description=None,
    default_branch="main",
    private=False,
    archived=False,
    disabled=False,
    fork=False,
    size_kb=2048,
    pushed_at=None,
    language="Python",
)


def filters(monkeypatch: pytest.MonkeyPatch, **env: str) -> Filters:
    for name, value in env.items():
        monkeypatch.setenv(f"EPICSTAR_{name.upper()}", value)
    return Filters.from_settings(load_settings())


def test_no_filters_keep_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    assert filters(monkeypatch).exclusion(REPO) is None


def test_globs_are_case_insensitive_and_exclude_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = filters(monkeypatch, include="octo/*", exclude='["*/hello"]')
    assert chosen.exclusion(REPO) == "matched by EPICSTAR_EXCLUDE pattern '*/hello'"
    assert chosen.exclusion(replace(REPO, full_name="octo/other")) is None
    assert chosen.exclusion(replace(REPO, full_name="else/where")) == (
        "not matched by EPICSTAR_INCLUDE"
    )


@pytest.mark.parametrize(
    ("env", "repo", "reason"),
    [
        ({"skip_forks": "1"}, replace(REPO, fork=True), "a fork (EPICSTAR_SKIP_FORKS)"),
        (
            {"skip_archived": "true"},
            replace(REPO, archived=True),
            "archived (EPICSTAR_SKIP_ARCHIVED)",
        ),
        ({"max_size_mb": "1"}, REPO, "2 MiB, over EPICSTAR_MAX_SIZE_MB"),
        ({"languages": "go, rust"}, REPO, "language Python not in EPICSTAR_LANGUAGES"),
        (
            {"languages": "go"},
            replace(REPO, language=None),
            "language unknown not in EPICSTAR_LANGUAGES",
        ),
    ],
)
def test_each_filter_names_itself(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], repo: Repository, reason: str
) -> None:
    assert filters(monkeypatch, **env).exclusion(repo) == reason


def test_filters_that_do_not_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = filters(monkeypatch, skip_forks="1", max_size_mb="2", languages="PYTHON")
    assert chosen.exclusion(REPO) is None

"""Running git: input that outlasts a cancel check still reaches git whole."""

from __future__ import annotations

import threading

from epicstar.mirror.process import GitError, base_environment, run_git


def test_input_to_a_git_command_slower_than_a_cancel_check_arrives_whole() -> None:
    """Regression: a cancellable git command (any in ``serve`` or ``worker``) given input was
    waited for in slices; the second slice re-sent the input, which Popen refuses, so a slow
    ``rev-list --stdin`` on a loaded machine failed the pass with a ValueError."""
    lines = "".join(f"{number:040x}\n" for number in range(5000))  # more than a pipe holds
    slow_cat = {"alias.slow-cat": "!sleep 1; cat"}

    result = run_git(
        ["slow-cat"],
        env=base_environment(slow_cat),
        timeout=30,
        stdin=lines,
        cancel=threading.Event(),
    )

    assert result.stdout == lines


def test_git_tells_a_missing_repository_from_other_failures() -> None:
    missing = GitError(
        "git ls-remote failed",
        stderr="remote: Repository not found.\n"
        "fatal: repository 'https://github.com/octo/hello.wiki.git/' not found",
    )
    anonymous = GitError(
        "git ls-remote failed",
        stderr="fatal: could not read Username for 'https://github.com': terminal prompts disabled",
    )
    refused = GitError(
        "git ls-remote failed",
        stderr="remote: Invalid username or token.\n"
        "fatal: Authentication failed for 'https://github.com/octo/hello.wiki.git/'",
    )
    broken = GitError(
        "git ls-remote failed",
        stderr="fatal: unable to access 'https://github.com/octo/hello.wiki.git/': "
        "The requested URL returned error: 500",
    )

    assert (missing.no_such_repository, missing.credentials_wanted) == (True, False)
    assert (anonymous.no_such_repository, anonymous.credentials_wanted) == (False, True)
    for other in (refused, broken):
        assert (other.no_such_repository, other.credentials_wanted) == (False, False)

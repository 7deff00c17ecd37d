"""Running git: input that outlasts a cancel check still reaches git whole."""

from __future__ import annotations

import threading

from epicstar.mirror.process import base_environment, run_git


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

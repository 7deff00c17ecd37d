"""Small assertions shared by the end-to-end tests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIRRORED = ("refs/heads/", "refs/tags/")


def heads_and_tags(refs: dict[str, str]) -> dict[str, str]:
    return {name: sha for name, sha in refs.items() if name.startswith(MIRRORED)}


def assert_exact_mirror(world: Any, full_name: str, path: str) -> None:
    """OneDev's branches and tags are exactly GitHub's, and no GitHub pull refs came along."""
    source = world.github.refs(full_name)
    mirror = world.onedev.refs(path)
    assert heads_and_tags(mirror) == heads_and_tags(source)
    assert not [name for name in mirror if name.startswith("refs/pull/")]
    assert [name for name in source if name.startswith("refs/pull/")], "the source has PR refs"


def wait_for(condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Until ``condition()`` is true; an exception (a row still being created) means not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s")


def git_push_running(world: Any, path: str) -> bool:
    """Whether a ``git push`` to ``path`` on this world's OneDev runs on this machine.

    The URL carries the sandbox's port, so pushes of other tests running at the same time (to
    their own sandboxes, perhaps to the same path) never count."""
    url = f"{world.sandbox.onedev_url}/{path}.git".encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"push" in argv and any(url in arg for arg in argv):
            return True
    return False

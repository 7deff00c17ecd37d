"""Small assertions shared by the end-to-end tests."""

from __future__ import annotations

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

"""Refused refs and OneDev's reasons, read from what a failed ``git push --porcelain`` wrote."""

from __future__ import annotations

from epicstar.mirror.process import GitError
from epicstar.mirror.rejections import rejected

SUFFIX = " " * 8  # git pads sideband lines when stderr is not a terminal


def onedev_box(ref: str, message: str) -> str:
    lines = [
        "*" * 55,
        "*",
        f"*  ERROR PUSHING REF: {ref}",
        "-" * 55,
        f"*  {message}",
        "*",
        "*" * 55,
    ]
    return "".join(f"remote: {line}{SUFFIX}\n" for line in lines)


def porcelain(*refs: str, reason: str = "pre-receive hook declined") -> str:
    lines = ["To http://onedev.example/github/octo/hello.git"]
    lines += [f"!\t{ref}:{ref}\t[remote rejected] ({reason})" for ref in refs]
    return "\n".join([*lines, "Done", ""])


def test_onedevs_reason_is_quoted_for_the_refs_it_named() -> None:
    error = GitError(
        "git push failed",
        stdout=porcelain("refs/heads/main", "refs/tags/v1"),
        stderr=onedev_box("refs/tags/v1", "Cannot delete this tag according to tag protection")
        + "To http://onedev.example/github/octo/hello.git\n"
        + "error: failed to push some refs to 'http://onedev.example/github/octo/hello.git'",
    )

    refused = rejected(error)

    assert refused is not None
    assert refused.declined_by_hook
    assert not refused.only_current_branch_kept
    assert [r.ref for r in refused.rejections] == ["refs/heads/main", "refs/tags/v1"]
    assert refused.refused == "refs/tags/v1 (Cannot delete this tag according to tag protection)"


def test_gits_own_reason_when_the_server_said_nothing() -> None:
    error = GitError(
        "git push failed",
        stdout="To http://onedev.example/x.git\n"
        "!\t:refs/heads/master\t[remote rejected] (deletion of the current branch prohibited)\n"
        "Done\n",
        stderr="remote: error: refusing to delete the current branch: refs/heads/master",
    )

    refused = rejected(error)

    assert refused is not None
    assert refused.only_current_branch_kept
    assert not refused.declined_by_hook
    assert refused.refused == "refs/heads/master (deletion of the current branch prohibited)"


def test_many_refusals_are_counted_beyond_the_first_five() -> None:
    refs = [f"refs/heads/b{i}" for i in range(8)]
    boxes = "".join(onedev_box(ref, "Cannot create this branch") for ref in refs)
    refused = rejected(GitError("git push failed", stdout=porcelain(*refs), stderr=boxes))

    assert refused is not None
    assert refused.refused.endswith("refs/heads/b4 (Cannot create this branch) and 3 more")


def test_a_failure_without_refused_refs_is_not_a_rejection() -> None:
    error = GitError("git push failed", stderr="fatal: unable to access 'http://x/': 502")
    assert rejected(error) is None

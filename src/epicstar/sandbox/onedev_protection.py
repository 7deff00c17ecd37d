"""OneDev's branch and tag protection rules, checked on a push as OneDev's pre-receive does.

A project's rules come first, then its parent's, up to the root
(``Project.getHierarchyBranchProtections``); the first enabled rule whose patterns match the
branch or tag decides (``Project.getBranchProtection``), and no match means nothing is
prevented. The refusals and their wording follow ``GitPreReceiveCallback``: refs are checked
last line first, each refused ref gets a box, and any refusal fails the whole push. Pull
request refs are refused to non-managers there too, which ends the check.

Also the checker itself: when a project has rules in effect, the sandbox's pre-receive hook
runs this file (``python -I``, so standard library only) with the rules as JSON in
:data:`PROTECTIONS_ENV`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

PROTECTIONS_ENV = "EPICSTAR_ONEDEV_PROTECTIONS"
MANAGER_ENV = "EPICSTAR_ONEDEV_MANAGER"
PYTHON_ENV = "EPICSTAR_ONEDEV_PYTHON"
CHECKER_ENV = "EPICSTAR_ONEDEV_CHECKER"
CHECKER = os.path.abspath(__file__)

_ONEDEV_REFS = ("refs/pulls/", "refs/updates/")
_RULE = "*******************************************************"


@dataclass(frozen=True)
class Protection:
    """A ``BranchProtection`` or ``TagProtection``: ``patterns`` are OneDev's path wildcards
    (space-separated, ``**``, ``*``, ``?``, ``-`` to exclude). ``prevent_update`` is
    "prevent forced push" for a branch and "prevent update" for a tag."""

    kind: Literal["branch", "tag"]
    patterns: str
    prevent_creation: bool = True
    prevent_deletion: bool = True
    prevent_update: bool = True
    enabled: bool = True

    def matches(self, name: str) -> bool:
        """``PatternSet.matches``: no exclusion matches, and an inclusion does (or there
        are exclusions only)."""
        words = self.patterns.split()
        excludes = [w[1:] for w in words if w.startswith("-")]
        includes = [w for w in words if not w.startswith("-")]
        if any(_wildcard(pattern).match(name) for pattern in excludes):
            return False
        if any(_wildcard(pattern).match(name) for pattern in includes):
            return True
        return bool(excludes) and not includes


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        else:
            char = pattern[i]
            parts.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
            i += 1
    return re.compile("".join(parts) + r"\Z")


def encode(rules: Iterable[Protection]) -> str:
    return json.dumps([asdict(rule) for rule in rules])


def decode(text: str) -> list[Protection]:
    return [Protection(**fields) for fields in json.loads(text)]


def refusals(
    rules: Sequence[Protection], old: str, new: str, ref: str, *, fast_forward: bool
) -> list[str]:
    """OneDev's messages refusing one ref update (empty when the rules allow it)."""
    if ref.startswith("refs/heads/"):
        kind, name, noun = "branch", ref[len("refs/heads/") :], "branch"
    elif ref.startswith("refs/tags/"):
        kind, name, noun = "tag", ref[len("refs/tags/") :], "tag"
    else:
        return []
    rule = next((r for r in rules if r.kind == kind and r.enabled and r.matches(name)), None)
    if rule is None:
        return []
    setting = f"according to {noun} protection setting"
    if _zero(old):
        return [f"Cannot create this {noun} {setting}"] if rule.prevent_creation else []
    if _zero(new):
        return [f"Cannot delete this {noun} {setting}"] if rule.prevent_deletion else []
    if kind == "tag":
        return [f"Cannot update this tag {setting}"] if rule.prevent_update else []
    if rule.prevent_update and not fast_forward:
        return [f"Cannot force-push to this branch {setting}"]
    return []


def _zero(sha: str) -> bool:
    return set(sha) == {"0"}


def box(ref: str, messages: Sequence[str]) -> list[str]:
    """OneDev's error box as its hook prints it (the hook's ``IFS`` drops empty lines)."""
    return [
        _RULE,
        "*",
        f"*  ERROR PUSHING REF: {ref}",
        "-------------------------------------------------------",
        *(f"*  {message}" for message in messages),
        "*",
        _RULE,
    ]


def _is_ancestor(old: str, new: str) -> bool:
    """``GitUtils.isMergedInto``, with the pushed objects still in quarantine."""
    check = subprocess.run(["git", "merge-base", "--is-ancestor", old, new], check=False)
    return check.returncode == 0


def check_push(updates: Sequence[tuple[str, str, str]], rules: Sequence[Protection]) -> int:
    """Print OneDev's refusals of a pre-receive's ``(old, new, ref)`` lines; 1 if any."""
    manager = os.environ.get(MANAGER_ENV) == "1"
    failed = False
    for old, new, ref in reversed(updates):
        if ref.startswith(_ONEDEV_REFS):
            if not manager:
                print("\n".join(box(ref, ["Only project managers can update onedev refs."])))
                return 1
            continue
        forward = not _zero(old) and not _zero(new) and _is_ancestor(old, new)
        messages = refusals(rules, old, new, ref, fast_forward=forward)
        if messages:
            print("\n".join(box(ref, messages)))
            failed = True
    return 1 if failed else 0


def main() -> int:
    updates = [line.split() for line in sys.stdin.read().splitlines() if line.strip()]
    lines = [(old, new, ref) for old, new, ref in updates]
    return check_push(lines, decode(os.environ[PROTECTIONS_ENV]))


if __name__ == "__main__":
    sys.exit(main())

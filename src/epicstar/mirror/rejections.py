"""Which refs a push had refused, and why, from ``git push --porcelain`` and the remote's words.

git reports each refused ref on stdout (``!\\t<src>:<dst>\\t[remote rejected] (<reason>)``);
the reason there is git's (``pre-receive hook declined``, ``deletion of the current branch
prohibited``). What the server's hook said is on stderr, as ``remote:`` lines: OneDev writes a
box per refused ref (``*  ERROR PUSHING REF: <ref>``, a rule, then ``*  <message>`` lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from epicstar.mirror.process import GitError

HOOK_DECLINED = "pre-receive hook declined"
CURRENT_BRANCH_KEPT = "deletion of the current branch prohibited"

_REF_HEADER = "*  ERROR PUSHING REF: "
_MESSAGE_PREFIX = "*  "
_SHOWN = 5  # refs quoted in a message; the rest are counted


@dataclass(frozen=True)
class RefRejection:
    ref: str
    reason: str  # git's, from the porcelain line
    remote_messages: tuple[str, ...] = ()  # the server's own words about this ref

    def describe(self) -> str:
        return f"{self.ref} ({'; '.join(self.remote_messages) or self.reason})"


class PushRejected(GitError):
    """The remote refused some refs of a push (the others may have been updated)."""

    def __init__(self, error: GitError, rejections: Sequence[RefRejection]) -> None:
        self.rejections = tuple(rejections)
        explained = [r for r in self.rejections if r.remote_messages] or list(self.rejections)
        # The refused refs, each with the server's reason (or git's), for a message.
        self.refused = ", ".join(r.describe() for r in explained[:_SHOWN])
        if len(explained) > _SHOWN:
            self.refused += f" and {len(explained) - _SHOWN} more"
        super().__init__(
            f"the remote refused {self.refused}",
            stderr=error.stderr,
            stdout=error.stdout,
            returncode=error.returncode,
        )

    @property
    def transient(self) -> bool:
        """A refusal is the server's considered answer, unless git only lost a race for a ref
        (a push replayed after its answer was lost finds its refs already moved)."""
        if self.declined_by_hook or self.only_current_branch_kept:
            return False
        return super().transient

    @property
    def declined_by_hook(self) -> bool:
        """The server's pre-receive hook refused the push (OneDev: a protection rule)."""
        return any(r.reason == HOOK_DECLINED for r in self.rejections)

    @property
    def only_current_branch_kept(self) -> bool:
        """Every refusal is git's own: the deletion of the branch the remote's HEAD is on."""
        return all(r.reason == CURRENT_BRANCH_KEPT for r in self.rejections)


def rejected(error: GitError) -> PushRejected | None:
    """The refusals a failed ``git push --porcelain`` reports, or None if it reports none."""
    messages = _remote_messages(error.stderr)
    found = [
        RefRejection(ref, reason, tuple(messages.get(ref, ())))
        for ref, reason in _porcelain_rejections(error.stdout)
    ]
    return PushRejected(error, found) if found else None


def _porcelain_rejections(porcelain: str) -> list[tuple[str, str]]:
    found = []
    for line in porcelain.splitlines():
        flag, _, rest = line.partition("\t")
        if flag != "!":
            continue
        refs, _, summary = rest.partition("\t")
        destination = refs.rpartition(":")[2]
        reason = summary.partition("(")[2].rpartition(")")[0] or summary
        found.append((destination, reason))
    return found


def _remote_messages(stderr: str) -> dict[str, list[str]]:
    """The messages of each ``ERROR PUSHING REF`` box the remote wrote, by ref."""
    messages: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in stderr.splitlines():
        if not raw.startswith("remote:"):
            current = None
            continue
        line = raw[len("remote:") :].strip()
        if line.startswith(_REF_HEADER):
            current = messages.setdefault(line[len(_REF_HEADER) :].strip(), [])
        elif current is not None and line.startswith(_MESSAGE_PREFIX):
            current.append(line[len(_MESSAGE_PREFIX) :].strip())
        elif current is not None and line.startswith("*****"):
            current = None
    return messages

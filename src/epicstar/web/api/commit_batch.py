"""The body of ``POST /api/v1/repositories/{github_id}/commits``: 1 to 1,000 commits, each
checked strictly (one bad field refuses the whole batch), and the feed rows they become."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from epicstar.feed import FeedRow
from epicstar.state.models import FeedKind
from epicstar.web.api.attempts import in_utc

MAX_COMMITS = 1_000
MAX_COUNT = 2**31 - 1
"""The largest addition, deletion, file or parent count stored (a 32-bit column)."""

_SHA = re.compile(r"[0-9a-fA-F]{40}")


def _sha(text: str) -> str:
    if not _SHA.fullmatch(text):
        raise ValueError("not a commit id of 40 hexadecimal digits")
    return text.lower()


def _iso_text(value: object) -> object:
    """Dates come as ISO 8601 text (parsed laxly, FastAPI validating decoded JSON), never
    as numbers of seconds."""
    if not isinstance(value, str):
        raise ValueError("not an ISO 8601 date and time")
    return value


Sha = Annotated[
    str,
    AfterValidator(_sha),
    Field(
        description="40 hexadecimal digits (stored in lower case)",
        examples=["9fceb02" * 5 + "d6ae5"],
    ),
]
Moment = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    AfterValidator(in_utc),
    Field(
        strict=False,
        description="ISO 8601 with a time zone offset",
        examples=["2024-06-01T12:00:00+02:00"],
    ),
]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Name = Annotated[str, Field(max_length=10_000, description="trimmed, cut at 200 characters")]
Email = Annotated[
    str, Field(max_length=10_000, description="trimmed and lower-cased, cut at 320 characters")
]


class IngestedCommit(BaseModel):
    """One commit as ``git log`` describes it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    sha: Sha
    author_name: Name
    author_email: Email
    authored_at: Moment
    committer_name: Name
    committer_email: Email
    committed_at: Moment
    title: str = Field(description="the message's first line (cut at 1,000 characters)")
    body: str = Field(default="", description="the rest of the message (cut at 16,384 characters)")
    additions: Count | None = None
    deletions: Count | None = None
    files_changed: Count | None = None
    is_merge: bool = False
    parent_count: Count = 1
    branches: list[Annotated[str, Field(max_length=255)]] = Field(
        default_factory=list,
        max_length=1_000,
        description="the branches it arrived on (names without refs/heads/)",
    )

    def row(self) -> FeedRow:
        return FeedRow(
            kind=FeedKind.COMMIT,
            sha=self.sha,
            author_name=self.author_name,
            author_email=self.author_email,
            authored_at=self.authored_at,
            committer_name=self.committer_name,
            committer_email=self.committer_email,
            committed_at=self.committed_at,
            title=self.title,
            body=self.body,
            additions=self.additions,
            deletions=self.deletions,
            files_changed=self.files_changed,
            is_merge=self.is_merge,
            parent_count=self.parent_count,
            branches=self.branches,
        )


class CommitBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    commits: list[IngestedCommit] = Field(
        min_length=1,
        max_length=MAX_COMMITS,
        description="newest first, as `git log` lists them",
    )
    client_version: str | None = Field(
        default=None, max_length=100, description="the sender's name and version, for logs"
    )

    def rows(self) -> list[FeedRow]:
        """The feed rows, oldest first (as :func:`epicstar.feed.store` takes them)."""
        return [commit.row() for commit in reversed(self.commits)]

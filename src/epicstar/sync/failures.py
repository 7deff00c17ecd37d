"""What a failed pass means: retry later, give up on this repository, or stop the whole run."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from epicstar.data_dir import DISK_FULL_ERRNOS, disk_full_message
from epicstar.data_dir import SETTING as DATA_DIR_SETTING
from epicstar.destination import OneDevAuthError, OneDevError
from epicstar.discovery import GitHubAuthError, GitHubError, RateLimited
from epicstar.mirror.lfs.batch import LfsError
from epicstar.mirror.process import GitError, GitTimeout
from epicstar.mirror.rejections import PushRejected
from epicstar.state.models import Repository, SyncStatus
from epicstar.sync.visibility import MirrorWouldBeExposed


class ProjectConflict(Exception):
    """The OneDev project at the chosen path holds someone else's content."""


PUSH_STEPS = ("push", "wiki push")
"""The steps that push to OneDev, whose refusals say what OneDev wants."""


class StepFailed(Exception):
    """A git command failed during one step of a pass (``fetch`` from GitHub or ``push``)."""

    def __init__(self, step: str, error: GitError) -> None:
        super().__init__(f"{step}: {error}")
        self.step = step
        self.error = error


@dataclass(frozen=True)
class Failure:
    message: str
    permanent: bool = False
    fatal: bool = False  # the configuration is wrong: stop the run, nothing else can succeed
    retry_at: datetime | None = None
    unexpected: bool = False  # a bug rather than a condition: log its traceback


def classify(error: Exception) -> Failure:
    if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
        return Failure(disk_full_message(error), fatal=True)
    if isinstance(error, GitHubAuthError):
        return Failure(str(error), fatal=True)
    if isinstance(error, RateLimited):
        return Failure(str(error), retry_at=error.retry_at)
    if isinstance(error, OneDevAuthError):
        return Failure(str(error), permanent=True, fatal=error.status == 401)
    if isinstance(error, ProjectConflict | MirrorWouldBeExposed):
        return Failure(str(error), permanent=True)
    if isinstance(error, StepFailed):
        return _classify_git(error)
    if isinstance(error, LfsError):
        return _classify_lfs(error)
    if isinstance(error, GitHubError | OneDevError | GitError):
        return Failure(str(error))
    return Failure(f"unexpected error: {type(error).__name__}: {error}", unexpected=True)


def _classify_git(failed: StepFailed) -> Failure:
    if isinstance(failed.error, GitTimeout):
        return Failure(str(failed))
    stderr = failed.error.stderr
    full = failed.error.disk_full
    if full is not None:
        return Failure(
            f"{DATA_DIR_SETTING}: the disk is full: git {failed.step} could not write to the "
            f"cache ({full}); free space, then run epicstar sync again",
            fatal=True,
        )
    if failed.step in PUSH_STEPS:
        step = failed.step
        if "returned error: 401" in stderr:
            return Failure(
                f"{step}: OneDev rejected EPICSTAR_ONEDEV_TOKEN (401); check that it is valid",
                permanent=True,
                fatal=True,
            )
        if "returned error: 403" in stderr:
            return Failure(
                f"{step}: OneDev refused the push (403): the token's user needs the "
                "'Write Code' permission on this project",
                permanent=True,
            )
        if isinstance(failed.error, PushRejected) and failed.error.declined_by_hook:
            return Failure(
                f"{step}: OneDev refused {failed.error.refused}: a branch or tag protection "
                "rule of the project or a parent forbids it; change the rule in OneDev, then "
                "run epicstar sync --retry-failed",
                permanent=True,
            )
    return Failure(str(failed))


def _classify_lfs(error: LfsError) -> Failure:
    if error.server != "OneDev":
        return Failure(f"lfs: {error}")
    if error.status == 401:
        return Failure(
            f"lfs: {error}; check that EPICSTAR_ONEDEV_TOKEN is valid", permanent=True, fatal=True
        )
    if error.status == 403:
        return Failure(
            f"lfs: {error}; the token's user needs the 'Write Code' permission on this project",
            permanent=True,
        )
    return Failure(f"lfs: {error}")


RETRYABLE = (SyncStatus.FAILED, SyncStatus.PERMANENT_FAILURE)


def retry_afresh(row: Repository, due_at: datetime) -> None:
    """Give a failed repository its full count of attempts again, the next one at ``due_at``.

    It stays ``failed`` (no longer a permanent failure, so it is handed out again) and keeps
    its error, which the next pass replaces or clears.
    """
    row.sync_status = SyncStatus.FAILED
    row.retry_count = 0
    row.next_due_at = due_at


def backoff(attempt: int, *, base: int, cap: int) -> timedelta:
    """Exponential delay with ±20 % jitter for the ``attempt``-th consecutive failure."""
    return jittered(min(cap, base * 2 ** max(0, attempt - 1)))


def jittered(seconds: float) -> timedelta:
    """``seconds`` ± 20 %, so repositories added together do not stay in lockstep."""
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311 - not crypto

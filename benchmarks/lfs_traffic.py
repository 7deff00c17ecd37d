"""The Git LFS requests each contender makes, read from the sandbox's request logs.

The contenders run one after the other, so the log entries added while one runs are its own.
Bytes are counted by object: a transfer's URL ends with the oid it moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from epicstar.sandbox import LoggedRequest, Sandbox


@dataclass(frozen=True)
class LfsTraffic:
    """LFS requests answered by GitHub and by OneDev during one contender's run."""

    github_batch: int = 0
    github_download: int = 0
    github_download_bytes: int = 0
    onedev_batch: int = 0
    onedev_upload: int = 0
    onedev_upload_bytes: int = 0
    onedev_locks: int = 0
    onedev_download: int = 0

    @property
    def requests(self) -> int:
        return (
            self.github_batch
            + self.github_download
            + self.onedev_batch
            + self.onedev_upload
            + self.onedev_locks
            + self.onedev_download
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "github": {
                "batch": self.github_batch,
                "download": self.github_download,
                "download_bytes": self.github_download_bytes,
            },
            "onedev": {
                "batch": self.onedev_batch,
                "upload": self.onedev_upload,
                "upload_bytes": self.onedev_upload_bytes,
                "locks": self.onedev_locks,
                "download": self.onedev_download,
            },
            "requests": self.requests,
        }

    def summary(self) -> str:
        return (
            f"GitHub {self.github_batch} batch + {self.github_download} downloads "
            f"({_mib(self.github_download_bytes)}); OneDev {self.onedev_batch} batch + "
            f"{self.onedev_upload} uploads ({_mib(self.onedev_upload_bytes)}) + "
            f"{self.onedev_locks} locks"
            + (f" + {self.onedev_download} downloads" if self.onedev_download else "")
        )


class TrafficMeter:
    """Marks where the logs are, then tells what LFS traffic came after the mark."""

    def __init__(self, sandbox: Sandbox, sizes: Mapping[str, int]) -> None:
        self.sandbox = sandbox
        self.sizes = sizes  # oid -> bytes, of every object the repository references
        self._marks = (0, 0)

    def mark(self) -> None:
        self._marks = (len(self.sandbox.github.log), len(self.sandbox.onedev.log))

    def since_mark(self) -> LfsTraffic:
        github = self.sandbox.github.log.entries()[self._marks[0] :]
        onedev = self.sandbox.onedev.log.entries()[self._marks[1] :]
        return LfsTraffic(
            github_batch=_count(github, "batch"),
            github_download=_count(github, "download"),
            github_download_bytes=self._bytes(github, "download"),
            onedev_batch=_count(onedev, "batch"),
            onedev_upload=_count(onedev, "upload"),
            onedev_upload_bytes=self._bytes(onedev, "upload"),
            onedev_locks=_count(onedev, "locks"),
            onedev_download=_count(onedev, "download"),
        )

    def _bytes(self, entries: list[LoggedRequest], kind: str) -> int:
        return sum(
            self.sizes.get(entry.path.rsplit("/", 1)[-1], 0)
            for entry in entries
            if entry.lfs == kind and entry.status < 300
        )


def _count(entries: list[LoggedRequest], kind: str) -> int:
    return sum(1 for entry in entries if entry.lfs == kind)


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"

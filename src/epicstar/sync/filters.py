"""Which starred repositories to leave alone: the ``EPICSTAR_INCLUDE``… settings."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from epicstar.config import SourceSettings
from epicstar.discovery import Repository as SourceRepository


@dataclass(frozen=True)
class Filters:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    skip_forks: bool = False
    skip_archived: bool = False
    max_size_kb: int | None = None
    languages: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: SourceSettings) -> Filters:
        return cls(
            include=tuple(pattern.lower() for pattern in settings.include),
            exclude=tuple(pattern.lower() for pattern in settings.exclude),
            skip_forks=settings.skip_forks,
            skip_archived=settings.skip_archived,
            max_size_kb=settings.max_size_mb * 1024 if settings.max_size_mb else None,
            languages=frozenset(language.lower() for language in settings.languages),
        )

    def exclusion(self, repo: SourceRepository) -> str | None:
        """Why ``repo`` is filtered out, or None when it is to be mirrored."""
        name = repo.full_name.lower()
        if self.include and not any(fnmatchcase(name, pattern) for pattern in self.include):
            return "not matched by EPICSTAR_INCLUDE"
        for pattern in self.exclude:
            if fnmatchcase(name, pattern):
                return f"matched by EPICSTAR_EXCLUDE pattern '{pattern}'"
        if self.skip_forks and repo.fork:
            return "a fork (EPICSTAR_SKIP_FORKS)"
        if self.skip_archived and repo.archived:
            return "archived (EPICSTAR_SKIP_ARCHIVED)"
        if self.max_size_kb is not None and repo.size_kb > self.max_size_kb:
            return f"{repo.size_kb // 1024} MiB, over EPICSTAR_MAX_SIZE_MB"
        if self.languages and (repo.language or "").lower() not in self.languages:
            return f"language {repo.language or 'unknown'} not in EPICSTAR_LANGUAGES"
        return None

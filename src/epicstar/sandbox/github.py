"""GitHub stand-in: state, content helpers and the ASGI app (see :mod:`.github_app`).

``FakeGitHub`` keeps repositories as real bare git repositories under ``root`` (with their Git
LFS objects and their wikis) and their metadata in memory.  Tests mutate it directly (create,
commit, rename, delete, block, …) while the app (``FakeGitHub.app``) serves the REST API, git
smart HTTP and Git LFS from another thread.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.types import ASGIApp

from epicstar.sandbox import gitrepo
from epicstar.sandbox.github_model import (
    DMCA_NOTICE_URL,
    Block,
    GitHubRepo,
    RateLimit,
    RateLimiter,
    Star,
    TokenUser,
    utc,
)
from epicstar.sandbox.gitrepo import CommitSpec, FileContent
from epicstar.sandbox.lfs import LfsStore, MediaGrants, lfs_pointer, track_lfs
from epicstar.sandbox.reqlog import FaultInjector, ObservableServer, RequestLog

WIKI_BRANCH = "master"


class FakeGitHub(ObservableServer):
    """In-memory GitHub with real bare repositories on disk.

    ``tokens`` are the valid API/git tokens; each gets a user ``user1``, ``user2``, …
    Users star repositories with :meth:`star` / :meth:`star_many`; the app serves the lists
    as ``GET /user/starred`` and ``GET /users/{username}/starred``.
    """

    def __init__(self, root: Path, tokens: Iterable[str] = ()) -> None:
        self.root = Path(root)
        self.repos_dir = self.root / "repositories"
        self.repos_dir.mkdir(parents=True, exist_ok=True)
        self._template = self.root / "git-template"
        self._template.mkdir(exist_ok=True)
        self.lock = threading.RLock()
        self._by_id: dict[int, GitHubRepo] = {}
        self._by_name: dict[str, int] = {}  # lower-case full name -> id (live repos)
        self._redirects: dict[str, int] = {}  # lower-case old full name -> id
        self._deleted: dict[str, int] = {}  # lower-case full name -> id
        self._owner_ids: dict[str, int] = {}
        self._next_id = 100_000
        self._skeletons: dict[str, Path] = {}  # default branch -> empty bare repository
        self._stars: dict[str, dict[int, Star]] = {}  # lower-case login -> repo id -> star
        self._star_seq = 0
        self._last_star: datetime | None = None
        self.tokens: dict[str, TokenUser] = {}
        self.limits = RateLimiter()
        self.log = RequestLog()
        self.faults = FaultInjector(default_text_type="text/plain; charset=utf-8")
        self.lfs_grants = MediaGrants()
        for token in tokens:
            self.add_token(token)
        from epicstar.sandbox.github_app import build_app  # the app module imports this one

        self.app: ASGIApp = build_app(self)

    # ------------------------------------------------------------------ tokens, rate limits

    def add_token(self, token: str, login: str | None = None) -> TokenUser:
        with self.lock:
            user = TokenUser(login or f"user{len(self.tokens) + 1}", 1000 + len(self.tokens) + 1)
            self.tokens[token] = user
            return user

    def set_rate_limit(
        self,
        token: str | None,
        limit: int,
        remaining: int | None = None,
        reset: float | None = None,
    ) -> None:
        """Set the primary (core) limit of ``token`` (None: anonymous clients); ``reset`` is
        epoch seconds (default: an hour from now).  Once ``reset`` passes the bucket refills."""
        self.limits.set(token, limit, remaining, reset)

    def reset_rate_limits(self) -> None:
        """Forget every bucket (all back to the defaults: 5000 per token, 60 anonymous)."""
        self.limits.reset()

    def rate_limit(self, token: str | None) -> RateLimit:
        """A snapshot of the current bucket of ``token`` (None: anonymous)."""
        return self.limits.snapshot(token)

    # ------------------------------------------------------------------ lookup

    def find(self, full_name: str) -> GitHubRepo | None:
        """A live (not deleted) repository by current name, case-insensitively."""
        with self.lock:
            repo_id = self._by_name.get(full_name.lower())
            return self._by_id.get(repo_id) if repo_id is not None else None

    def find_redirect(self, full_name: str) -> GitHubRepo | None:
        """The live repository an old (renamed/transferred) name now points to."""
        with self.lock:
            if full_name.lower() in self._by_name:
                return None
            repo_id = self._redirects.get(full_name.lower())
            repo = self._by_id.get(repo_id) if repo_id is not None else None
            return repo if repo is not None and not repo.deleted else None

    def by_id(self, repo_id: int) -> GitHubRepo | None:
        with self.lock:
            repo = self._by_id.get(repo_id)
            return repo if repo is not None and not repo.deleted else None

    def repo(self, full_name: str) -> GitHubRepo:
        found = self.find(full_name)
        if found is None:
            raise KeyError(full_name)
        return found

    def repos(self) -> list[GitHubRepo]:
        with self.lock:
            return [r for r in self._by_id.values() if not r.deleted]

    def owner_id(self, login: str) -> int:
        with self.lock:
            return self._owner_ids.setdefault(login.lower(), 5000 + len(self._owner_ids) + 1)

    # ------------------------------------------------------------------ repository lifecycle

    def create_repo(
        self,
        owner: str,
        name: str,
        *,
        private: bool = False,
        description: str | None = None,
        default_branch: str = "main",
        archived: bool = False,
        fork: bool = False,
        empty: bool = False,
        id: int | None = None,
        topics: Iterable[str] = (),
        language: str | None = None,
    ) -> GitHubRepo:
        """Create a repository.  Unless ``empty`` it gets an initial commit on
        ``default_branch`` plus GitHub-style pull refs (``refs/pull/1/head``,
        ``refs/pull/1/merge``, ``refs/pull/2/head``) whose commits are on no branch."""
        full = f"{owner}/{name}"
        with self.lock:
            if full.lower() in self._by_name:
                raise ValueError(f"repository {full} already exists")
            repo_id = id if id is not None else self._allocate_id()
            if repo_id in self._by_id:
                raise ValueError(f"repository id {repo_id} already used")
            self._next_id = max(self._next_id, repo_id + 1)
        path = self.repos_dir / f"{repo_id}.git"
        self._init_bare(path, default_branch)
        now = time.time()
        repo = GitHubRepo(
            id=repo_id,
            owner=owner,
            name=name,
            path=path,
            private=private,
            description=description,
            default_branch=default_branch,
            archived=archived,
            fork=fork,
            created_at=now,
            updated_at=now,
            pushed_at=now,
            topics=list(topics),
            language=language,
        )
        if empty:
            repo.size_cache = 0  # no objects: what ``git count-objects`` says, without a process
        else:
            self._seed_content(repo)
        with self.lock:
            self.owner_id(owner)
            self._by_id[repo_id] = repo
            self._by_name[full.lower()] = repo_id
            self._redirects.pop(full.lower(), None)
        return repo

    def create_repos(
        self,
        owner: str,
        names: Iterable[str],
        *,
        private: bool = False,
        default_branch: str = "main",
    ) -> list[GitHubRepo]:
        """Bulk helper: empty repositories ``owner/<name>`` for every name (no git process
        per repository, so a thousand take well under a second)."""
        return [
            self.create_repo(
                owner, name, private=private, default_branch=default_branch, empty=True
            )
            for name in names
        ]

    def _init_bare(self, path: Path, default_branch: str) -> None:
        """``git init --bare`` once per branch name, then a copy of that skeleton for each
        repository (one git process per repository made creating thousands slow)."""
        with self.lock:
            skeleton = self._skeletons.get(default_branch)
            if skeleton is None:
                skeleton = self.root / "skeletons" / f"{len(self._skeletons)}.git"
                shutil.rmtree(skeleton, ignore_errors=True)
                gitrepo.init_bare(skeleton, default_branch, self._template)
                self._skeletons[default_branch] = skeleton
        shutil.copytree(skeleton, path, dirs_exist_ok=True)

    def _allocate_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _seed_content(self, repo: GitHubRepo) -> None:
        readme = f"# {repo.name}\n\n{repo.description or ''}\n"
        branch_ref = f"refs/heads/{repo.default_branch}"
        gitrepo.fast_import(
            repo.path,
            [
                CommitSpec(branch_ref, {"README.md": readme}, "Initial commit\n"),
                CommitSpec("refs/pull/1/head", {"feature.txt": "open PR\n"}, "PR 1\n", ":1"),
                CommitSpec(
                    "refs/pull/1/merge",
                    {"feature.txt": "open PR\n"},
                    "Merge PR 1\n",
                    ":1",
                    merge=(":2",),
                ),
                CommitSpec("refs/pull/2/head", {"closed.txt": "closed PR\n"}, "PR 2\n", ":1"),
            ],
        )

    def rename(self, old_full_name: str, new_full_name: str) -> GitHubRepo:
        """Rename and/or transfer; the old name then answers 301 (API) and keeps serving git."""
        new_owner, _, new_name = new_full_name.partition("/")
        with self.lock:
            repo = self.repo(old_full_name)
            clash = self._by_name.get(new_full_name.lower())
            if clash is not None and clash != repo.id:
                raise ValueError(f"repository {new_full_name} already exists")
            old_key = repo.full_name.lower()
            del self._by_name[old_key]
            self._redirects[old_key] = repo.id
            repo.owner, repo.name = new_owner, new_name
            self.owner_id(new_owner)
            self._by_name[new_full_name.lower()] = repo.id
            self._redirects.pop(new_full_name.lower(), None)
            self._touch(repo)
            return repo

    def delete(self, full_name: str) -> None:
        """Delete (404 from now on, its wiki and LFS objects too); the data is kept so
        :meth:`restore` can undo it."""
        with self.lock:
            repo = self.repo(full_name)
            repo.deleted = True
            key = repo.full_name.lower()
            del self._by_name[key]
            self._deleted[key] = repo.id

    def restore(self, full_name: str) -> GitHubRepo:
        with self.lock:
            key = full_name.lower()
            repo_id = self._deleted.pop(key, None)
            if repo_id is None:
                raise KeyError(full_name)
            if key in self._by_name:
                raise ValueError(f"repository {full_name} already exists")
            repo = self._by_id[repo_id]
            repo.deleted = False
            self._by_name[key] = repo_id
            self._touch(repo)
            return repo

    def purge(self, full_name: str) -> None:
        """Delete for good, including the bare repository on disk."""
        with self.lock:
            key = full_name.lower()
            repo_id = self._by_name.pop(key, None)
            if repo_id is None:
                repo_id = self._deleted.pop(key, None)
            if repo_id is None:
                raise KeyError(full_name)
            repo = self._by_id.pop(repo_id)
            for stars in self._stars.values():  # the id may be given to a new repository
                stars.pop(repo_id, None)
            repo.wiki = False
        shutil.rmtree(repo.path, ignore_errors=True)  # its LFS objects with it
        shutil.rmtree(repo.wiki_path, ignore_errors=True)

    def block(self, full_name: str, reason: str = "dmca", html_url: str | None = None) -> None:
        """Block for legal reasons: API 451 with a ``block`` object, git access refused."""
        with self.lock:
            repo = self.repo(full_name)
            repo.block = Block(reason, time.time(), html_url or DMCA_NOTICE_URL)
            self._touch(repo)

    def unblock(self, full_name: str) -> None:
        self._update(full_name, block=None)

    # ------------------------------------------------------------------ metadata

    def _touch(self, repo: GitHubRepo, *, pushed: bool = False) -> None:
        """Advance updated_at (and pushed_at) strictly, so ETags always change."""
        now = max(time.time(), repo.updated_at + 1)
        repo.updated_at = now
        if pushed:
            repo.pushed_at = max(time.time(), repo.pushed_at + 1)
            repo.size_cache = None

    def set_default_branch(self, full_name: str, branch: str) -> None:
        repo = self.repo(full_name)
        if gitrepo.resolve(repo.path, f"refs/heads/{branch}") is None:
            raise ValueError(f"branch {branch} does not exist in {full_name}")
        gitrepo.set_head(repo.path, branch)
        with self.lock:
            repo.default_branch = branch
            self._touch(repo)

    def _update(self, full_name: str, **changes: object) -> None:
        with self.lock:
            repo = self.repo(full_name)
            for name, value in changes.items():
                setattr(repo, name, value)
            self._touch(repo)

    def set_description(self, full_name: str, description: str | None) -> None:
        self._update(full_name, description=description)

    def set_archived(self, full_name: str, archived: bool = True) -> None:
        self._update(full_name, archived=archived)

    def set_private(self, full_name: str, private: bool = True) -> None:
        self._update(full_name, private=private)

    def set_disabled(self, full_name: str, disabled: bool = True) -> None:
        self._update(full_name, disabled=disabled)

    def set_topics(self, full_name: str, topics: Iterable[str]) -> None:
        self._update(full_name, topics=list(topics))

    # ------------------------------------------------------------------ content

    def refs(self, full_name: str) -> dict[str, str]:
        """Every ref (heads, tags, pull refs) -> object sha."""
        return gitrepo.list_refs(self.repo(full_name).path)

    def commit(
        self,
        full_name: str,
        branch: str,
        files: Mapping[str, FileContent],
        message: str = "Update files",
        parent: str | None = None,
    ) -> str:
        """Commit ``files`` (``None`` deletes a path) on top of ``parent`` — by default the
        branch tip, or the default branch tip when the branch is new — and move ``branch``
        there (creating it).  Returns the new commit sha."""
        repo = self.repo(full_name)
        parent = parent or self._parent_for(repo, branch)
        spec = CommitSpec(f"refs/heads/{branch}", files, message.rstrip("\n") + "\n", parent)
        sha = gitrepo.fast_import(repo.path, [spec])[0]
        with self.lock:
            self._touch(repo, pushed=True)
        return sha

    @staticmethod
    def _parent_for(repo: GitHubRepo, branch: str) -> str | None:
        """Where a new commit on ``branch`` goes: its tip, or the default branch's when the
        branch is new (None in an empty repository)."""
        return gitrepo.resolve(repo.path, f"refs/heads/{branch}") or gitrepo.resolve(
            repo.path, f"refs/heads/{repo.default_branch}"
        )

    def generate_history(
        self,
        full_name: str,
        branch: str | None = None,
        *,
        commits: int = 100,
        files_per_commit: int = 10,
        file_size: int = 512,
        seed: int = 0,
    ) -> str:
        """Bulk content for benchmarks: append ``commits`` commits (each adding
        ``files_per_commit`` distinct files) to ``branch`` in a single fast-import run."""
        repo = self.repo(full_name)
        branch = branch or repo.default_branch
        parent = gitrepo.resolve(repo.path, f"refs/heads/{branch}")
        sha = gitrepo.generate_history(
            repo.path,
            f"refs/heads/{branch}",
            parent,
            commits=commits,
            files_per_commit=files_per_commit,
            file_size=file_size,
            seed=seed,
        )
        with self.lock:
            self._touch(repo, pushed=True)
        return sha

    def reset_branch(self, full_name: str, branch: str, sha: str) -> None:
        """Point ``branch`` at ``sha`` (a force-push / history rewrite)."""
        repo = self.repo(full_name)
        gitrepo.update_refs(repo.path, {f"refs/heads/{branch}": sha})
        with self.lock:
            self._touch(repo, pushed=True)

    def delete_branch(self, full_name: str, branch: str) -> None:
        """Delete ``branch``; like GitHub, never the default branch (switch the default first)."""
        repo = self.repo(full_name)
        if branch == repo.default_branch:
            raise ValueError(f"{branch} is the default branch of {full_name}")
        gitrepo.update_refs(repo.path, {f"refs/heads/{branch}": None})
        with self.lock:
            self._touch(repo, pushed=True)

    def rename_branch(self, full_name: str, branch: str, new_name: str) -> None:
        """Rename ``branch`` as GitHub's "rename branch" does: the commit moves to
        ``new_name``, and a renamed default branch stays the default (API and git's HEAD)."""
        repo = self.repo(full_name)
        sha = gitrepo.resolve(repo.path, f"refs/heads/{branch}")
        if sha is None:
            raise ValueError(f"branch {branch} does not exist in {full_name}")
        if gitrepo.resolve(repo.path, f"refs/heads/{new_name}") is not None:
            raise ValueError(f"branch {new_name} already exists in {full_name}")
        gitrepo.update_refs(
            repo.path, {f"refs/heads/{new_name}": sha, f"refs/heads/{branch}": None}
        )
        with self.lock:
            if repo.default_branch == branch:
                gitrepo.set_head(repo.path, new_name)
                repo.default_branch = new_name
            self._touch(repo, pushed=True)

    def tag(
        self,
        full_name: str,
        tag: str,
        target: str,
        annotated: bool = True,
        message: str | None = None,
    ) -> str:
        """Tag ``target`` (a sha or branch name); returns the tag object or target sha."""
        repo = self.repo(full_name)
        rev = (
            target
            if gitrepo.is_sha(target) or target.startswith("refs/")
            else f"refs/heads/{target}"
        )
        sha = gitrepo.resolve(repo.path, rev)
        if sha is None:
            raise ValueError(f"{target} does not resolve in {full_name}")
        result = gitrepo.create_tag(
            repo.path, tag, sha, annotated=annotated, message=message or f"Release {tag}"
        )
        with self.lock:
            self._touch(repo, pushed=True)
        return result

    def delete_tag(self, full_name: str, tag: str) -> None:
        repo = self.repo(full_name)
        gitrepo.update_refs(repo.path, {f"refs/tags/{tag}": None})
        with self.lock:
            self._touch(repo, pushed=True)

    def add_pull_request(self, full_name: str, number: int, head_sha: str) -> dict[str, str]:
        """Create ``refs/pull/<n>/head`` (and ``/merge`` when the default branch exists)."""
        repo = self.repo(full_name)
        updates: dict[str, str | None] = {f"refs/pull/{number}/head": head_sha}
        base = gitrepo.resolve(repo.path, f"refs/heads/{repo.default_branch}")
        if base is not None:
            merge = gitrepo.merge_commit(repo.path, base, head_sha, f"Merge PR {number}")
            updates[f"refs/pull/{number}/merge"] = merge
        gitrepo.update_refs(repo.path, updates)
        return {k: v for k, v in updates.items() if v is not None}

    def size_kib(self, repo: GitHubRepo) -> int:
        """``size`` as the API reports it (cached until the content changes)."""
        cached = repo.size_cache
        if cached is None:
            cached = repo.size_cache = gitrepo.disk_usage_kib(repo.path)
        return cached

    # ------------------------------------------------------------------ Git LFS

    # Objects are files under the repository's ``lfs_path``; the app serves them through the
    # batch API (``<clone_url>/info/lfs/objects/batch``) and ``/_lfs-media/<oid>``.

    def commit_lfs(
        self,
        full_name: str,
        branch: str,
        files: Mapping[str, bytes],
        message: str = "Add LFS files",
        *,
        parent: str | None = None,
        store: bool = True,
    ) -> str:
        """Commit ``files`` as Git LFS pointer files (on top of ``parent``, as :meth:`commit`)
        with a root ``.gitattributes`` that tracks each path with ``filter=lfs`` (its other
        lines kept).  The objects go into the repository's LFS store unless ``store`` is
        False (then the batch API answers 404 for them).  Returns the new commit sha."""
        repo = self.repo(full_name)
        parent = parent or self._parent_for(repo, branch)
        objects = LfsStore(repo.lfs_path)
        content: dict[str, FileContent] = {}
        for path, data in files.items():
            content[path] = lfs_pointer(data)[2]
            if store:
                objects.put(data)
        attributes = b""
        if parent is not None:
            attributes = gitrepo.read_blob(repo.path, parent, ".gitattributes") or b""
        content[".gitattributes"] = track_lfs(attributes.decode(), files)
        return self.commit(full_name, branch, content, message, parent)

    def store_lfs_object(self, full_name: str, data: bytes) -> str:
        """Put ``data`` into the repository's LFS store (without committing a pointer); its
        oid."""
        return LfsStore(self.repo(full_name).lfs_path).put(data)

    def lfs_objects(self, full_name: str) -> dict[str, bytes]:
        """Every LFS object the repository stores, oid -> content."""
        return LfsStore(self.repo(full_name).lfs_path).objects()

    def remove_lfs_object(self, full_name: str, oid: str) -> None:
        """Drop one object from the store (KeyError if it is not there): the batch API then
        answers 404 for it."""
        if not LfsStore(self.repo(full_name).lfs_path).remove(oid):
            raise KeyError(oid)

    def set_lfs_over_quota(self, full_name: str, over: bool = True) -> None:
        """Make download batches answer 403 "over its data quota", as GitHub does once the
        account's LFS bandwidth is used up."""
        with self.lock:
            self.repo(full_name).lfs_over_quota = over

    def expire_lfs_tokens(self) -> None:
        """Make every download link of earlier batch answers stale (401 from now on)."""
        self.lfs_grants.expire_all()

    # ------------------------------------------------------------------ wikis

    # A wiki is a repository of its own, served at ``<owner>/<name>.wiki.git`` once it has a
    # page (an enabled wiki without pages has no git repository).  It shares its repository's
    # visibility, name (renames included) and fate, and never changes its refs or pushed_at.

    def create_wiki(
        self, full_name: str, pages: Mapping[str, str] | None = None, message: str = ""
    ) -> str:
        """Give the repository a wiki: a first commit on ``master`` with ``pages`` (file name ->
        text; default a ``Home.md``).  Returns the commit sha."""
        repo = self.repo(full_name)
        if repo.wiki:
            raise ValueError(f"{full_name} has a wiki already")
        if not repo.has_wiki:
            raise ValueError(f"the wiki of {full_name} is disabled")
        pages = pages if pages is not None else {"Home.md": f"Welcome to the {repo.name} wiki!\n"}
        shutil.rmtree(repo.wiki_path, ignore_errors=True)
        self._init_bare(repo.wiki_path, WIKI_BRANCH)
        spec = CommitSpec(
            f"refs/heads/{WIKI_BRANCH}", dict(pages), (message or "Initial Home page") + "\n"
        )
        sha = gitrepo.fast_import(repo.wiki_path, [spec])[0]
        with self.lock:
            repo.wiki = True
        return sha

    def edit_wiki(self, full_name: str, page: str, text: str | None, message: str = "") -> str:
        """Write (``None``: delete) one page of an existing wiki in a new commit on
        ``master``; the message defaults to GitHub's ("Updated Home (markdown)")."""
        repo = self.repo(full_name)
        if not repo.wiki:
            raise ValueError(f"{full_name} has no wiki")
        tip = gitrepo.resolve(repo.wiki_path, f"refs/heads/{WIKI_BRANCH}")
        title = Path(page).stem
        default = f"Updated {title} (markdown)" if text is not None else f"Destroyed {title}"
        spec = CommitSpec(
            f"refs/heads/{WIKI_BRANCH}", {page: text}, (message or default) + "\n", tip
        )
        return gitrepo.fast_import(repo.wiki_path, [spec])[0]

    def delete_wiki(self, full_name: str) -> None:
        """Remove the wiki's repository (every page deleted); git then answers as for a
        missing repository."""
        repo = self.repo(full_name)
        with self.lock:
            repo.wiki = False
        shutil.rmtree(repo.wiki_path, ignore_errors=True)

    def wiki_refs(self, full_name: str) -> dict[str, str]:
        """The wiki's refs ({} when there is no wiki)."""
        repo = self.repo(full_name)
        return gitrepo.list_refs(repo.wiki_path) if repo.wiki else {}

    def set_has_wiki(self, full_name: str, enabled: bool = True) -> None:
        """Enable or disable the wiki (``has_wiki``); a disabled wiki is not served, its pages
        are kept for when it is enabled again."""
        self._update(full_name, has_wiki=enabled)

    # ------------------------------------------------------------------ stars

    # Stars belong to the repository id, so they follow renames and transfers.  A deleted
    # repository drops out of every starred list (the star is kept, so :meth:`restore` brings
    # it back; :meth:`purge` forgets it).  A blocked (451) repository stays listed: GitHub
    # does not document what its starred lists do with one, and keeping it is the choice
    # that lets a client notice the block.  Logins are case-insensitive, like GitHub's.

    def star(self, login: str, full_name: str, starred_at: datetime | None = None) -> datetime:
        """``login`` stars the live repository ``full_name`` (KeyError if there is none) and
        gets its ``starred_at``.  By default that is now, or one second after the previous
        star if that is not later (whole seconds, strictly increasing across calls, so the
        order is deterministic and every timestamp distinct).  Starring again keeps the
        original time unless ``starred_at`` is given (a naive datetime is taken as UTC)."""
        with self.lock:
            return self._star(login, self.repo(full_name), starred_at)

    def star_many(self, login: str, full_names: Iterable[str]) -> list[datetime]:
        """Bulk :meth:`star` (for example 1,000 stars for a paging test); returns each name's
        ``starred_at``.  The new stars get strictly increasing whole seconds ending now (back-
        dated so a big batch does not reach into the future), still after every earlier star;
        names already starred keep their time.  KeyError (nothing starred) if one is missing."""
        with self.lock:
            repos = [self.repo(name) for name in full_names]
            mine = self._stars.get(login.lower(), {})
            fresh: dict[int, GitHubRepo] = {}
            for repo in repos:
                if repo.id not in mine:
                    fresh.setdefault(repo.id, repo)
            if fresh:
                start = _whole_second(datetime.now(UTC)) - timedelta(seconds=len(fresh) - 1)
                if self._last_star is not None:
                    start = max(start, _whole_second(self._last_star) + timedelta(seconds=1))
                for offset, repo in enumerate(fresh.values()):
                    self._star(login, repo, start + timedelta(seconds=offset))
            mine = self._stars.get(login.lower(), {})
            return [mine[repo.id].starred_at for repo in repos]

    def _star(self, login: str, repo: GitHubRepo, starred_at: datetime | None) -> datetime:
        mine = self._stars.setdefault(login.lower(), {})
        existing = mine.get(repo.id)
        if existing is not None and starred_at is None:
            return existing.starred_at
        if starred_at is None:
            when = _whole_second(datetime.now(UTC))
            if self._last_star is not None and when <= self._last_star:
                when = _whole_second(self._last_star) + timedelta(seconds=1)
        else:
            when = utc(starred_at)
        self._star_seq += 1
        mine[repo.id] = Star(repo.id, when, self._star_seq)
        if self._last_star is None or when > self._last_star:
            self._last_star = when
        if existing is None:
            repo.stargazers_count += 1
        return when

    def unstar(self, login: str, full_name: str) -> bool:
        """``login`` unstars the live repository ``full_name`` (KeyError if there is none);
        False when it was not starred (like GitHub, unstarring twice is no error)."""
        with self.lock:
            repo = self.repo(full_name)
            star = self._stars.get(login.lower(), {}).pop(repo.id, None)
            if star is None:
                return False
            repo.stargazers_count = max(repo.stargazers_count - 1, 0)
            return True

    def stars(self, login: str) -> list[tuple[GitHubRepo, datetime]]:
        """``login``'s starred repositories, oldest star first (ties: starring order), with
        ``starred_at``; deleted repositories are left out, private and blocked ones are not
        (the API filters what a caller may see)."""
        with self.lock:
            mine = sorted(
                self._stars.get(login.lower(), {}).values(),
                key=lambda star: (star.starred_at, star.seq),
            )
            result: list[tuple[GitHubRepo, datetime]] = []
            for star in mine:
                repo = self._by_id.get(star.repo_id)
                if repo is not None and not repo.deleted:
                    result.append((repo, star.starred_at))
            return result

    def user_exists(self, login: str) -> bool:
        """Whether ``/users/{login}`` exists here: a token's user, a repository owner (ever),
        or someone who has starred something."""
        key = login.lower()
        with self.lock:
            return (
                key in self._owner_ids
                or key in self._stars
                or any(user.login.lower() == key for user in self.tokens.values())
            )


def _whole_second(when: datetime) -> datetime:
    return when.replace(microsecond=0)

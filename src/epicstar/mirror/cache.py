"""A persistent bare repository per mirrored repository: the only place git objects live.

Only ``refs/heads/*`` and ``refs/tags/*`` are ever fetched or pushed. Fetch and push use
explicit refspecs with ``--prune`` and force, so new, rewritten and deleted branches and tags
end up exactly as upstream, GitHub's ``refs/pull/*`` never enter, and OneDev's own
``refs/pulls/*`` and ``refs/updates/*`` are never touched.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from epicstar.mirror.credentials import HttpAuth
from epicstar.mirror.process import GitCancelled, GitError, GitResult, base_environment, run_git
from epicstar.mirror.rejections import rejected

MIRRORED_NAMESPACES = ("refs/heads/", "refs/tags/")
REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")

# Settings for every git command epicstar runs, passed in the environment so the cache's
# config file stays git's default. No credential helper may store or offer anything;
# stalled transfers abort instead of hanging until the deadline. git's automatic gc is off:
# once a repository has 50 packs it repacks everything into one, a cost that grows with the
# whole history, inside whichever fetch happened to cross the line. The cache tidies itself
# instead (:meth:`RepoCache.tidy`), at a cost that grows with what was fetched.
_COMMON_CONFIG = {
    "credential.helper": "",
    "core.askPass": "",
    "http.lowSpeedLimit": "1000",
    "http.lowSpeedTime": "120",
    "protocol.version": "2",
    "core.logAllRefUpdates": "false",
    "gc.auto": "0",
    "maintenance.auto": "false",
    "fetch.writeCommitGraph": "false",
}
PACKS_BEFORE_TIDYING = 24
"""Packs a cache may hold before :meth:`RepoCache.tidy` merges the small ones."""
LOOSE_REFS_BEFORE_PACKING = 100
"""Refs a cache may hold as files of their own before :meth:`RepoCache.tidy` packs them (a
fetch writes each new branch or tag as a file; git's gc would pack them)."""
LOOSE_BEFORE_TIDYING = 27
"""Loose objects in one of the 256 object directories (``objects/17``, as git samples it)
before :meth:`RepoCache.tidy` packs them: about 6,900 in all, git's own ``gc.auto`` line."""
_FOREIGN = "refs/epicstar-foreign/"
"""Where :meth:`RepoCache.fetch_objects` puts another remote's refs for a moment."""
_LOCK_FILES = ("packed-refs.lock", "shallow.lock", "config.lock", "HEAD.lock", "index.lock")

Refs = dict[str, str]


@dataclass(frozen=True)
class Advertisement:
    """What a remote offers: its branches and tags, and the branch its HEAD names."""

    refs: Refs
    head: str | None
    """None when HEAD names no branch, or the server does not say."""


@dataclass(frozen=True)
class PushResult:
    changed: int
    output: str


class RepoCache:
    """The bare cache of one repository, at ``path``."""

    def __init__(
        self,
        path: Path,
        *,
        timeout: float,
        redact: Sequence[str] = (),
        cancel: threading.Event | None = None,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self._redact = tuple(redact)
        self._cancel = cancel
        self._lock_fd: int | None = None

    @contextmanager
    def locked(self, wait: float) -> Iterator[None]:
        """Hold the cache's lock file while working in it.

        Every git command started meanwhile inherits the lock, so if this process dies (a
        worker killed with SIGKILL) the lock stays held until its orphaned git exits too,
        and nobody clears lock files or fetches under a git still at work.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if self._cancel is not None and self._cancel.is_set():
                        raise GitCancelled("the service is shutting down") from None
                    if time.monotonic() > deadline:
                        raise GitError(
                            f"the cache {self.path.name} is still in use by another git "
                            "(perhaps one left by a worker that died); retrying later"
                        ) from None
                    time.sleep(0.2)
            self._lock_fd = fd
            yield
        finally:
            self._lock_fd = None
            os.close(fd)

    @property
    def lock_fd(self) -> int | None:
        """The lock's file descriptor while :meth:`locked` holds it: a git process started
        elsewhere (``git http-backend``) inherits it, as the cache's own commands do."""
        return self._lock_fd

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return (self.path / "objects").is_dir() and (self.path / "HEAD").is_file()

    def ensure(self) -> None:
        """Create the cache if needed and clear what an interrupted command left behind."""
        if not self.exists:
            if self.path.exists():
                shutil.rmtree(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._git(["init", "--quiet", "--bare", str(self.path)], cwd=self.path.parent)
        self.remove_stale_locks()

    def remove_stale_locks(self) -> None:
        """Delete lock and temporary files left by a killed git.

        Only safe while the caller holds the repository's lease, so no other git process
        can be working in this cache.
        """
        for name in _LOCK_FILES:
            (self.path / name).unlink(missing_ok=True)
        # os.walk and os.scandir: this runs before every pass, and pathlib's globbing costs
        # more than the ls-remote of an unchanged repository.
        for directory, _, files in os.walk(self.path / "refs"):
            for name in files:
                if name.endswith(".lock"):
                    os.unlink(os.path.join(directory, name))
        for directory, prefix in (("objects/pack", "tmp_"), ("objects", "incoming-")):
            try:
                entries = list(os.scandir(self.path / directory))
            except FileNotFoundError:
                continue
            for entry in entries:
                if not entry.name.startswith(prefix):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)

    # -- reading ---------------------------------------------------------------------------

    def local_refs(self) -> Refs:
        """The cache's branches and tags; none for a cache not made yet."""
        if not self.exists:
            return {}
        result = self._git(
            ["for-each-ref", "--format=%(objectname) %(refname)", *MIRRORED_NAMESPACES]
        )
        return _parse_refs(result.stdout, separator=" ")

    def remote_refs(self, url: str, auth: HttpAuth | None) -> Refs:
        """Branches and tags the remote advertises (peeled tag lines left out)."""
        return remote_refs(
            url,
            auth,
            timeout=self.timeout,
            redact=self._redact,
            cwd=self.path,
            cancel=self._cancel,
        )

    def advertisement(self, url: str, auth: HttpAuth | None) -> Advertisement:
        """Branches, tags and HEAD's branch of ``url``, asked from this cache (whose config
        is git's default): one ``git ls-remote``."""
        return advertisement(
            url,
            auth,
            timeout=self.timeout,
            redact=self._redact,
            cwd=self.path,
            cancel=self._cancel,
        )

    def object_bytes(self) -> int:
        total = 0
        for directory, _subdirs, files in os.walk(self.path / "objects"):
            for name in files:
                try:
                    total += os.stat(os.path.join(directory, name)).st_size
                except FileNotFoundError:
                    continue
        return total

    def leaves_behind(self, old: str, new: str) -> bool:
        """Whether moving a branch from ``old`` to ``new`` leaves commits behind (not a fast
        forward). One git process, cheap when ``new`` descends from ``old``; when their
        histories share nothing git walks both whole, whatever ``--max-count`` says."""
        return bool(self._git(["rev-list", "--max-count=1", old, "--not", new]).stdout.strip())

    def count_commits(self, tips: Sequence[str], exclude: Sequence[str]) -> int:
        """Commits reachable from ``tips`` but not from ``exclude``.

        Tags may point at trees or blobs: such refs have no commits and are left out. Two git
        processes whatever the number of refs.
        """
        commits = self.peel_to_commits([*tips, *exclude])
        wanted = sorted({commit for sha in tips if (commit := commits[sha])})
        if not wanted:
            return 0
        unwanted = sorted({commit for sha in exclude if (commit := commits[sha])})
        revisions = "".join(f"{sha}\n" for sha in wanted) + "".join(f"^{sha}\n" for sha in unwanted)
        result = self._git(["rev-list", "--count", "--stdin"], stdin=revisions)
        return int(result.stdout.strip() or 0)

    def peel_to_commits(self, shas: Sequence[str]) -> dict[str, str | None]:
        """The commit each object name leads to, or None (a tree, a blob, or missing)."""
        unique = sorted(set(shas))
        if not unique:
            return {}
        result = self._git(
            ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
            stdin="".join(f"{sha}^{{commit}}\n" for sha in unique),
        )
        answers = result.stdout.splitlines()
        peeled: dict[str, str | None] = {}
        for sha, answer in zip(unique, answers, strict=True):
            name, _, kind = answer.partition(" ")
            peeled[sha] = name if kind == "commit" else None
        return peeled

    def missing(self, shas: Sequence[str]) -> set[str]:
        """The objects among ``shas`` the cache does not hold."""
        unique = sorted(set(shas))
        if not unique:
            return set()
        result = self._git(["cat-file", "--batch-check"], stdin="".join(f"{s}\n" for s in unique))
        return {line.split()[0] for line in result.stdout.splitlines() if line.endswith(" missing")}

    def fetch_objects(self, url: str, auth: HttpAuth | None) -> None:
        """Bring the objects of ``url``'s branches and tags into the cache, its refs unchanged.

        They are fetched under a namespace of their own, which is removed afterwards: the
        objects stay (unreferenced, so a later gc may drop them).
        """
        self._git(
            [
                "fetch",
                "--quiet",
                "--force",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                url,
                *(spec.replace(":refs/", f":{_FOREIGN}") for spec in REFSPECS),
            ],
            auth=auth,
        )
        names = self._git(["for-each-ref", "--format=delete %(refname)", _FOREIGN]).stdout
        if names:
            self._git(["update-ref", "--stdin"], stdin=names)

    def create_refs(self, refs: Mapping[str, str]) -> None:
        """Create ``refs`` (name: object) at once, all or none; an existing name is an error."""
        self._update_refs("create", refs)

    def set_refs(self, refs: Mapping[str, str]) -> None:
        """Point each of ``refs`` (name: object) at its object, created or moved, all at once."""
        self._update_refs("update", refs)

    def _update_refs(self, command: str, refs: Mapping[str, str]) -> None:
        if refs:
            lines = "".join(f"{command} {name} {sha}\n" for name, sha in refs.items())
            self._git(["update-ref", "--stdin"], stdin=lines)

    def git_output(self, args: Sequence[str], *, stdin: str | None = None) -> str:
        """What a read-only git command prints in this cache."""
        return self._git(args, stdin=stdin).stdout

    def git_bytes(self, args: Sequence[str], *, stdin: str | None = None) -> bytes:
        """What a read-only git command prints in this cache, byte for byte."""
        return self._git(args, stdin=stdin).raw_stdout

    # -- transferring ------------------------------------------------------------------------

    def fetch(self, url: str, auth: HttpAuth | None) -> None:
        """Make the cache's branches and tags exactly those of ``url``."""
        self._git(
            [
                "fetch",
                "--quiet",
                "--prune",
                "--force",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                url,
                *REFSPECS,
            ],
            auth=auth,
        )
        self.tidy()

    def tidy(self) -> bool:
        """Merge the small packs (and the loose objects) once there are many, and pack the
        refs once many are files of their own; whether it did anything.

        A geometric repack leaves the big packs alone and rolls small ones together until
        each pack is at least twice the size of the next smaller one, so each fetch's objects
        are rewritten a few times in all, never the whole history at once.
        """
        pack_dir = self.path / "objects" / "pack"
        packs = sum(1 for _ in pack_dir.glob("*.pack")) if pack_dir.is_dir() else 0
        sample = self.path / "objects" / "17"
        loose = sum(1 for _ in sample.iterdir()) if sample.is_dir() else 0
        loose_refs = sum(len(files) for _, _, files in os.walk(self.path / "refs"))
        tidied = False
        if loose_refs > LOOSE_REFS_BEFORE_PACKING:
            self._git(["pack-refs", "--all", "--prune"])
            tidied = True
        if packs > PACKS_BEFORE_TIDYING or loose > LOOSE_BEFORE_TIDYING:
            self._git(["repack", "--geometric=2", "-d", "--quiet"])  # -d: loose copies go too
            tidied = True
        return tidied

    def push(
        self,
        url: str,
        auth: HttpAuth | None,
        *,
        prune: bool = True,
        keep: Sequence[str] = (),
    ) -> PushResult:
        """Make ``url``'s branches and tags exactly the cache's, leaving other refs alone, and
        the branches named in ``keep`` too (restored history lives there).

        Without ``prune`` only creations and updates are pushed. Raises :class:`PushRejected`
        when the remote refuses refs (those it accepted stay updated).
        """
        options = ["--force", *(["--prune"] if prune else [])]
        spared = [f"^refs/heads/{branch}" for branch in keep]
        result = self._push([*options, url, *REFSPECS, *spared], auth)
        return PushResult(changed=_count_pushed(result.stdout), output=result.stdout)

    def push_branch(self, url: str, auth: HttpAuth | None, branch: str, sha: str | None) -> None:
        """Point ``branch`` at ``url`` to ``sha`` (created or moved); delete it for None."""
        spec = f"+{sha}:refs/heads/{branch}" if sha else f":refs/heads/{branch}"
        self._push([url, spec], auth)

    def _push(self, args: Sequence[str], auth: HttpAuth | None) -> GitResult:
        """``git push --porcelain --no-verify <args>``; raises :class:`PushRejected` when the
        remote refuses refs."""
        try:
            return self._git(["push", "--porcelain", "--no-verify", *args], auth=auth)
        except GitError as error:
            refused = rejected(error)
            if refused is None:
                raise
            raise refused from error

    # -- plumbing --------------------------------------------------------------------------

    def _git(
        self,
        args: Sequence[str],
        *,
        auth: HttpAuth | None = None,
        cwd: Path | None = None,
        stdin: str | None = None,
    ) -> GitResult:
        return _git(
            args,
            auth=auth,
            cwd=cwd or self.path,
            timeout=self.timeout,
            redact=self._redact,
            stdin=stdin,
            pass_fds=() if self._lock_fd is None else (self._lock_fd,),
            cancel=self._cancel,
        )


def remote_refs(
    url: str,
    auth: HttpAuth | None,
    *,
    timeout: float,
    redact: Sequence[str] = (),
    cwd: Path | None = None,
    cancel: threading.Event | None = None,
) -> Refs:
    """Branches and tags ``url`` advertises: one ``git ls-remote``, no repository needed."""
    result = _git(
        ["ls-remote", "--heads", "--tags", "--refs", url],
        auth=auth,
        cwd=cwd,
        timeout=timeout,
        redact=redact,
        cancel=cancel,
    )
    return _parse_refs(result.stdout, separator="\t")


def advertisement(
    url: str,
    auth: HttpAuth | None,
    *,
    timeout: float,
    redact: Sequence[str] = (),
    cwd: Path | None = None,
    cancel: threading.Event | None = None,
) -> Advertisement:
    """Branches and tags ``url`` advertises, and its HEAD's branch: one ``git ls-remote``."""
    result = _git(
        ["ls-remote", "--symref", url, "HEAD", "refs/heads/*", "refs/tags/*"],
        auth=auth,
        cwd=cwd,
        timeout=timeout,
        redact=redact,
        cancel=cancel,
    )
    head = None
    for line in result.stdout.splitlines():
        target, _, name = line.partition("\t")
        if name == "HEAD" and target.startswith("ref: refs/heads/"):
            head = target.removeprefix("ref: refs/heads/")
    return Advertisement(_parse_refs(result.stdout, separator="\t"), head)


def _git(
    args: Sequence[str],
    *,
    auth: HttpAuth | None,
    cwd: Path | None,
    timeout: float,
    redact: Sequence[str],
    stdin: str | None = None,
    pass_fds: Sequence[int] = (),
    cancel: threading.Event | None = None,
) -> GitResult:
    config = dict(_COMMON_CONFIG)
    masked = list(redact)
    if auth is not None:
        config.update(auth.git_config())
        masked.append(auth.header)
    env = base_environment(config)
    return run_git(
        args,
        cwd=cwd,
        env=env,
        timeout=timeout,
        redact=masked,
        stdin=stdin,
        pass_fds=pass_fds,
        cancel=cancel,
    )


def _parse_refs(output: str, *, separator: str) -> Refs:
    refs: Refs = {}
    for line in output.splitlines():
        sha, _, name = line.partition(separator)
        if name.startswith(MIRRORED_NAMESPACES) and not name.endswith("^{}"):
            refs[name] = sha
    return refs


def _count_pushed(porcelain: str) -> int:
    """Refs a ``push --porcelain`` changed: new, updated, forced or deleted."""
    changed = 0
    for line in porcelain.splitlines():
        if len(line) > 1 and line[1] == "\t" and line[0] in " +-*":
            changed += 1
    return changed


def diff_refs(before: Mapping[str, str], after: Mapping[str, str]) -> int:
    """How many refs were created, moved or deleted between two snapshots."""
    names = set(before) | set(after)
    return sum(1 for name in names if before.get(name) != after.get(name))

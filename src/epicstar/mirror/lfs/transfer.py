"""Moving LFS objects: from the source into the cache, and on from the cache to the mirror.

Objects move :data:`CONCURRENT` at a time (git-lfs's default), each checked against its
SHA-256 on arrival and sent on to the mirror as soon as it is in. An object that cannot move
for a reason of its own (the server lost it, it is too large) is reported missing and the
others go on; a failure of a server or the network as a whole is raised once the transfers
under way have finished, so what arrived stays and a retry moves only the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO

import httpx

from epicstar.mirror.lfs.batch import (
    BATCH_SIZE,
    MEDIA_TYPE,
    Action,
    BatchClient,
    LfsError,
    LfsQuotaExceeded,
    ObjectAnswer,
)
from epicstar.mirror.lfs.pointers import Pointer
from epicstar.mirror.lfs.store import LfsStore, ObjectMismatch

CONCURRENT = 8
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Missing:
    """An object referenced but not moved, and why."""

    pointer: Pointer
    reason: str


@dataclass
class Moved:
    """What one direction of a transfer did."""

    objects: int = 0
    bytes: int = 0
    missing: list[Missing] = field(default_factory=list)
    refused: str | None = None
    """Why the server refused the transfer as a whole (GitHub's LFS quota, say)."""
    quota_exceeded: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, size: int) -> None:
        with self._lock:
            self.objects += 1
            self.bytes += size


@dataclass
class Relayed:
    """What a relay did: objects fetched from the source, and pushed to the mirror."""

    fetched: Moved = field(default_factory=Moved)
    pushed: Moved = field(default_factory=Moved)


@dataclass(frozen=True)
class _Task:
    pointer: Pointer
    fetch: Action | None
    send: Action | None
    verify: Action | None


def relay(
    source: BatchClient,
    target: BatchClient,
    store: LfsStore,
    pointers: Sequence[Pointer],
    *,
    stopping: threading.Event,
) -> Relayed:
    """Fetch the objects of ``pointers`` the store lacks, and send the mirror those it lacks.

    The mirror is asked first which objects it lacks, so each object goes on to it as soon as
    it has arrived: the two directions overlap instead of following each other.
    """
    relayed = Relayed()
    for group in _groups(pointers):
        tasks = _plan(source, target, store, group, relayed)
        if tasks:
            _carry_out(
                tasks,
                source=source,
                target=target,
                store=store,
                relayed=relayed,
                stopping=stopping,
            )
    return relayed


def _plan(
    source: BatchClient,
    target: BatchClient,
    store: LfsStore,
    group: Sequence[Pointer],
    relayed: Relayed,
) -> list[_Task]:
    """One batch request to each side for ``group``; what is to be moved, and what cannot."""
    uploads = _by_oid(target.batch("upload", [(p.oid, p.size) for p in group]))
    lacking = [p for p in group if not store.has(p.oid, p.size)]
    downloads = _download_answers(source, lacking, relayed.fetched)
    tasks = []
    for pointer in group:
        fetch = None
        if pointer in lacking:
            fetch = _action_or_missing(pointer, downloads, relayed.fetched, source, "download")
            if fetch is None:
                continue
        up = uploads.get(pointer.oid)
        send = _action_or_missing(pointer, uploads, relayed.pushed, target, "upload")
        verify = up.verify if up is not None else None
        if fetch is not None or send is not None:
            tasks.append(_Task(pointer, fetch, send, verify))
    return tasks


def _download_answers(
    source: BatchClient, lacking: Sequence[Pointer], fetched: Moved
) -> dict[str, ObjectAnswer]:
    """The source's answers for ``lacking``; none when it refuses them all (its LFS quota,
    say), each then noted missing with why."""
    if not lacking:
        return {}
    try:
        return _by_oid(source.batch("download", [(p.oid, p.size) for p in lacking]))
    except LfsError as refusal:
        if refusal.transient:
            raise
        fetched.quota_exceeded = fetched.quota_exceeded or isinstance(refusal, LfsQuotaExceeded)
        fetched.refused = (
            f"the repository is over its GitHub LFS quota ({refusal})"
            if isinstance(refusal, LfsQuotaExceeded)
            else str(refusal)
        )
        fetched.missing.extend(Missing(p, fetched.refused) for p in lacking)
        return {}


def _action_or_missing(
    pointer: Pointer,
    answers: dict[str, ObjectAnswer],
    moved: Moved,
    client: BatchClient,
    operation: str,
) -> Action | None:
    """The action the server gave for ``pointer``; None, noted missing when it must have
    one (a download) or refused it. An upload without action: the server has it already."""
    if moved.refused is not None and operation == "download":
        return None  # noted missing with the refusal
    answer = answers.get(pointer.oid)
    if answer is None:
        moved.missing.append(Missing(pointer, f"{client.server} did not answer for it"))
        return None
    if answer.error is not None:
        moved.missing.append(Missing(pointer, _refused(client.server, operation, answer)))
        return None
    if answer.action is None and operation == "download":
        moved.missing.append(Missing(pointer, f"{client.server} gave no way to download it"))
    return answer.action


def _carry_out(
    tasks: Sequence[_Task],
    *,
    source: BatchClient,
    target: BatchClient,
    store: LfsStore,
    relayed: Relayed,
    stopping: threading.Event,
) -> None:
    """Each task in a pool: fetch, then send on; a failure of a whole server is raised once
    the tasks under way have ended."""

    def move(task: _Task) -> None:
        if stopping.is_set():
            raise LfsError("the service is shutting down")
        if task.fetch is not None and not _fetch(source, store, task, relayed.fetched, stopping):
            return
        sent = task.send is not None and _send(target, store, task, relayed.pushed, stopping)
        if sent and task.verify is not None:
            _verify(target, task.pointer, task.verify)

    with ThreadPoolExecutor(max_workers=min(CONCURRENT, len(tasks))) as pool:
        failures = [error for error in pool.map(_error_of(move), tasks) if error is not None]
    if failures:
        raise failures[0]


def _error_of(move: Callable[[_Task], None]) -> Callable[[_Task], BaseException | None]:
    def attempt(task: _Task) -> BaseException | None:
        try:
            move(task)
        except Exception as error:  # collected, then the first is raised
            return error
        return None

    return attempt


def _fetch(
    client: BatchClient, store: LfsStore, task: _Task, moved: Moved, stopping: threading.Event
) -> bool:
    """Download one object into the store; whether it arrived."""
    pointer, action = task.pointer, task.fetch
    assert action is not None
    try:
        with client.http.stream("GET", action.href, headers=client.headers_for(action)) as answer:
            if answer.status_code != 200:
                answer.read()
                _note_refusal(client, answer, "download", pointer, moved)
                return False
            store.receive(pointer.oid, pointer.size, _chunks(answer, stopping))
    except ObjectMismatch:
        moved.missing.append(
            Missing(pointer, f"{client.server} served other bytes than its pointer names")
        )
        return False
    except httpx.TransportError as error:
        raise LfsError(f"{client.server} could not be reached: {error}", transient=True) from error
    moved.count(pointer.size)
    return True


def _send(
    client: BatchClient, store: LfsStore, task: _Task, moved: Moved, stopping: threading.Event
) -> bool:
    """Upload one object from the store; whether the server took it."""
    pointer, action = task.pointer, task.send
    assert action is not None
    headers = {
        **client.headers_for(action),
        "Content-Type": "application/octet-stream",
        "Content-Length": str(pointer.size),
    }
    try:
        with store.path(pointer.oid).open("rb") as file:
            answer = client.http.put(
                action.href, content=_file_chunks(file, stopping), headers=headers
            )
    except httpx.TransportError as error:
        raise LfsError(f"{client.server} could not be reached: {error}", transient=True) from error
    if answer.status_code not in (200, 201):
        _note_refusal(client, answer, "upload", pointer, moved)
        return False
    moved.count(pointer.size)
    return True


def _verify(client: BatchClient, pointer: Pointer, action: Action) -> None:
    headers = {**client.headers_for(action), "Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
    try:
        answer = client.http.post(
            action.href, json={"oid": pointer.oid, "size": pointer.size}, headers=headers
        )
    except httpx.TransportError as error:
        raise LfsError(f"{client.server} could not be reached: {error}", transient=True) from error
    if answer.status_code != 200:
        raise client.refusal(answer, f"verification of {pointer.oid}")


def _note_refusal(
    client: BatchClient, answer: httpx.Response, what: str, pointer: Pointer, moved: Moved
) -> None:
    """A transfer the server refused: the object is missing, unless the refusal is the
    server's or the credentials' as a whole, which is raised."""
    refusal = client.refusal(answer, what)
    if refusal.transient or refusal.status in (401, 403):
        raise refusal
    moved.missing.append(Missing(pointer, str(refusal)))


def _by_oid(answers: Sequence[ObjectAnswer]) -> dict[str, ObjectAnswer]:
    return {answer.oid: answer for answer in answers}


def _refused(server: str, operation: str, answer: ObjectAnswer) -> str:
    code = answer.error_code
    if operation == "download" and code == 404:
        return f"{server} does not have it (404: {answer.error})"
    return f"{server} refused the {operation} ({code}: {answer.error})"


def _groups(pointers: Sequence[Pointer]) -> Iterator[Sequence[Pointer]]:
    for start in range(0, len(pointers), BATCH_SIZE):
        yield pointers[start : start + BATCH_SIZE]


def _chunks(answer: httpx.Response, stopping: threading.Event) -> Iterator[bytes]:
    for chunk in answer.iter_bytes(_CHUNK):
        if stopping.is_set():
            raise LfsError("the service is shutting down")
        yield chunk


def _file_chunks(file: BinaryIO, stopping: threading.Event) -> Iterator[bytes]:
    while chunk := file.read(_CHUNK):
        if stopping.is_set():
            raise LfsError("the service is shutting down")
        yield chunk

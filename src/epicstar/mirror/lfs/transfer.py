"""Moving LFS objects: from the source into the cache, and from the cache to the mirror.

Objects move :data:`CONCURRENT` at a time (git-lfs's default), each checked against its
SHA-256 on arrival. An object that cannot move for a reason of its own (the server lost
it, it is too large) is reported missing and the others go on; a failure of the server or
the network as a whole is raised once the transfers under way have finished, so what
arrived stays and a retry moves only the rest.
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


def download(
    client: BatchClient,
    store: LfsStore,
    pointers: Sequence[Pointer],
    *,
    stopping: threading.Event,
) -> Moved:
    """Fetch the objects of ``pointers`` the store lacks."""
    moved = Moved()
    wanted = [p for p in pointers if not store.has(p.oid, p.size)]

    def fetch(pointer: Pointer, action: Action) -> None:
        try:
            with client.http.stream(
                "GET", action.href, headers=client.headers_for(action)
            ) as answer:
                if answer.status_code != 200:
                    answer.read()
                    refusal = client.refusal(answer, "download")
                    if refusal.transient or refusal.status in (401, 403):
                        raise refusal
                    moved.missing.append(Missing(pointer, str(refusal)))
                    return
                store.receive(pointer.oid, pointer.size, _chunks(answer, stopping))
        except ObjectMismatch:
            moved.missing.append(
                Missing(pointer, f"{client.server} served other bytes than its pointer names")
            )
            return
        except httpx.TransportError as error:
            raise LfsError(
                f"{client.server} could not be reached: {error}", transient=True
            ) from error
        moved.count(pointer.size)

    for group in _groups(wanted):
        try:
            answers = client.batch("download", [(p.oid, p.size) for p in group])
        except LfsError as refusal:
            if refusal.transient:
                raise
            moved.quota_exceeded = isinstance(refusal, LfsQuotaExceeded)
            moved.refused = (
                f"the repository is over its GitHub LFS quota ({refusal})"
                if moved.quota_exceeded
                else str(refusal)
            )
            moved.missing.extend(
                Missing(p, moved.refused) for p in wanted if not store.has(p.oid, p.size)
            )
            return moved
        _run(
            group,
            answers,
            fetch,
            moved=moved,
            server=client.server,
            operation="download",
            stopping=stopping,
        )
    return moved


def upload(
    client: BatchClient,
    store: LfsStore,
    pointers: Sequence[Pointer],
    *,
    stopping: threading.Event,
) -> Moved:
    """Send the objects of ``pointers`` (all in the store) the server says it lacks."""
    moved = Moved()

    def send(pointer: Pointer, action: Action) -> None:
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
            raise LfsError(
                f"{client.server} could not be reached: {error}", transient=True
            ) from error
        if answer.status_code not in (200, 201):
            refusal = client.refusal(answer, "upload")
            if refusal.transient or refusal.status in (401, 403):
                raise refusal
            moved.missing.append(Missing(pointer, str(refusal)))
            return
        moved.count(pointer.size)

    for group in _groups(pointers):
        answers = client.batch("upload", [(p.oid, p.size) for p in group])
        verify = {a.oid: a.verify for a in answers if a.verify is not None}
        _run(
            group,
            answers,
            send,
            moved=moved,
            server=client.server,
            operation="upload",
            stopping=stopping,
        )
        for pointer in group:
            check = verify.get(pointer.oid)
            if check is not None and not any(m.pointer is pointer for m in moved.missing):
                _verify(client, pointer, check)
    return moved


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


def _run(
    group: Sequence[Pointer],
    answers: Sequence[ObjectAnswer],
    move: Callable[[Pointer, Action], None],
    *,
    moved: Moved,
    server: str,
    operation: str,
    stopping: threading.Event,
) -> None:
    """Move each object the server gave an action for; note those it refused."""
    by_oid = {a.oid: a for a in answers}
    work: list[tuple[Pointer, Action]] = []
    for pointer in group:
        answer = by_oid.get(pointer.oid)
        if answer is None:
            moved.missing.append(Missing(pointer, f"{server} did not answer for it"))
        elif answer.error is not None:
            moved.missing.append(Missing(pointer, _refused(server, operation, answer)))
        elif answer.action is not None:
            work.append((pointer, answer.action))
        elif operation == "download":
            moved.missing.append(Missing(pointer, f"{server} gave no way to download it"))
    if not work:
        return
    failures: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=min(CONCURRENT, len(work))) as pool:
        futures = [pool.submit(_unless_stopping, stopping, move, p, a) for p, a in work]
        for future in futures:
            error = future.exception()
            if error is not None:
                failures.append(error)
    if failures:
        raise failures[0]


def _unless_stopping(
    stopping: threading.Event,
    move: Callable[[Pointer, Action], None],
    pointer: Pointer,
    action: Action,
) -> None:
    if stopping.is_set():
        raise LfsError("the service is shutting down")
    move(pointer, action)


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

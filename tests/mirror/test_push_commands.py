"""Reading a push's command list before git runs: what it updates, whatever the chunks."""

from __future__ import annotations

import gzip

import pytest

from epicstar.mirror.push_commands import MAX_COMMAND_BYTES, CommandList, MalformedPush, RefUpdate

OLD = "0" * 40
NEW = "a" * 40


def pkt(line: bytes) -> bytes:
    return b"%04x" % (len(line) + 4) + line


def push_body(*refs: str, pack: bytes = b"PACK\x00\x00\x00\x02rest-of-pack") -> bytes:
    lines = [f"{OLD} {NEW} {ref}".encode() for ref in refs]
    lines[0] += b"\0report-status side-band-64k agent=git/2.43"
    return b"".join(pkt(line + b"\n") for line in lines) + b"0000" + pack


def read(body: bytes, chunk: int, *, gzipped: bool = False) -> CommandList:
    commands = CommandList(gzip=gzipped)
    for start in range(0, len(body), chunk):
        if commands.feed(body[start : start + chunk]):
            break
    commands.end()
    return commands


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 65536])
def test_the_updates_are_read_whatever_the_chunks(chunk: int) -> None:
    body = push_body("refs/heads/main", "refs/tags/v1", "refs/pull/1/head")
    assert read(body, chunk).updates == [
        RefUpdate(OLD, NEW, "refs/heads/main"),
        RefUpdate(OLD, NEW, "refs/tags/v1"),
        RefUpdate(OLD, NEW, "refs/pull/1/head"),
    ]


def test_a_gzipped_body_and_shallow_lines() -> None:
    body = pkt(b"shallow " + b"b" * 40 + b"\n") + push_body("refs/heads/main")
    assert read(gzip.compress(body), 5, gzipped=True).updates == [
        RefUpdate(OLD, NEW, "refs/heads/main")
    ]


def test_an_empty_list_is_a_probe() -> None:
    assert read(b"0000", 4).updates == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"GET / HTTP/1.1", "pkt-lines"),
        (pkt(b"hello world\n") + b"0000", "not a ref update"),
        (pkt(b"push-cert\0report-status\n") + b"0000", "signed pushes"),
        (b"0003", "length 3"),
        (push_body("refs/heads/main")[:30], "ended before"),
        (pkt(b"x" * 60000) * (MAX_COMMAND_BYTES // 60000 + 1), "not a ref update"),
    ],
)
def test_what_is_not_a_push_is_refused(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedPush, match=problem):
        read(body, 65536)


def test_a_list_without_end_is_cut_at_its_limit() -> None:
    line = pkt(f"{OLD} {NEW} refs/heads/{'x' * 200}\n".encode())
    with pytest.raises(MalformedPush, match="too long"):
        read(line * (MAX_COMMAND_BYTES // len(line) + 2), 1 << 20)

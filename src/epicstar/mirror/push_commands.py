"""The ref updates a push asks for: the pkt-line command list ``git-receive-pack`` reads
before the pack (gitprotocol-pack(5), "Reference Update Request and Packfile Transfer").

The list is read as the request body arrives, so a push can be judged (and refused) before
any git process runs; the body, pack included, then goes to git unchanged.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

MAX_COMMAND_BYTES = 16 * 1024 * 1024
"""The longest command list read (some 150,000 ref updates); a longer one is refused."""


class MalformedPush(ValueError):
    """The body does not start with a command list this server accepts."""


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str


@dataclass
class CommandList:
    """Feed the request body in chunks; :attr:`complete` once the list's flush is read."""

    gzip: bool = False
    updates: list[RefUpdate] = field(default_factory=list)
    complete: bool = False
    _buffer: bytearray = field(default_factory=bytearray)
    _read: int = 0
    _inflate: zlib._Decompress | None = None

    def __post_init__(self) -> None:
        if self.gzip:
            self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> bool:
        """Read ``chunk`` of the body; whether the list is complete. Raises MalformedPush."""
        if self.complete:
            return True
        if self._inflate is not None:
            try:
                chunk = self._inflate.decompress(chunk, MAX_COMMAND_BYTES)
            except zlib.error:
                raise MalformedPush("the gzip-encoded body cannot be read") from None
        self._buffer += chunk
        self._parse()
        return self.complete

    def end(self) -> None:
        """The body ended: raises MalformedPush when it held no complete list."""
        if not self.complete:
            raise MalformedPush("the push ended before its list of ref updates")

    def _parse(self) -> None:
        while len(self._buffer) >= 4:
            try:
                length = int(self._buffer[:4], 16)
            except ValueError:
                raise MalformedPush("the push does not start with pkt-lines") from None
            if length == 0:
                del self._buffer[:4]
                self.complete = True
                return
            if length < 5:
                raise MalformedPush(f"unexpected pkt-line length {length} in the ref updates")
            if len(self._buffer) < length:
                break
            self._line(bytes(self._buffer[4:length]))
            del self._buffer[:length]
            self._read += length
        if self._read + len(self._buffer) > MAX_COMMAND_BYTES:
            raise MalformedPush("the list of ref updates is too long")

    def _line(self, data: bytes) -> None:
        text = data.rstrip(b"\n").split(b"\0", 1)[0].decode("utf-8", "replace")
        if text.startswith("shallow "):
            return
        if text.startswith("push-cert"):
            raise MalformedPush("signed pushes are not accepted")
        parts = text.split(" ", 2)
        if len(parts) != 3 or not all(_is_object_name(part) for part in parts[:2]):
            raise MalformedPush(f"not a ref update: {text[:200]!r}")
        self.updates.append(RefUpdate(parts[0], parts[1], parts[2]))


def _is_object_name(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)

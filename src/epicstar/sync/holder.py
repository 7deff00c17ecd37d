"""Who holds a lease, and whether that process is gone for certain.

A worker id is ``host:boot:pidns:pid:start:tag``. The host name says which machine; the boot
id (``/proc/sys/kernel/random/boot_id``) changes at every reboot, so a holder from an earlier
boot of this machine is gone; the PID namespace tells containers sharing one kernel apart
(their PIDs are not ours to look up); the start time (clock ticks after boot) tells the
holder from a later process that reused its PID; the random tag tells contexts of one process
apart. A pass appends its own id. Anything that cannot be checked counts as alive.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_UNKNOWN = "-"
_HOST_LENGTH = 64  # the lease owner column holds 200 characters
_DEAD_STATES = ("Z", "X")  # a zombie has exited; only its exit status is left


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    boot: str
    pid_namespace: str
    pid: int
    start: str

    def render(self) -> str:
        return f"{self.host}:{self.boot}:{self.pid_namespace}:{self.pid}:{self.start}"


def new_worker_id() -> str:
    return f"{this_process().render()}:{uuid.uuid4().hex[:8]}"


def this_process() -> ProcessIdentity:
    pid = os.getpid()
    return ProcessIdentity(
        host=socket.gethostname()[:_HOST_LENGTH].replace(":", "_") or _UNKNOWN,
        boot=_boot_id() or _UNKNOWN,
        pid_namespace=_pid_namespace() or _UNKNOWN,
        pid=pid,
        start=_start_ticks(pid) or _UNKNOWN,
    )


def holder_is_gone(holder: str) -> bool:
    """Whether ``holder`` was a process on this machine that no longer runs.

    False for a holder elsewhere, in another container, of an older epicstar (another id
    format), or whenever this machine cannot tell: only its lease's expiry ends those.
    """
    identity = _parse(holder)
    here = this_process()
    if identity is None or _UNKNOWN in (here.boot, here.pid_namespace):
        return False
    if identity.host != here.host:
        return False
    if identity.boot != here.boot:
        return True  # this machine rebooted since the holder took the lease
    if identity.pid_namespace != here.pid_namespace:
        return False
    stat = _stat(identity.pid)
    if stat is None:
        return True
    state, start = stat
    return state in _DEAD_STATES or start != identity.start


def describe_holder(holder: str) -> str:
    """The holder for people: which process on which machine."""
    identity = _parse(holder)
    if identity is None:
        return f"another worker ({holder})"
    return f"process {identity.pid} on {identity.host}"


def _parse(holder: str) -> ProcessIdentity | None:
    """The process in ``host:boot:pidns:pid:start:tag:pass``; None for any other form."""
    parts = holder.rsplit(":", 6)
    if len(parts) != 7:
        return None
    host, boot, namespace, pid, start, _tag, _pass = parts
    if not (pid.isdigit() and start.isdigit() and namespace.isdigit()):
        return None
    if len(boot) != 32 or not all(char in "0123456789abcdef" for char in boot):
        return None
    return ProcessIdentity(host, boot, namespace, int(pid), start)


def _boot_id() -> str | None:
    try:
        text = (_PROC / "sys/kernel/random/boot_id").read_text(encoding="ascii")
    except OSError:
        return None
    return text.strip().replace("-", "") or None


def _pid_namespace() -> str | None:
    try:
        return str(os.stat(_PROC / "self/ns/pid").st_ino)
    except OSError:
        return None


def _start_ticks(pid: int) -> str | None:
    stat = _stat(pid)
    return stat[1] if stat else None


def _stat(pid: int) -> tuple[str, str] | None:
    """A process's state letter and start time from ``/proc/<pid>/stat``; None if none runs."""
    try:
        text = (_PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces and parentheses itself.
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]

"""The data directory: created on first use and proven writable before a command relies on it."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from epicstar.config import ConfigError

SETTING = "EPICSTAR_DATA_DIR"
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_PROBE_BYTES = 4096  # one block: a full disk refuses it, an empty file would still fit


def prepare_data_dir(path: Path) -> None:
    """Create ``path`` and its logs directory, and write (then remove) a probe file there.

    A :class:`ConfigError` naming ``EPICSTAR_DATA_DIR`` says what is wrong: it cannot be
    created, it is not a directory, it is read-only, or its disk is full.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{SETTING}: {path} is not a directory")
    try:
        (path / "logs").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        where = error.filename or path
        raise ConfigError(f"{SETTING}: cannot create {where}: {_reason(error)}") from None
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".epicstar-probe-") as probe:
            probe.write(b"\0" * _PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise ConfigError(f"{SETTING}: cannot write in {path}: {_reason(error)}") from None


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def disk_full_message(error: OSError) -> str:
    """One line for a write the disk refused while a command ran."""
    where = f" writing {error.filename}" if error.filename else ""
    return f"{SETTING}: the disk is full ({_reason(error)}{where}); free space, then run again"

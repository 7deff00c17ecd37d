"""The command line the benchmarks of ``epicstar serve`` share: the options every one of
them takes, a scratch directory, progress on stderr and the exit of a failed benchmark."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")
FAILED = 2
"""The exit status of a benchmark that has no figures, or figures of failed requests."""


@dataclass(frozen=True)
class ServeOptions:
    """What every benchmark of serve is told; each adds its own."""

    repos: int
    duration: float  # measured seconds (of each run)
    warmup: float  # seconds sent before measuring
    connections: int
    database_url: str | None  # a PostgreSQL server to make the database on (else SQLite)
    json_path: Path | None
    keep: Path | None


def add_arguments(
    parser: argparse.ArgumentParser, *, connections: int, connections_help: str, keep_help: str
) -> None:
    """``--connections``, ``--database-url``, ``--json`` and ``--keep``."""
    parser.add_argument("--connections", type=int, default=connections, help=connections_help)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (e.g. postgresql://postgres@127.0.0.1:5432/test): a new "
        "database is created there for the run and dropped afterwards (default: SQLite)",
    )
    parser.add_argument("--json", type=Path, dest="json_path", help="also write figures here")
    parser.add_argument("--keep", type=Path, help=keep_help)


def sized(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    defaults: Mapping[str, Any],
    quick: Mapping[str, Any],
) -> dict[str, Any]:
    """The run's size: each of ``defaults``' keys as given, else from ``quick`` (``--quick``)
    or ``defaults``; ``--repos`` checked."""
    base = quick if args.quick else defaults
    values = {key: getattr(args, key) if getattr(args, key) is not None else base[key]
              for key in defaults}  # fmt: skip
    if values["repos"] < 1:
        parser.error("--repos must be at least 1")
    return values


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exits with a usage error when an option of :func:`add_arguments` is wrong."""
    if args.connections < 1:
        parser.error("--connections must be at least 1")
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep} exists already")
    if args.database_url is not None and not args.database_url.startswith(POSTGRES_SCHEMES):
        parser.error("--database-url must be a postgresql:// URL")


def common_options(args: argparse.Namespace, size: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of :class:`ServeOptions`, from the arguments and the run's :func:`sized`."""
    return {
        "repos": size["repos"],
        "duration": size["duration"],
        "warmup": size["warmup"],
        "connections": args.connections,
        "database_url": args.database_url,
        "json_path": args.json_path,
        "keep": args.keep,
    }


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def scratch_directory(keep: Path | None, prefix: str) -> Iterator[Path]:
    """``keep``, made new and left behind; else a temporary directory, removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        yield Path(scratch)


def failed(error: Exception) -> int:
    """No figures at all: told apart from "target not met" by its exit status."""
    print(f"benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
    return FAILED

"""epicstar mirroring Git LFS objects against plain git + git-lfs, through one local sandbox.

    .venv/bin/python -m benchmarks.lfs_benchmark [--objects 200] [--total-mib 100] [--runs K]
                                                 [--json FILE] [--quick]

One GitHub repository with ``--objects`` LFS files of random bytes (``--total-mib`` in all)
over four commits, two branches and a tag; the benchmark's GitHub user has starred it.

(a) first mirror: ``epicstar sync`` with a fresh data dir into a new OneDev project, versus
    the floor: ``git init --bare``, ``git fetch`` heads+tags, ``git lfs fetch --all``,
    ``git push`` heads+tags, ``git lfs push --all``; target: epicstar <= 1.10x the floor.
(b) unchanged re-sync: ``epicstar sync`` again, versus the floor's recipe run again (without
    the init); target: epicstar makes no LFS request at all.
(c) one new 512 KiB LFS file: the same two, after one more commit.

Runs alternate (epicstar, floor, epicstar, …); every run's result is verified.  Exit status 0
when both targets are met, 1 when not, 2 when the benchmark itself failed.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from benchmarks.gitplain import git, git_version, hermetic_git, mirrored_part
from benchmarks.lfs_contenders import BenchmarkError, EpicstarCli, PlainGit
from benchmarks.lfs_data import LfsRepository, add_file, make_repository
from benchmarks.lfs_report import (
    Environment,
    EpicstarRun,
    PlainRun,
    Results,
    Situation,
    format_table,
)
from benchmarks.lfs_traffic import TrafficMeter
from epicstar.sandbox import Role, Sandbox

DEFAULT_OBJECTS = 200
DEFAULT_TOTAL_MIB = 100
DEFAULT_RUNS = 3
QUICK = {"objects": 10, "total_mib": 2, "runs": 1}
OWNER, NAME = "bench", "lfs"
_MIB = 1024 * 1024


@dataclass(frozen=True)
class Options:
    objects: int
    total_mib: float
    runs: int
    warmup: bool
    json_path: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.lfs_benchmark",
        description="Time epicstar's LFS mirroring against plain git + git-lfs in a sandbox.",
    )
    parser.add_argument(
        "--objects", type=int, help=f"LFS files in the repository (default {DEFAULT_OBJECTS})"
    )
    parser.add_argument(
        "--total-mib", type=float, help=f"their size in all, MiB (default {DEFAULT_TOTAL_MIB})"
    )
    parser.add_argument("--runs", type=int, help=f"runs per contender (default {DEFAULT_RUNS})")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write figures here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 10 objects, 2 MiB, 1 run, no warm-up (unless given otherwise)",
    )
    args = parser.parse_args(argv)
    defaults = (
        QUICK
        if args.quick
        else {
            "objects": DEFAULT_OBJECTS,
            "total_mib": DEFAULT_TOTAL_MIB,
            "runs": DEFAULT_RUNS,
        }
    )
    options = Options(
        objects=args.objects if args.objects is not None else int(defaults["objects"]),
        total_mib=args.total_mib if args.total_mib is not None else float(defaults["total_mib"]),
        runs=args.runs if args.runs is not None else int(defaults["runs"]),
        warmup=not args.quick,
        json_path=args.json_path,
    )
    if options.runs < 1:
        parser.error("--runs must be at least 1")
    if options.objects < 1:
        parser.error("--objects must be at least 1")
    if options.total_mib * _MIB < options.objects:
        parser.error("--total-mib is too small for that many objects")
    return options


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    """One sandbox, the repository, both contenders and the meter of their LFS traffic."""

    def __init__(self, sandbox: Sandbox, scratch: Path, repo: LfsRepository, tokens: list[str]):
        github_token, onedev_token = tokens
        self.sandbox = sandbox
        self.scratch = scratch
        self.repo = repo
        self.epicstar = EpicstarCli(
            sandbox.github_api_url, github_token, sandbox.onedev_url, onedev_token
        )
        self.plain = PlainGit(
            f"{sandbox.github_url}/{repo.full_name}.git", sandbox.onedev_url, onedev_token
        )
        self.meter = TrafficMeter(sandbox, repo.sizes)

    def sync(self, name: str, *, expected: str) -> EpicstarRun:
        """``epicstar sync`` with the data dir of run ``name``, mirroring under ``name/``."""
        self.meter.mark()
        run = self.epicstar.sync(self.scratch / f"epicstar-{name}", name, expected=expected)
        return EpicstarRun(run, self.meter.since_mark())

    def epicstar_path(self, name: str) -> str:
        return f"{name}/{self.repo.full_name}"

    def floor_repo(self, name: str) -> Path:
        return self.scratch / f"floor-{name}" / "repo.git"

    def floor_path(self, name: str) -> str:
        return f"floor/{name}"

    def floor_first(self, name: str) -> PlainRun:
        self.meter.mark()
        run = self.plain.first(self.floor_repo(name), self.floor_url(name))
        return PlainRun(run, self.meter.since_mark())

    def floor_update(self, name: str) -> PlainRun:
        self.meter.mark()
        run = self.plain.update(self.floor_repo(name), self.floor_url(name))
        return PlainRun(run, self.meter.since_mark())

    def floor_url(self, name: str) -> str:
        return f"{self.sandbox.onedev_url}/{self.floor_path(name)}.git"

    def prepare_round(self, name: str) -> None:
        """Untimed: the floor's empty project (as if made in OneDev's UI) and the parents of
        epicstar's (as after epicstar's first repository); epicstar creates its project."""
        self.sandbox.onedev.add_project(self.floor_path(name))
        self.sandbox.onedev.add_project(f"{name}/{OWNER}")

    def forget_round(self, name: str) -> None:
        """The round's local copies (its OneDev projects stay, to the sandbox's end)."""
        shutil.rmtree(self.scratch / f"epicstar-{name}")
        shutil.rmtree(self.floor_repo(name).parent)

    def verify(self, path: str) -> str:
        """The OneDev project holds GitHub's branches and tags, and every LFS object their
        history references, byte for byte (its SHA-256 is its oid), and nothing else."""
        expected = mirrored_part(self.sandbox.github.refs(self.repo.full_name))
        if mirrored_part(self.sandbox.onedev.refs(path)) != expected:
            raise BenchmarkError(f"{path}: branches/tags differ from GitHub's")
        stored = self.sandbox.onedev.lfs_object_paths(path)
        if set(stored) != set(self.repo.sizes):
            lacking = len(set(self.repo.sizes) - set(stored))
            extra = len(set(stored) - set(self.repo.sizes))
            raise BenchmarkError(f"{path}: {lacking} LFS objects missing, {extra} unexpected")
        for oid, file in stored.items():
            with file.open("rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            if digest != oid or file.stat().st_size != self.repo.sizes[oid]:
                raise BenchmarkError(f"{path}: LFS object {oid} is not what GitHub has")
        return (
            f"{path}: {len(expected)} heads+tags equal to GitHub's, {len(stored)} LFS objects "
            f"({self.repo.total_bytes / _MIB:.1f} MiB) byte-identical"
        )


def alternate(
    runs: int,
    label: str,
    epicstar: Callable[[int], EpicstarRun],
    floor: Callable[[int], PlainRun],
) -> tuple[list[EpicstarRun], list[PlainRun]]:
    ours: list[EpicstarRun] = []
    theirs: list[PlainRun] = []
    for run in range(1, runs + 1):
        ours.append(epicstar(run))
        theirs.append(floor(run))
        progress(
            f"  {label} run {run}: epicstar {ours[-1].sync.seconds:.3f} s "
            f"(its pass {ours[-1].sync.pass_seconds:.3f} s, "
            f"{ours[-1].traffic.requests} LFS requests), "
            f"floor {theirs[-1].floor.seconds:.3f} s ({theirs[-1].traffic.requests} LFS requests)"
        )
    return ours, theirs


def measure_first(bench: Bench, options: Options, verified: list[str]) -> Situation:
    names = [f"first-{run}" for run in range(1, options.runs + 1)]
    for name in (["warmup"] if options.warmup else []) + names:
        bench.prepare_round(name)
    if options.warmup:  # untimed: first requests, first git-lfs, the source in the page cache
        bench.sync("warmup", expected="mirrored")
        bench.floor_first("warmup")
        bench.forget_round("warmup")

    def epicstar(run: int) -> EpicstarRun:
        return bench.sync(names[run - 1], expected="mirrored")

    def floor(run: int) -> PlainRun:
        name = names[run - 1]
        result = bench.floor_first(name)
        verified.append(bench.verify(bench.epicstar_path(name)))
        verified.append(bench.verify(bench.floor_path(name)))
        if run > 1:  # (b) and (c) go on from the first run's mirrors
            bench.forget_round(name)
        return result

    ours, theirs = alternate(options.runs, "(a)", epicstar, floor)
    return Situation("first_mirror", "(a) first mirror", tuple(ours), tuple(theirs))


def measure_unchanged(bench: Bench, options: Options, verified: list[str]) -> Situation:
    ours, theirs = alternate(
        options.runs,
        "(b)",
        lambda run: bench.sync("first-1", expected="unchanged"),
        lambda run: bench.floor_update("first-1"),
    )
    verified.append(bench.verify(bench.epicstar_path("first-1")) + " after (b)")
    verified.append(bench.verify(bench.floor_path("first-1")) + " after (b)")
    return Situation("unchanged_resync", "(b) unchanged re-sync", tuple(ours), tuple(theirs))


def measure_new_file(bench: Bench, options: Options, verified: list[str]) -> Situation:
    def epicstar(run: int) -> EpicstarRun:
        add_file(bench.sandbox.github, bench.repo, seed=1000 + run)  # untimed
        return bench.sync("first-1", expected="mirrored")

    def floor(run: int) -> PlainRun:
        result = bench.floor_update("first-1")
        verified.append(bench.verify(bench.epicstar_path("first-1")) + f" after (c) run {run}")
        verified.append(bench.verify(bench.floor_path("first-1")) + f" after (c) run {run}")
        return result

    ours, theirs = alternate(options.runs, "(c)", epicstar, floor)
    return Situation("one_new_file", "(c) one new 512 KiB LFS file", tuple(ours), tuple(theirs))


def git_lfs_version() -> str:
    words = git(["lfs", "version"]).split()
    return words[0].removeprefix("git-lfs/") if words else "?"


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def run_benchmark(options: Options, scratch: Path) -> Results:
    """Everything, in ``scratch`` (which the caller removes)."""
    load_before = load_average()
    tokens = [f"ghp_{secrets.token_hex(16)}", f"od_{secrets.token_hex(16)}"]
    with (
        hermetic_git(scratch / "home"),
        Sandbox(
            scratch / "sandbox", github_tokens=tokens[:1], onedev_tokens={tokens[1]: Role.ADMIN}
        ) as sandbox,
    ):
        progress(f"making {OWNER}/{NAME}: {options.objects} LFS files, {options.total_mib:g} MiB …")
        repo = make_repository(
            sandbox.github,
            OWNER,
            NAME,
            objects=options.objects,
            total_bytes=round(options.total_mib * _MIB),
        )
        if set(sandbox.github.lfs_objects(repo.full_name)) != set(repo.sizes):
            raise BenchmarkError("the GitHub stand-in does not hold every object committed")
        facts = repo.facts()
        sandbox.github.star_many(sandbox.github.tokens[tokens[0]].login, [repo.full_name])
        bench = Bench(sandbox, scratch, repo, tokens)
        verified: list[str] = []
        progress(f"(a) first mirror, {options.runs} runs each …")
        first = measure_first(bench, options, verified)
        progress(f"(b) unchanged re-sync, {options.runs} runs each …")
        unchanged = measure_unchanged(bench, options, verified)
        progress(f"(c) one new LFS file, {options.runs} runs each …")
        new_file = measure_new_file(bench, options, verified)
    return Results(
        environment=Environment(
            date=datetime.now(UTC).strftime("%Y-%m-%d"),
            git_version=git_version(),
            git_lfs_version=git_lfs_version(),
            cpus=os.cpu_count() or 1,
            python=platform.python_version(),
            load_average_before=load_before,
            load_average_after=load_average(),
        ),
        repository=facts,
        runs=options.runs,
        warmup=options.warmup,
        first=first,
        unchanged=unchanged,
        one_new_file=new_file,
        verified=tuple(verified),
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    with tempfile.TemporaryDirectory(prefix="epicstar-lfs-bench-") as scratch:
        try:
            results = run_benchmark(options, Path(scratch))
        except Exception as error:  # no figures at all: tell it apart from "targets not met"
            print(f"benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 2
    print(format_table(results))
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(results.to_json(), indent=2) + "\n")
    return 0 if results.targets_met else 1


if __name__ == "__main__":
    sys.exit(main())

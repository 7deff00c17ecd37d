"""epicstar's mirror pass against plain git, through one local sandbox (GitHub + OneDev).

    .venv/bin/python -m benchmarks.mirror_benchmark [--objects N | --repo PATH] [--runs K]
                                                    [--json FILE]

(a) first mirror: epicstar's ``mirror_once`` into a new OneDev project versus the plain-git
    floor (``git init --bare``, ``git fetch`` heads+tags, ``git push`` heads+tags into an
    empty project); target: epicstar <= 1.10x the floor.
(b) unchanged re-sync: epicstar's ``mirror_once`` on an up-to-date mirror versus the naive
    design (``git clone --mirror`` into a fresh directory, ``git push --mirror``); target:
    epicstar >= 50x faster.

The contenders' runs alternate (epicstar, baseline, epicstar, …).  Exit status 0 when both
targets are met, 1 when not, 2 when the benchmark itself failed.  See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import secrets
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from benchmarks import report
from benchmarks.contenders import (
    BenchmarkError,
    epicstar_pass,
    epicstar_settings,
    naive_resync,
    plain_git_floor,
    tracking,
)
from benchmarks.generate import generate
from benchmarks.gitplain import (
    git,
    git_version,
    head_branch,
    hermetic_git,
    is_bare,
    link_repository,
    list_refs,
    mirrored_part,
    repo_facts,
)
from epicstar.config import Settings
from epicstar.sandbox import GitHubRepo, Role, Sandbox
from epicstar.state.models import AttemptOutcome

DEFAULT_OBJECTS = 200_000
DEFAULT_RUNS = 5
OWNER = "bench"


@dataclass(frozen=True)
class Options:
    objects: int
    repo: Path | None
    runs: int
    json_path: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mirror_benchmark",
        description="Time epicstar's mirror pass against plain git in a local sandbox.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--objects",
        type=int,
        default=DEFAULT_OBJECTS,
        help=f"size of the generated repository (default {DEFAULT_OBJECTS:,})",
    )
    source.add_argument("--repo", type=Path, help="mirror this existing bare repository instead")
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help=f"runs per contender ({DEFAULT_RUNS})"
    )
    parser.add_argument("--json", type=Path, dest="json_path", help="also write figures here")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.objects < 100:
        parser.error("--objects must be at least 100")
    if args.repo is not None and not is_bare(args.repo):
        parser.error(f"--repo {args.repo} is not a bare git repository")
    return Options(objects=args.objects, repo=args.repo, runs=args.runs, json_path=args.json_path)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    """One sandbox, the source repository and the credentials both sides use."""

    def __init__(self, sandbox: Sandbox, scratch: Path, source: Path, tokens: tuple[str, str]):
        self.sandbox = sandbox
        self.scratch = scratch
        self.source = source
        self.github_token, self.onedev_token = tokens
        self.default_branch = head_branch(source)

    def new_github_repos(self, names: Sequence[str]) -> list[GitHubRepo]:
        """New GitHub repositories (new ids, new names) holding all of the source's refs: the
        first filled with ``git push --mirror``, the others sharing its files by hard links."""
        repos = [
            self.sandbox.github.create_repo(
                OWNER, name, empty=True, default_branch=self.default_branch
            )
            for name in names
        ]
        git(["push", "--quiet", "--mirror", str(repos[0].path)], cwd=self.source)
        for repo in repos[1:]:
            link_repository(repos[0].path, repo.path)
        return repos

    def clone_url(self, repo: GitHubRepo) -> str:
        return f"{self.sandbox.github_url}/{repo.full_name}.git"

    def new_onedev_project(self, path: str) -> str:
        """An empty OneDev project, created as in OneDev's UI; returns its git URL."""
        self.sandbox.onedev.add_project(path)
        return f"{self.sandbox.onedev_url}/{path}.git"

    def settings(self, data_dir: Path) -> Settings:
        return epicstar_settings(
            data_dir,
            github_api_url=self.sandbox.github_api_url,
            github_token=self.github_token,
            onedev_url=self.sandbox.onedev_url,
            onedev_token=self.onedev_token,
        )

    def verify(self, github: GitHubRepo, onedev_path: str, *, pull_refs_allowed: bool) -> str:
        """The OneDev project's branches and tags are exactly those of the source repository
        and of its GitHub copy (and, unless allowed, it has no refs/pull/*)."""
        expected = mirrored_part(list_refs(self.source))
        if mirrored_part(list_refs(github.path)) != expected:
            raise BenchmarkError(f"{github.full_name}: branches/tags differ from the source")
        refs = self.sandbox.onedev.refs(onedev_path)
        if mirrored_part(refs) != expected:
            raise BenchmarkError(f"{onedev_path}: branches/tags differ from the source")
        if not pull_refs_allowed and any(name.startswith("refs/pull/") for name in refs):
            raise BenchmarkError(f"{onedev_path}: GitHub's refs/pull/* were mirrored")
        return f"{onedev_path}: {len(expected)} heads+tags equal to the source's"


@dataclass(frozen=True)
class Mirror:
    """A repository epicstar has mirrored, with the data dir that remembers it."""

    settings: Settings
    github: GitHubRepo
    onedev_path: str
    refs_pushed: int


@dataclass(frozen=True)
class Round:
    """What one run of (a) mirrors: a never-seen repository, a new empty project."""

    name: str
    github: GitHubRepo
    floor_path: str
    floor_url: str


def prepare_rounds(bench: Bench, names: Sequence[str]) -> list[Round]:
    """All runs' repositories and projects, made before any timing starts."""
    repos = bench.new_github_repos(names)
    return [
        Round(name, repo, f"floor/{name}", bench.new_onedev_project(f"floor/{name}"))
        for name, repo in zip(names, repos, strict=True)
    ]


@dataclass(frozen=True)
class FirstRound:
    epicstar_seconds: float
    floor_seconds: float
    mirror: Mirror
    floor_path: str


def first_mirror_round(bench: Bench, run: Round) -> FirstRound:
    """epicstar, then the floor, each mirroring the round's repository for the first time."""
    settings = bench.settings(bench.scratch / f"epicstar-{run.name}")
    with tracking(settings, run.github.full_name) as (ctx, github_id):
        seconds, pass_report = epicstar_pass(ctx, github_id, AttemptOutcome.MIRRORED)
    mirror = Mirror(settings, run.github, pass_report.onedev_path or "", pass_report.refs_changed)
    floor_seconds = plain_git_floor(
        bench.clone_url(run.github), run.floor_url, bench.onedev_token, bench.scratch
    )
    return FirstRound(seconds, floor_seconds, mirror, run.floor_path)


@dataclass(frozen=True)
class FirstMirror:
    epicstar: report.Samples
    floor: report.Samples
    mirror: Mirror  # the first timed run's, verified and reused by (b)
    verified: tuple[str, ...]


def measure_first_mirror(bench: Bench, runs: int) -> FirstMirror:
    names = ["warmup", *(f"first-{run}" for run in range(1, runs + 1))]
    warmup, *timed = prepare_rounds(bench, names)
    # Untimed: the first requests to each server, the first of each git command, cold caches.
    shutil.rmtree(first_mirror_round(bench, warmup).mirror.settings.data_dir)
    rounds: list[FirstRound] = []
    for run, prepared in enumerate(timed, start=1):
        rounds.append(first_mirror_round(bench, prepared))
        last = rounds[-1]
        progress(
            f"  (a) run {run}: epicstar {last.epicstar_seconds:.3f} s, "
            f"floor {last.floor_seconds:.3f} s"
        )
        if run > 1:  # only the first run's epicstar data dir is needed later
            shutil.rmtree(last.mirror.settings.data_dir)
    first = rounds[0]
    verified = (
        bench.verify(first.mirror.github, first.mirror.onedev_path, pull_refs_allowed=False),
        bench.verify(first.mirror.github, first.floor_path, pull_refs_allowed=False),
    )
    return FirstMirror(
        epicstar=report.Samples(tuple(r.epicstar_seconds for r in rounds)),
        floor=report.Samples(tuple(r.floor_seconds for r in rounds)),
        mirror=first.mirror,
        verified=verified,
    )


def measure_unchanged(
    bench: Bench, runs: int, mirror: Mirror
) -> tuple[report.Samples, report.Samples, tuple[str, ...]]:
    source_url = bench.clone_url(mirror.github)
    naive_url = bench.new_onedev_project("naive/resync")

    def naive() -> float:
        return naive_resync(source_url, naive_url, bench.onedev_token, bench.scratch)

    epicstar: list[float] = []
    baseline: list[float] = []
    with tracking(mirror.settings, mirror.github.full_name) as (ctx, github_id):

        def unchanged() -> float:
            return epicstar_pass(ctx, github_id, AttemptOutcome.UNCHANGED)[0]

        naive()  # untimed: populates the naive design's project, as its first pass would
        unchanged()  # untimed: the same warm-up for epicstar
        for run in range(1, runs + 1):
            epicstar.append(unchanged())
            baseline.append(naive())
            progress(f"  (b) run {run}: epicstar {epicstar[-1]:.3f} s, naive {baseline[-1]:.3f} s")
    verified = (
        bench.verify(mirror.github, mirror.onedev_path, pull_refs_allowed=False)
        + " after the re-syncs",
        bench.verify(mirror.github, "naive/resync", pull_refs_allowed=True),
    )
    return report.Samples(tuple(epicstar)), report.Samples(tuple(baseline)), verified


def environment() -> report.Environment:
    return report.Environment(
        date=datetime.now(UTC).strftime("%Y-%m-%d"),
        git_version=git_version(),
        cpus=os.cpu_count() or 1,
        python=platform.python_version(),
    )


def prepare_source(options: Options, scratch: Path) -> Path:
    if options.repo is not None:
        return options.repo.resolve()
    source = scratch / "source.git"
    progress(f"generating a repository of at least {options.objects:,} objects …")
    generate(source, objects=options.objects)
    return source


def run_benchmark(options: Options, scratch: Path) -> report.Results:
    """Everything, in ``scratch`` (which the caller removes)."""
    with hermetic_git(scratch / "home"):
        source = prepare_source(options, scratch)
        facts = repo_facts(source)
        tokens = (f"ghp_{secrets.token_hex(16)}", f"od_{secrets.token_hex(16)}")
        with Sandbox(
            scratch / "sandbox", github_tokens=[tokens[0]], onedev_tokens={tokens[1]: Role.ADMIN}
        ) as sandbox:
            bench = Bench(sandbox, scratch, source, tokens)
            progress(f"(a) first mirror, {options.runs} runs each …")
            first = measure_first_mirror(bench, options.runs)
            progress(f"(b) unchanged re-sync, {options.runs} runs each …")
            epicstar, naive, verified = measure_unchanged(bench, options.runs, first.mirror)
        return report.Results(
            environment=environment(),
            source="generated" if options.repo is None else str(options.repo),
            facts=facts,
            runs=options.runs,
            first=report.first_mirror(first.epicstar, first.floor),
            unchanged=report.unchanged_resync(epicstar, naive),
            refs_pushed_first=first.mirror.refs_pushed,
            verified=first.verified + verified,
            peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            peak_child_rss_kib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )


def silence_logs() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def write_json(path: Path, figures: Mapping[str, object]) -> None:
    path.write_text(json.dumps(figures, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    silence_logs()
    with tempfile.TemporaryDirectory(prefix="epicstar-bench-") as scratch:
        try:
            results = run_benchmark(options, Path(scratch))
        except Exception as error:  # no figures at all: tell it apart from "targets not met"
            print(f"benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 2
    print(report.format_table(results))
    if options.json_path is not None:
        write_json(options.json_path, results.to_json())
    return 0 if results.targets_met else 1


if __name__ == "__main__":
    sys.exit(main())

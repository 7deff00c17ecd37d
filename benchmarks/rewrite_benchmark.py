"""What keeping overwritten history costs: epicstar's pass after a rewrite upstream against
plain git making the same mirror exact (and keeping nothing), through one local sandbox.

    .venv/bin/python -m benchmarks.rewrite_benchmark [--commits N] [--branches B] [--tags T]
                                                     [--runs K] [--quick] [--json FILE]

(a) purge: every branch and tag of the repository rewritten from new roots (what git
    filter-repo does to a whole history); (b) one force-push: the default branch's last
    commit amended, every other ref unchanged. For each, epicstar's ``mirror_once`` (fetch,
    find and keep what was overwritten, record it, push) against plain git's
    ``git fetch --prune --force`` then ``git push --prune --force`` from a cache of its own.
    Targets: the purge pass <= 1.5x plain git; finding what was overwritten (replayed alone
    on the same cache) <= 10% of epicstar's pass. Each run starts from a fresh copy, mirrored
    by both (untimed); the contenders alternate. Exit status 0 when the targets are met, 1
    when not, 2 when the benchmark itself failed. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.contenders import BenchmarkError, epicstar_pass, tracking
from benchmarks.gitplain import (
    MIRROR_REFSPECS,
    bearer_env,
    git,
    git_version,
    hermetic_git,
    link_repository,
    list_refs,
    mirrored_part,
)
from benchmarks.mirror_benchmark import OWNER, Bench, progress, silence_logs
from epicstar.mirror.cache import RepoCache
from epicstar.mirror.rewrites import Rewrite, find_rewrites
from epicstar.sandbox import Role, Sandbox
from epicstar.state.models import AttemptOutcome

TARGET = 1.5
"""epicstar's pass after a purge, at most this many times plain git's mirror update."""
SHARE_TARGET = 0.10
"""Finding what was overwritten, at most this part of epicstar's pass."""


@dataclass(frozen=True)
class Options:
    commits: int
    branches: int
    tags: int
    runs: int
    json_path: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.rewrite_benchmark",
        description="Time epicstar's pass after a rewrite upstream against plain git.",
    )
    parser.add_argument("--commits", type=int, default=20_000, help="history length (20,000)")
    parser.add_argument("--branches", type=int, default=50, help="branches besides main (50)")
    parser.add_argument("--tags", type=int, default=50, help="tags (50)")
    parser.add_argument("--runs", type=int, default=3, help="runs per contender (3)")
    parser.add_argument("--quick", action="store_true", help="300 commits, 5 branches, 5 tags")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.commits, args.branches, args.tags, args.runs = 300, 5, 5, 1
    if args.runs < 1 or args.commits < args.branches + args.tags + 2:
        parser.error("--runs must be at least 1, --commits more than the branches and tags")
    return Options(args.commits, args.branches, args.tags, args.runs, args.json_path)


def write_history(repo: Path, options: Options, salt: str) -> None:
    """``options.commits`` commits on main touching 100 files, branches and tags spread along
    it; ``salt`` makes every object differ from another history's (new roots)."""
    stream = []
    for number in range(1, options.commits + 1):
        text, message = f"{salt} {number}\n", f"{salt} commit {number}"
        stream.append(
            f"commit refs/heads/main\nmark :{number}\n"
            f"committer Bench <bench@epicstar.invalid> {1_700_000_000 + number} +0000\n"
            f"data {len(message)}\n{message}\n"
        )
        if number > 1:
            stream.append(f"from :{number - 1}\n")
        stream.append(f"M 644 inline file{number % 100}.txt\ndata {len(text)}\n{text}\n")
    step = options.commits // (options.branches + options.tags + 1)
    for index in range(options.branches):
        tip = options.commits - (index + 1) * step
        stream.append(f"reset refs/heads/branch{index}\nfrom :{tip}\n\n")
    for index in range(options.tags):
        stream.append(f"reset refs/tags/v{index}\nfrom :{1 + index * step}\n\n")
    subprocess.run(
        ["git", "--git-dir", str(repo), "fast-import", "--quiet", "--force"],
        input="".join(stream).encode(),
        check=True,
    )


def amend_main(repo: Path) -> None:
    """The default branch's last commit replaced by another with the same parent (a push -f)."""
    tree = git(["rev-parse", "refs/heads/main^{tree}"], cwd=repo).strip()
    parent = git(["rev-parse", "refs/heads/main^"], cwd=repo).strip()
    amended = git(["commit-tree", tree, "-p", parent, "-m", "amended"], cwd=repo).strip()
    git(["update-ref", "refs/heads/main", amended], cwd=repo)


@dataclass
class Situation:
    name: str
    rewrite: Callable[[Path], None]
    expected_rewrites: int
    ratio_target: float | None  # None: the pass's fixed cost (ls-remote, API, database) rules
    epicstar: list[float]
    plain_git: list[float]
    recorded: list[int]
    lost: list[int | None]
    keeping: list[float]
    """Of epicstar's pass, the seconds finding what was overwritten takes (replayed alone on
    the same cache afterwards: its walks and counts, without the refs written again)."""

    @property
    def ratio(self) -> float:
        return statistics.median(self.epicstar) / statistics.median(self.plain_git)

    @property
    def share(self) -> float:
        return statistics.median(self.keeping) / statistics.median(self.epicstar)

    @property
    def met(self) -> bool:
        ratio_met = self.ratio_target is None or self.ratio <= self.ratio_target
        return ratio_met and self.share <= SHARE_TARGET

    def to_json(self) -> dict[str, object]:
        return {
            "epicstar_seconds": self.epicstar,
            "plain_git_seconds": self.plain_git,
            "epicstar_median": statistics.median(self.epicstar),
            "plain_git_median": statistics.median(self.plain_git),
            "ratio": self.ratio,
            "ratio_target": self.ratio_target,
            "met": self.met,
            "finding_seconds": self.keeping,
            "finding_share_of_pass": self.share,
            "finding_share_target": SHARE_TARGET,
            "rewrites_recorded": self.recorded,
            "commits_lost_on_main": self.lost,
        }


class PlainGit:
    """Plain git's mirror: a cache of its own and a OneDev project, updated as exactly."""

    def __init__(self, bench: Bench, source_url: str, project: str, scratch: Path) -> None:
        self.source_url = source_url
        self.target_url = bench.new_onedev_project(project)
        self.env = bearer_env(bench.onedev_token)
        self.cache = scratch / f"{project.replace('/', '-')}.git"
        git(["init", "--quiet", "--bare", str(self.cache)])
        self.update()

    def update(self) -> float:
        started = time.perf_counter()
        git(["fetch", "--quiet", "--prune", "--force", self.source_url, *MIRROR_REFSPECS],
            cwd=self.cache)  # fmt: skip
        git(["push", "--quiet", "--prune", "--force", self.target_url, *MIRROR_REFSPECS],
            cwd=self.cache, env=self.env)  # fmt: skip
        return time.perf_counter() - started


def replay_finding(cache: RepoCache, kept: list[Rewrite]) -> float:
    """The time :func:`find_rewrites` takes again, from the refs before the pass to now."""
    after = cache.local_refs()
    before = {**after, **{rewrite.ref: rewrite.old for rewrite in kept}}
    started = time.perf_counter()
    again = find_rewrites(cache, before, after)
    elapsed = time.perf_counter() - started
    if len(again) != len(kept):
        raise BenchmarkError(f"replayed, {len(again)} rewrites found instead of {len(kept)}")
    return elapsed


def run_situation(bench: Bench, situation: Situation, runs: int, original: Path) -> None:
    for run in range(1, runs + 1):
        name = f"{situation.name}-{run}"
        github = bench.sandbox.github.create_repo(OWNER, name, empty=True)
        link_repository(original, github.path)
        settings = bench.settings(bench.scratch / f"data-{name}")
        with tracking(settings, github.full_name) as (ctx, github_id):
            epicstar_pass(ctx, github_id, AttemptOutcome.MIRRORED)  # untimed: first mirror
            plain = PlainGit(bench, bench.clone_url(github), f"plain/{name}", bench.scratch)
            situation.rewrite(github.path)
            seconds, report = epicstar_pass(ctx, github_id, AttemptOutcome.MIRRORED)
            situation.epicstar.append(seconds)
            situation.plain_git.append(plain.update())
            if len(report.rewrites) != situation.expected_rewrites:
                raise BenchmarkError(
                    f"{name}: {len(report.rewrites)} rewrites kept, "
                    f"expected {situation.expected_rewrites}"
                )
            situation.recorded.append(len(report.rewrites))
            situation.keeping.append(replay_finding(ctx.cache(github_id, 0), report.rewrites))
            situation.lost.extend(
                r.commits_lost for r in report.rewrites if r.ref == "refs/heads/main"
            )
            expected = mirrored_part(list_refs(github.path))
            for project in (report.onedev_path or "", f"plain/{name}"):
                if mirrored_part(bench.sandbox.onedev.refs(project)) != expected:
                    raise BenchmarkError(f"{project}: branches/tags differ from GitHub's")
        progress(
            f"  {name}: epicstar {situation.epicstar[-1]:.3f} s, "
            f"plain git {situation.plain_git[-1]:.3f} s"
        )


def run_benchmark(options: Options, scratch: Path) -> list[Situation]:
    with hermetic_git(scratch / "home"):
        original, purged = scratch / "original.git", scratch / "purged.git"
        for repo, salt in ((original, "original"), (purged, "purged")):
            git(["init", "--quiet", "--bare", str(repo)])
            write_history(repo, options, salt)

        def purge(repo: Path) -> None:
            git(["fetch", "--quiet", "--prune", "--force", str(purged), *MIRROR_REFSPECS],
                cwd=repo)  # fmt: skip

        refs = options.branches + options.tags + 1
        situations = [
            Situation("purge", purge, refs, TARGET, [], [], [], [], []),
            Situation("force-push", amend_main, 1, None, [], [], [], [], []),
        ]
        tokens = (f"ghp_{secrets.token_hex(16)}", f"od_{secrets.token_hex(16)}")
        with Sandbox(
            scratch / "sandbox", github_tokens=[tokens[0]], onedev_tokens={tokens[1]: Role.ADMIN}
        ) as sandbox:
            bench = Bench(sandbox, scratch, original, tokens)
            for situation in situations:
                progress(f"({situation.name}) {options.runs} runs each …")
                run_situation(bench, situation, options.runs, original)
    return situations


def format_table(options: Options, situations: list[Situation]) -> str:
    lines = [
        f"rewrite benchmark: {options.commits:,} commits, {options.branches + 1} branches, "
        f"{options.tags} tags; git {git_version()}; {options.runs} runs each (median)",
        f"{'situation':<11} {'epicstar':>9} {'plain git':>9} {'ratio':>6} {'finding':>8} "
        f"{'share':>6}  kept",
    ]
    for s in situations:
        lines.append(
            f"{s.name:<11} {statistics.median(s.epicstar):>8.3f}s "
            f"{statistics.median(s.plain_git):>8.3f}s {s.ratio:>5.2f}x "
            f"{statistics.median(s.keeping):>7.3f}s {s.share:>6.1%}  {s.recorded[0]} refs, "
            f"{s.lost[0]} commits lost on main; {'met' if s.met else 'NOT met'}"
        )
    lines.append(
        f"targets: the purge pass <= {TARGET}x plain git; finding what was overwritten "
        f"<= {SHARE_TARGET:.0%} of the pass"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    silence_logs()
    with tempfile.TemporaryDirectory(prefix="epicstar-rewrite-bench-") as scratch:
        try:
            situations = run_benchmark(options, Path(scratch))
        except Exception as error:  # no figures at all: tell it apart from "targets not met"
            print(f"benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 2
    print(format_table(options, situations))
    if options.json_path is not None:
        figures = {s.name: s.to_json() for s in situations}
        options.json_path.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(s.met for s in situations) else 1


if __name__ == "__main__":
    sys.exit(main())

"""``epicstar sync`` over a thousand starred repositories, at ``--jobs 1`` and concurrently.

    .venv/bin/python -m benchmarks.scale_benchmark [--repositories 1000] [--jobs J]
                                                   [--runs K] [--json FILE] [--quick]

One sandbox; ``--repositories`` GitHub repositories (each with a commit, a default branch and
pull refs), all starred by the benchmark's user. Untimed: the first ``epicstar sync`` mirrors
them all (its time is reported too). Timed, alternately: ``epicstar sync`` with nothing
changed at ``--jobs 1`` and at ``--jobs J`` (default: epicstar's own default), each run the
whole command as a user runs it. For each run, CPU seconds are split between epicstar (its
Python process), the git it runs, and the sandbox (the stand-ins, with the ``git
http-backend`` processes they start), so it shows which of them is the limit.

Target (issue 13): 1,000 unchanged repositories re-checked in <= 30 s.  Exit status 0 when
met, 1 when not, 2 when the benchmark itself failed.  See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.cli_run import run_main
from benchmarks.gitplain import git_version, hermetic_git
from epicstar.config import default_jobs
from epicstar.sandbox import Role, Sandbox

TARGET_SECONDS_PER_1000 = 30.0
OWNER = "many"

_RUSAGE_REPORTER = """
import atexit, json, os, resource, runpy, sys
def report():
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.environ["BENCH_RUSAGE_FILE"], "w") as out:
        json.dump({"self": me.ru_utime + me.ru_stime, "children": kids.ru_utime + kids.ru_stime,
                   "max_rss_kib": me.ru_maxrss}, out)
atexit.register(report)
sys.argv = ["epicstar", *sys.argv[1:]]
runpy.run_module("epicstar", run_name="__main__")
"""
"""``python -m epicstar`` that writes its own CPU time (and its children's, git's) at exit."""


@dataclass(frozen=True)
class Run:
    label: str
    jobs: int
    seconds: float
    outcomes: dict[str, int]
    epicstar_cpu: float  # the epicstar process: Python
    git_cpu: float  # the git processes epicstar ran
    sandbox_cpu: float  # the stand-ins' process and the git http-backend it ran
    max_rss_mib: float
    list_requests: int  # requests the poll of the starred list made


@dataclass(frozen=True)
class Options:
    repositories: int
    jobs: int
    runs: int
    json_path: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_benchmark")
    parser.add_argument("--repositories", type=int, default=None, help="default 1000")
    parser.add_argument("--jobs", type=int, default=None, help="default: epicstar's default")
    parser.add_argument("--runs", type=int, default=None, help="per setting, default 2")
    parser.add_argument("--json", type=Path, dest="json_path")
    parser.add_argument("--quick", action="store_true", help="50 repositories, 1 run")
    args = parser.parse_args(argv)
    repositories = args.repositories or (50 if args.quick else 1000)
    runs = args.runs or (1 if args.quick else 2)
    if repositories < 1 or runs < 1:
        parser.error("--repositories and --runs must be at least 1")
    return Options(repositories, args.jobs or default_jobs(), runs, args.json_path)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Bench:
    def __init__(self, sandbox: Sandbox, scratch: Path, tokens: list[str]) -> None:
        self.sandbox = sandbox
        self.scratch = scratch
        data = scratch / "data"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("EPICSTAR_")}
        self.env = {
            **inherited,
            "EPICSTAR_DATA_DIR": str(data),
            "EPICSTAR_DATABASE_URL": f"sqlite:///{data / 'epicstar.db'}",
            "EPICSTAR_GITHUB_API_URL": sandbox.github_api_url,
            "EPICSTAR_GITHUB_TOKEN": tokens[0],
            "EPICSTAR_ONEDEV_URL": sandbox.onedev_url,
            "EPICSTAR_ONEDEV_TOKEN": tokens[1],
            "BENCH_RUSAGE_FILE": str(scratch / "rusage.json"),
        }

    def sync(self, label: str, jobs: int) -> Run:
        """One whole ``epicstar sync --json --jobs N``, timed, with its CPU split."""
        sandbox_before, children_before = own_cpu(), children_cpu()
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", _RUSAGE_REPORTER, "sync", "--json", "--jobs", str(jobs)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-6:])
            raise RuntimeError(f"epicstar sync exited {result.returncode}: {tail}")
        usage = json.loads((self.scratch / "rusage.json").read_text())
        document = json.loads(result.stdout)
        outcomes: dict[str, int] = {}
        for repository in document["repositories"]:
            outcomes[repository["outcome"]] = outcomes.get(repository["outcome"], 0) + 1
        children = children_cpu() - children_before
        return Run(
            label=label,
            jobs=jobs,
            seconds=seconds,
            outcomes=outcomes,
            epicstar_cpu=usage["self"],
            git_cpu=usage["children"],
            sandbox_cpu=(own_cpu() - sandbox_before) + children - usage["self"] - usage["children"],
            max_rss_mib=usage["max_rss_kib"] / 1024,
            list_requests=int((document.get("poll") or {}).get("requests", 0)),
        )


def make_repositories(sandbox: Sandbox, count: int) -> list[str]:
    names = [f"{OWNER}/repo-{index:05d}" for index in range(count)]
    for name in names:
        sandbox.github.create_repo(OWNER, name.partition("/")[2])
    login = next(iter(sandbox.github.tokens.values())).login
    sandbox.github.star_many(login, names)
    return names


def describe(run: Run) -> str:
    outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(run.outcomes.items()))
    return (
        f"{run.seconds:7.2f} s  (CPU: epicstar {run.epicstar_cpu:.1f} s, its git "
        f"{run.git_cpu:.1f} s, sandbox {run.sandbox_cpu:.1f} s; epicstar RSS "
        f"{run.max_rss_mib:.0f} MiB)  {outcomes}; starred list read in "
        f"{run.list_requests} requests"
    )


def run_benchmark(options: Options, scratch: Path) -> dict[str, object]:
    tokens = [f"ghp_{secrets.token_hex(16)}", f"od_{secrets.token_hex(16)}"]
    load_before = os.getloadavg()
    with (
        hermetic_git(scratch / "home"),
        Sandbox(
            scratch / "sandbox", github_tokens=tokens[:1], onedev_tokens={tokens[1]: Role.ADMIN}
        ) as sandbox,
    ):
        progress(f"making {options.repositories} repositories …")
        made = time.perf_counter()
        make_repositories(sandbox, options.repositories)
        progress(f"  made in {time.perf_counter() - made:.1f} s")
        bench = Bench(sandbox, scratch, tokens)
        progress(f"first mirror of all, --jobs {options.jobs} (untimed set-up, reported) …")
        first = bench.sync("first mirror", options.jobs)
        progress(f"  {describe(first)}")
        if first.outcomes != {"mirrored": options.repositories}:
            raise RuntimeError(f"the first sync did not mirror every repository: {first}")
        runs: list[Run] = []
        for number in range(1, options.runs + 1):
            for jobs in (1, options.jobs):
                run = bench.sync(f"unchanged, --jobs {jobs}", jobs)
                if run.outcomes != {"unchanged": options.repositories}:
                    raise RuntimeError(f"an unchanged sync changed something: {run.outcomes}")
                progress(f"  run {number} --jobs {jobs:<3} {describe(run)}")
                runs.append(run)
    serial = [run.seconds for run in runs if run.jobs == 1]
    concurrent = [run.seconds for run in runs if run.jobs == options.jobs]
    target = TARGET_SECONDS_PER_1000 * options.repositories / 1000
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "git": git_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "repositories": options.repositories,
        "jobs": options.jobs,
        "first_mirror": asdict(first),
        "runs": [asdict(run) for run in runs],
        "median_seconds_jobs_1": statistics.median(serial),
        "median_seconds_jobs_n": statistics.median(concurrent),
        "target_seconds": target,
        "target_met": statistics.median(concurrent) <= target,
    }


def format_summary(results: dict[str, object]) -> str:
    serial = float(str(results["median_seconds_jobs_1"]))
    concurrent = float(str(results["median_seconds_jobs_n"]))
    target = float(str(results["target_seconds"]))
    count = results["repositories"]
    return "\n".join(
        [
            f"epicstar scale benchmark  {results['date']}  {results['cpus']} CPUs  "
            f"Python {results['python']}  git {results['git']}",
            f"{count} unchanged repositories, whole `epicstar sync`, median of runs:",
            f"  --jobs 1      {serial:8.2f} s   ({1000 * serial / int(str(count)):.0f} ms each)",
            f"  --jobs {results['jobs']:<6} {concurrent:8.2f} s   "
            f"({serial / concurrent:.1f}x faster)",
            f"  target <= {target:.0f} s: {'MET' if results['target_met'] else 'NOT MET'}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    return run_main(
        "epicstar-scale-bench-",
        lambda scratch: run_benchmark(options, scratch),
        format_summary,
        options.json_path,
    )


if __name__ == "__main__":
    sys.exit(main())

"""``epicstar`` as a user runs it, whole commands, against the interpreter and plain git.

    .venv/bin/python -m benchmarks.command_benchmark [--objects N] [--serve-mib M] [--runs K]
                                                     [--json FILE] [--quick]

One sandbox; one GitHub repository of ``--objects`` git objects (generated: a linear history
with branches, tags and pull refs), starred by the benchmark's user. Runs alternate between
the contenders of each part. Targets are those of issue 13:

(1) start-up: ``epicstar --help``, ``epicstar status`` and ``epicstar sync --due-only`` with
    nothing due, against ``python -c pass``; each <= 200 ms, its imports <= 120 ms
    (``python -X importtime``).
(2) unchanged re-sync: ``epicstar sync`` of the mirrored repository, against ``python -c
    pass`` + ``git ls-remote`` (<= 2x) and against ``git clone --mirror`` + ``git push
    --mirror`` into an empty project (>= 20x faster).
(4) first mirror: ``epicstar sync`` with a fresh data dir into a new OneDev parent, against
    the plain-git floor (``git init --bare``, ``git fetch`` heads+tags, ``git push``
    heads+tags); <= 1.05x.
(5) one new commit: the bytes ``epicstar sync`` sends OneDev (the bodies of its
    ``git-receive-pack`` requests) against the new objects' own size; <= 2x. Every git
    command the sync starts is listed (``GIT_TRACE``); none may be history-sized (gc, repack,
    prune, fsck, ``rev-list --all``).
(6) memory: ``epicstar serve`` mirrors a repository of ``--serve-mib`` MiB (incompressible
    files) with its workers; the serve process's RSS, sampled every 20 ms (git's processes
    are not in it), stays under 150 MB.

Exit status 0 when every target is met, 1 when not, 2 when the benchmark itself failed.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.cli_run import run_main
from benchmarks.command_runs import (
    BenchmarkError,
    EpicstarCommand,
    git_commands,
    history_sized,
    import_milliseconds,
    ls_remote,
    python_pass,
)
from benchmarks.contenders import naive_resync, plain_git_floor
from benchmarks.generate import generate
from benchmarks.gitplain import git, git_version, head_branch, hermetic_git, mirrored_part
from epicstar.sandbox import Role, Sandbox

DEFAULT_OBJECTS = 60_000
DEFAULT_SERVE_MIB = 150
DEFAULT_RUNS = 3
QUICK = {"objects": 2_000, "serve_mib": 8, "runs": 1}
OWNER, NAME, BIG_NAME = "bench", "big", "heavy"

START_UP_TARGET_S = 0.200
IMPORT_TARGET_MS = 120.0
UNCHANGED_TARGET_RATIO = 2.0
NAIVE_TARGET_SPEEDUP = 20.0
FIRST_TARGET_RATIO = 1.05
NEW_COMMIT_TARGET_RATIO = 2.0
SERVE_RSS_TARGET_MB = 150.0


@dataclass(frozen=True)
class Options:
    objects: int
    serve_mib: int
    runs: int
    json_path: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.command_benchmark",
        description="Time whole epicstar commands against the interpreter and plain git.",
    )
    parser.add_argument("--objects", type=int, help=f"default {DEFAULT_OBJECTS:,}")
    parser.add_argument("--serve-mib", type=int, help=f"default {DEFAULT_SERVE_MIB}")
    parser.add_argument("--runs", type=int, help=f"per contender, default {DEFAULT_RUNS}")
    parser.add_argument("--json", type=Path, dest="json_path")
    parser.add_argument("--quick", action="store_true", help="a small repository, one run")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {}
    options = Options(
        objects=args.objects or defaults.get("objects", DEFAULT_OBJECTS),
        serve_mib=args.serve_mib or defaults.get("serve_mib", DEFAULT_SERVE_MIB),
        runs=args.runs or defaults.get("runs", DEFAULT_RUNS),
        json_path=args.json_path,
    )
    if options.objects < 100 or options.serve_mib < 1 or options.runs < 1:
        parser.error("--objects >= 100, --serve-mib >= 1 and --runs >= 1")
    return options


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@dataclass
class Part:
    """One part's figures: seconds (or bytes) per contender, and the targets' verdicts."""

    figures: dict[str, list[float]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, bool] = field(default_factory=dict)

    def add(self, name: str, value: float) -> None:
        self.figures.setdefault(name, []).append(value)

    def median(self, name: str) -> float:
        return median(self.figures[name])


class Bench:
    def __init__(self, sandbox: Sandbox, scratch: Path, tokens: list[str]) -> None:
        self.sandbox = sandbox
        self.scratch = scratch
        self.github_token, self.onedev_token = tokens
        self.epicstar = EpicstarCommand(
            sandbox.github_api_url, tokens[0], sandbox.onedev_url, tokens[1]
        )
        self.full_name = f"{OWNER}/{NAME}"

    @property
    def clone_url(self) -> str:
        return f"{self.sandbox.github_url}/{self.full_name}.git"

    def data_dir(self, name: str) -> Path:
        return self.scratch / f"epicstar-{name}"

    def env(self, name: str, **extra: str) -> dict[str, str]:
        return self.epicstar.env(self.data_dir(name), name, **extra)

    def empty_project(self, path: str) -> str:
        self.sandbox.onedev.add_project(path)
        return f"{self.sandbox.onedev_url}/{path}.git"

    def verify(self, onedev_path: str) -> str:
        expected = mirrored_part(self.sandbox.github.refs(self.full_name))
        if mirrored_part(self.sandbox.onedev.refs(onedev_path)) != expected:
            raise BenchmarkError(f"{onedev_path}: branches/tags differ from GitHub's")
        return f"{onedev_path}: {len(expected)} heads+tags equal to GitHub's"


def alternate(
    runs: int, contenders: Sequence[tuple[str, Callable[[int], float]]], part: Part
) -> None:
    for run in range(1, runs + 1):
        for name, contender in contenders:
            part.add(name, contender(run))


# -- (4) first mirror ---------------------------------------------------------------------------


def first_mirror(bench: Bench, runs: int, verified: list[str]) -> Part:
    part = Part()

    def epicstar(run: int) -> float:
        seconds, report = bench.epicstar.sync_in(bench.env(f"first-{run}"), expected="mirrored")
        verified.append(bench.verify(report["onedev_path"]))
        return seconds

    def floor(run: int) -> float:
        target = bench.empty_project(f"floor-{run}/{NAME}")
        seconds = plain_git_floor(bench.clone_url, target, bench.onedev_token, bench.scratch)
        verified.append(bench.verify(f"floor-{run}/{NAME}"))
        return seconds

    # Untimed warm-up of both: first requests, first git commands, cold file caches.
    epicstar(0)
    floor(0)
    alternate(runs, [("epicstar sync", epicstar), ("plain-git floor", floor)], part)
    ratio = part.median("epicstar sync") / part.median("plain-git floor")
    part.facts["ratio"] = ratio
    part.targets[f"first mirror <= {FIRST_TARGET_RATIO}x the floor"] = ratio <= FIRST_TARGET_RATIO
    return part


# -- (2) unchanged re-sync ----------------------------------------------------------------------


def unchanged(bench: Bench, runs: int) -> Part:
    part = Part()
    env = bench.env("first-1")

    def epicstar(run: int) -> float:
        return bench.epicstar.sync_in(env, expected="unchanged")[0]

    def reference(run: int) -> float:
        return python_pass() + ls_remote(bench.clone_url, bench.github_token)

    def naive(run: int) -> float:
        target = bench.empty_project(f"naive-{run}/{NAME}")
        return naive_resync(bench.clone_url, target, bench.onedev_token, bench.scratch)

    alternate(
        runs,
        [
            ("epicstar sync", epicstar),
            ("python -c pass + git ls-remote", reference),
            ("git clone --mirror + git push --mirror", naive),
        ],
        part,
    )
    ours = part.median("epicstar sync")
    ratio = ours / part.median("python -c pass + git ls-remote")
    speedup = part.median("git clone --mirror + git push --mirror") / ours
    part.facts.update(ratio=ratio, speedup=speedup)
    part.targets[f"unchanged <= {UNCHANGED_TARGET_RATIO}x interpreter + ls-remote"] = (
        ratio <= UNCHANGED_TARGET_RATIO
    )
    part.targets[f"unchanged >= {NAIVE_TARGET_SPEEDUP:.0f}x faster than clone + push"] = (
        speedup >= NAIVE_TARGET_SPEEDUP
    )
    return part


# -- (1) start-up -------------------------------------------------------------------------------


START_UP = {
    "epicstar --help": ["--help"],
    "epicstar status": ["status"],
    "epicstar sync --due-only (nothing due)": ["sync", "--due-only"],
}


def start_up(bench: Bench, runs: int) -> Part:
    part = Part()
    env = bench.env("first-1")

    def command(args: list[str]) -> Callable[[int], float]:
        return lambda run: bench.epicstar.run(args, env).seconds

    contenders = [("python -c pass", lambda run: python_pass())]
    contenders += [(name, command(args)) for name, args in START_UP.items()]
    alternate(runs, contenders, part)
    imports = {name: import_milliseconds(args, env) for name, args in START_UP.items()}
    part.facts["import_ms"] = imports
    for name in START_UP:
        part.targets[f"{name} <= {START_UP_TARGET_S * 1000:.0f} ms"] = (
            part.median(name) <= START_UP_TARGET_S
        )
        part.targets[f"{name} imports <= {IMPORT_TARGET_MS:.0f} ms"] = (
            imports[name] <= IMPORT_TARGET_MS
        )
    return part


# -- (5) one new commit -------------------------------------------------------------------------


def new_object_bytes(repo: Path, new: str, old: str) -> tuple[int, int]:
    """How many objects ``new`` adds to ``old``'s history, and their size in bytes."""
    listed = git(["rev-list", "--objects", new, f"^{old}"], cwd=repo).split()
    names = [word for word in listed if len(word) == 40]
    sizes = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectsize)"],
        cwd=repo,
        input="\n".join(names) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return len(names), sum(int(size) for size in sizes)


def one_new_commit(bench: Bench, runs: int, a_file: str) -> Part:
    part = Part()
    github = bench.sandbox.github
    repo = github.repo(bench.full_name)
    branch = repo.default_branch
    commands: set[str] = set()
    for run in range(1, runs + 1):
        old = github.refs(bench.full_name)[f"refs/heads/{branch}"]
        content = git(["show", f"{old}:{a_file}"], cwd=repo.path) + f"line {run}\n"
        new = github.commit(bench.full_name, branch, {a_file: content}, f"change {run}")
        count, size = new_object_bytes(repo.path, new, old)
        trace = bench.scratch / f"trace-{run}.txt"
        bench.sandbox.onedev.log.clear()
        env = bench.env("first-1", GIT_TRACE=str(trace))
        seconds, report = bench.epicstar.sync_in(env, expected="mirrored")
        sent = sum(
            entry.request_bytes
            for entry in bench.sandbox.onedev.log.entries("POST", git_service="git-receive-pack")
        )
        commands.update(git_commands(trace))
        part.add("new objects", count)
        part.add("new objects' bytes", size)
        part.add("bytes sent to OneDev", sent)
        part.add("epicstar sync seconds", seconds)
        bench.verify(report["onedev_path"])
    ratio = part.median("bytes sent to OneDev") / part.median("new objects' bytes")
    heavy = history_sized(sorted(commands))
    part.facts.update(ratio=ratio, git_commands=sorted(commands), history_sized=heavy)
    part.targets[f"one new commit sends <= {NEW_COMMIT_TARGET_RATIO}x its objects' bytes"] = (
        ratio <= NEW_COMMIT_TARGET_RATIO
    )
    part.targets["no history-sized git command"] = not heavy
    return part


# -- (6) serve's memory -------------------------------------------------------------------------


def make_heavy_repository(bench: Bench, mib: int) -> None:
    """A starred repository of ``mib`` MiB of random (incompressible) files, in a few commits."""
    github = bench.sandbox.github
    github.create_repo(OWNER, BIG_NAME)
    full_name = f"{OWNER}/{BIG_NAME}"
    per_commit = 16
    for first in range(0, mib, per_commit):
        files: dict[str, bytes | str | None] = {
            f"data/{index:04d}.bin": os.urandom(1024 * 1024)
            for index in range(first, min(first + per_commit, mib))
        }
        github.commit(full_name, "main", files, f"data {first}")
    github.star(next(iter(github.tokens.values())).login, full_name)


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_memory(bench: Bench, mib: int) -> Part:
    """``epicstar serve`` with fresh data mirrors every star, the heavy one included."""
    part = Part()
    make_heavy_repository(bench, mib)
    name = "serve"
    env = bench.env(name, EPICSTAR_HOST="127.0.0.1", EPICSTAR_PORT=str(free_port()))
    env["EPICSTAR_METRICS_PORT"] = str(free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "epicstar", "serve", "--workers", "2"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            value = rss_mib(process.pid)
            if value is not None:
                samples.append(value)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    path = f"{name}/{OWNER}/{BIG_NAME}"
    expected = mirrored_part(bench.sandbox.github.refs(f"{OWNER}/{BIG_NAME}"))
    try:
        while mirrored_part(_refs_or_none(bench, path)) != expected:
            if process.poll() is not None:
                raise BenchmarkError(f"epicstar serve exited {process.returncode}")
            if time.perf_counter() - started > 600:
                raise BenchmarkError("epicstar serve did not mirror the repository in 600 s")
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        time.sleep(0.5)  # what the pass does after its push (records, LFS look) is in too
    finally:
        done.set()
        sampler.join()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    peak = max(samples) if samples else 0.0
    part.add("peak RSS (MiB)", peak)
    part.add("seconds to mirror", seconds)
    part.facts.update(samples=len(samples), repository_mib=mib, peak_rss_mb=peak * 1.048576)
    part.targets[f"serve stays under {SERVE_RSS_TARGET_MB:.0f} MB RSS"] = (
        peak * 1.048576 < SERVE_RSS_TARGET_MB
    )
    return part


def _refs_or_none(bench: Bench, path: str) -> dict[str, str]:
    try:
        return bench.sandbox.onedev.refs(path)
    except (KeyError, RuntimeError):  # no project yet, or its repository still being made
        return {}


# -- the run ------------------------------------------------------------------------------------


def a_file_of(repo: Path) -> str:
    """A file in the middle of the default branch's tree: one commit changes it."""
    tree = git(["ls-tree", "-r", "--name-only", f"refs/heads/{head_branch(repo)}"], cwd=repo)
    names = tree.split()
    return names[len(names) // 2]


def run_benchmark(options: Options, scratch: Path) -> dict[str, Any]:
    tokens = [f"ghp_{secrets.token_hex(16)}", f"od_{secrets.token_hex(16)}"]
    load_before = os.getloadavg()
    verified: list[str] = []
    with hermetic_git(scratch / "home"):
        source = scratch / "source.git"
        progress(f"generating a repository of {options.objects:,} objects …")
        objects = generate(source, objects=options.objects)
        with Sandbox(
            scratch / "sandbox", github_tokens=tokens[:1], onedev_tokens={tokens[1]: Role.ADMIN}
        ) as sandbox:
            bench = Bench(sandbox, scratch, tokens)
            repo = sandbox.github.create_repo(
                OWNER, NAME, empty=True, default_branch=head_branch(source)
            )
            git(["push", "--quiet", "--mirror", str(repo.path)], cwd=source)
            sandbox.github.star(sandbox.github.tokens[tokens[0]].login, bench.full_name)
            parts: dict[str, Part] = {}
            progress("(4) first mirror …")
            parts["first mirror"] = first_mirror(bench, options.runs, verified)
            progress("(2) unchanged re-sync …")
            parts["unchanged re-sync"] = unchanged(bench, options.runs)
            progress("(1) start-up …")
            parts["start-up"] = start_up(bench, options.runs)
            progress("(5) one new commit …")
            parts["one new commit"] = one_new_commit(bench, options.runs, a_file_of(source))
            progress(f"(6) serve mirroring {options.serve_mib} MiB …")
            parts["serve memory"] = serve_memory(bench, options.serve_mib)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "git": git_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "objects": objects,
        "runs": options.runs,
        "parts": {
            name: {"figures": p.figures, "facts": p.facts, "targets": p.targets}
            for name, p in parts.items()
        },
        "verified": verified,
        "targets_met": all(all(p.targets.values()) for p in parts.values()),
    }


def format_results(results: dict[str, Any]) -> str:
    lines = [
        f"epicstar command benchmark  {results['date']}  {results['cpus']} CPUs  "
        f"Python {results['python']}  git {results['git']}",
        f"repository of {results['objects']:,} objects; {results['runs']} runs per contender "
        f"(median, then every run); load average before "
        f"{' '.join(f'{x:.1f}' for x in results['load_average_before'])}, after "
        f"{' '.join(f'{x:.1f}' for x in results['load_average_after'])}",
    ]
    for name, part in results["parts"].items():
        lines.append(f"{name}")
        for figure, values in part["figures"].items():
            every = ", ".join(_number(v) for v in values)
            lines.append(f"  {figure:<44} {_number(median(values)):>12}   runs: {every}")
        for fact, value in part["facts"].items():
            lines.append(f"  {fact}: {_fact(value)}")
        for target, met in part["targets"].items():
            lines.append(f"  target {target}: {'MET' if met else 'NOT MET'}")
    lines.append("TARGETS MET" if results["targets_met"] else "TARGETS NOT MET")
    return "\n".join(lines)


def _number(value: float) -> str:
    if float(value).is_integer() and value >= 100:
        return f"{int(value):,}"
    return f"{value:.3f}"


def _fact(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fact(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(str(item) for item in value) or "none"
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    return run_main(
        "epicstar-command-bench-",
        lambda scratch: run_benchmark(options, scratch),
        format_results,
        options.json_path,
    )


if __name__ == "__main__":
    sys.exit(main())

"""Figures of an LFS benchmark run: per situation, both contenders' times and LFS traffic;
the targets, the printed table and the JSON file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.lfs_contenders import FloorRun, SyncRun
from benchmarks.lfs_traffic import LfsTraffic
from benchmarks.report import FIRST_MIRROR_MAX_RATIO, Samples


@dataclass(frozen=True)
class EpicstarRun:
    sync: SyncRun
    traffic: LfsTraffic


@dataclass(frozen=True)
class PlainRun:
    floor: FloorRun
    traffic: LfsTraffic


@dataclass(frozen=True)
class Situation:
    """One situation, (a), (b) or (c): each contender's timed runs, in the order they ran."""

    key: str  # JSON key
    title: str
    epicstar: tuple[EpicstarRun, ...]
    floor: tuple[PlainRun, ...]

    @property
    def epicstar_samples(self) -> Samples:
        return Samples(tuple(run.sync.seconds for run in self.epicstar))

    @property
    def floor_samples(self) -> Samples:
        return Samples(tuple(run.floor.seconds for run in self.floor))

    @property
    def ratio(self) -> float:
        """epicstar's median over the floor's."""
        return self.epicstar_samples.median / self.floor_samples.median

    @property
    def pass_ratio(self) -> float:
        """The median of epicstar's pass alone (its own figure) over the floor's median."""
        return Samples(tuple(run.sync.pass_seconds for run in self.epicstar)).median / (
            self.floor_samples.median
        )

    @property
    def ratio_of_mins(self) -> float:
        return self.epicstar_samples.min / self.floor_samples.min

    @property
    def epicstar_lfs_requests(self) -> int:
        return max(run.traffic.requests for run in self.epicstar)

    def to_json(self) -> dict[str, Any]:
        return {
            "epicstar": {
                **self.epicstar_samples.to_json(),
                "command": "epicstar sync --json",
                "pass_seconds": [run.sync.pass_seconds for run in self.epicstar],
                "outside_pass_seconds": [
                    run.sync.seconds - run.sync.pass_seconds for run in self.epicstar
                ],
                "lfs_reported": [run.sync.lfs for run in self.epicstar],
                "lfs_requests": [run.traffic.to_json() for run in self.epicstar],
            },
            "plain_git_floor": {
                **self.floor_samples.to_json(),
                "steps": [dict(run.floor.steps) for run in self.floor],
                "lfs_commands_seconds": [run.floor.lfs_seconds() for run in self.floor],
                "lfs_requests": [run.traffic.to_json() for run in self.floor],
            },
            "epicstar_over_floor": self.ratio,
            "epicstar_over_floor_of_mins": self.ratio_of_mins,
            "epicstar_pass_over_floor": self.pass_ratio,
        }


@dataclass(frozen=True)
class Environment:
    date: str
    git_version: str
    git_lfs_version: str
    cpus: int
    python: str
    load_average_before: tuple[float, float, float]
    load_average_after: tuple[float, float, float]


@dataclass(frozen=True)
class Results:
    environment: Environment
    repository: dict[str, Any]
    runs: int
    warmup: bool
    first: Situation
    unchanged: Situation
    one_new_file: Situation
    verified: tuple[str, ...]

    @property
    def first_met(self) -> bool:
        return self.first.ratio <= FIRST_MIRROR_MAX_RATIO

    @property
    def unchanged_met(self) -> bool:
        return self.unchanged.epicstar_lfs_requests == 0

    @property
    def targets_met(self) -> bool:
        return self.first_met and self.unchanged_met

    def to_json(self) -> dict[str, Any]:
        env = self.environment
        return {
            "environment": {
                "date": env.date,
                "git_version": env.git_version,
                "git_lfs_version": env.git_lfs_version,
                "cpus": env.cpus,
                "python": env.python,
                "load_average_before": list(env.load_average_before),
                "load_average_after": list(env.load_average_after),
            },
            "repository": self.repository,
            "runs": self.runs,
            "warmup": self.warmup,
            "first_mirror": {
                **self.first.to_json(),
                "target": f"epicstar <= {FIRST_MIRROR_MAX_RATIO:.2f}x floor",
                "met": self.first_met,
            },
            "unchanged_resync": {
                **self.unchanged.to_json(),
                "epicstar_lfs_requests": self.unchanged.epicstar_lfs_requests,
                "target": "epicstar makes no LFS request",
                "met": self.unchanged_met,
            },
            "one_new_file": self.one_new_file.to_json(),
            "verified": list(self.verified),
            "targets_met": self.targets_met,
        }


def _seconds(values: Sequence[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _situation_rows(situation: Situation, verdict: str) -> list[str]:
    epicstar, floor = situation.epicstar_samples, situation.floor_samples
    first_epicstar, first_floor = situation.epicstar[0], situation.floor[0]
    passes = [run.sync.pass_seconds for run in situation.epicstar]
    floor_lfs = [run.floor.lfs_seconds() for run in situation.floor]
    return [
        situation.title,
        f"  {'epicstar sync':<22}{epicstar.median:9.3f} s {epicstar.min:9.3f} s   "
        f"runs: {_seconds(epicstar.seconds)}",
        f"  {'':<22}its pass (epicstar's own figure): {_seconds(passes)} s "
        f"(median {situation.pass_ratio:.2f}x the floor's)",
        f"  {'':<22}LFS: {first_epicstar.traffic.summary()}",
        f"  {'plain git + git-lfs':<22}{floor.median:9.3f} s {floor.min:9.3f} s   "
        f"runs: {_seconds(floor.seconds)}",
        f"  {'':<22}of which git lfs fetch+push: {_seconds(floor_lfs)} s",
        f"  {'':<22}LFS: {first_floor.traffic.summary()}",
        f"  {'epicstar / floor':<22}{situation.ratio:9.2f} x {situation.ratio_of_mins:9.2f} x"
        + (f"   {verdict}" if verdict else ""),
    ]


def format_table(results: Results) -> str:
    env, repo = results.environment, results.repository
    first_verdict = (
        f"target: <= {FIRST_MIRROR_MAX_RATIO:.2f}x: {'MET' if results.first_met else 'NOT MET'}"
    )
    unchanged_verdict = (
        f"target: no LFS request: {'MET' if results.unchanged_met else 'NOT MET'} "
        f"({results.unchanged.epicstar_lfs_requests} by epicstar)"
    )
    lines = [
        f"epicstar LFS benchmark  {env.date}  git {env.git_version}  git-lfs "
        f"{env.git_lfs_version}  {env.cpus} CPUs  Python {env.python}",
        f"repository {repo['full_name']}: {repo['lfs_objects']} LFS objects, "
        f"{repo['lfs_bytes'] / 1024 / 1024:.1f} MiB, in {repo['lfs_commits']} commits "
        "on 2 branches and a tag",
        f"{results.runs} interleaved runs per contender"
        + (" after an untimed warm-up" if results.warmup else "")
        + "; load average before "
        + " ".join(f"{value:.1f}" for value in env.load_average_before)
        + ", after "
        + " ".join(f"{value:.1f}" for value in env.load_average_after),
        "",
        f"  {'':<22}{'median':>11} {'min':>11}",
        *_situation_rows(results.first, first_verdict),
        *_situation_rows(results.unchanged, unchanged_verdict),
        *_situation_rows(results.one_new_file, ""),
        "verified:",
        *(f"  {check}" for check in results.verified),
        "all targets met" if results.targets_met else "TARGETS NOT MET",
    ]
    return "\n".join(lines)

"""Figures of a benchmark run: statistics, targets, the printed table and the JSON file."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.gitplain import RepoFacts

FIRST_MIRROR_MAX_RATIO = 1.10  # epicstar may take at most 10 % longer than plain git
UNCHANGED_MIN_SPEEDUP = 50.0  # epicstar must be at least 50x faster than the naive design


@dataclass(frozen=True)
class Samples:
    """Wall-clock seconds of one contender's timed runs, in the order they ran."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def min(self) -> float:
        return min(self.seconds)

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.min, "samples": list(self.seconds)}


@dataclass(frozen=True)
class Comparison:
    """epicstar against one baseline, with the target on the ratio of their medians."""

    title: str
    epicstar: Samples
    baseline_name: str
    baseline: Samples
    ratio_name: str  # JSON key
    ratio_label: str  # in the table
    ratio: float  # of the medians: what the target is checked on
    ratio_of_mins: float  # less disturbed by other load on the machine; for information
    target: str
    met: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "epicstar": self.epicstar.to_json(),
            self.baseline_name: self.baseline.to_json(),
            self.ratio_name: self.ratio,
            f"{self.ratio_name}_of_mins": self.ratio_of_mins,
            "target": self.target,
            "met": self.met,
        }


def first_mirror(epicstar: Samples, floor: Samples) -> Comparison:
    ratio = epicstar.median / floor.median
    return Comparison(
        title="(a) first mirror",
        epicstar=epicstar,
        baseline_name="plain_git_floor",
        baseline=floor,
        ratio_name="epicstar_over_floor",
        ratio_label="epicstar / floor",
        ratio=ratio,
        ratio_of_mins=epicstar.min / floor.min,
        target=f"epicstar <= {FIRST_MIRROR_MAX_RATIO:.2f}x floor",
        met=ratio <= FIRST_MIRROR_MAX_RATIO,
    )


def unchanged_resync(epicstar: Samples, naive: Samples) -> Comparison:
    speedup = naive.median / epicstar.median
    return Comparison(
        title="(b) unchanged re-sync",
        epicstar=epicstar,
        baseline_name="naive_clone_push",
        baseline=naive,
        ratio_name="naive_over_epicstar",
        ratio_label="naive / epicstar",
        ratio=speedup,
        ratio_of_mins=naive.min / epicstar.min,
        target=f"epicstar >= {UNCHANGED_MIN_SPEEDUP:.0f}x faster than naive",
        met=speedup >= UNCHANGED_MIN_SPEEDUP,
    )


@dataclass(frozen=True)
class Environment:
    date: str
    git_version: str
    cpus: int
    python: str


@dataclass(frozen=True)
class Results:
    environment: Environment
    source: str  # "generated" or the path given with --repo
    facts: RepoFacts
    runs: int
    first: Comparison
    unchanged: Comparison
    refs_pushed_first: int
    verified: tuple[str, ...]
    peak_rss_kib: int  # the benchmark process: sandbox servers and epicstar, in-process
    # The largest child (git of both sides, the sandbox's http-backend); on Linux never below
    # the benchmark's own RSS when it was spawned, as a child's peak includes its pre-exec image.
    peak_child_rss_kib: int

    @property
    def targets_met(self) -> bool:
        return self.first.met and self.unchanged.met

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": asdict(self.environment),
            "source": self.source,
            "repository": {**asdict(self.facts), "mirrored_refs": self.facts.mirrored_refs},
            "runs": self.runs,
            "first_mirror": {
                **self.first.to_json(),
                "refs_pushed_by_epicstar": self.refs_pushed_first,
            },
            "unchanged_resync": self.unchanged.to_json(),
            "peak_rss_kib": {
                "benchmark": self.peak_rss_kib,
                "children": self.peak_child_rss_kib,
            },
            "verified": list(self.verified),
            "targets_met": self.targets_met,
        }


def _mib(size: float) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def _seconds(value: float) -> str:
    return f"{value:10.3f} s"


def _comparison_rows(comparison: Comparison, baseline_label: str) -> list[str]:
    verdict = "MET" if comparison.met else "NOT MET"
    rows = [comparison.title]
    for label, samples in (
        ("epicstar mirror_once", comparison.epicstar),
        (baseline_label, comparison.baseline),
    ):
        rows.append(f"  {label:<28}{_seconds(samples.median)}  {_seconds(samples.min)}")
    ratios = f"{comparison.ratio:10.2f} x  {comparison.ratio_of_mins:10.2f} x"
    rows.append(f"  {comparison.ratio_label:<28}{ratios}   target: {comparison.target}: {verdict}")
    return rows


def format_table(results: Results) -> str:
    facts, env = results.facts, results.environment
    lines = [
        f"epicstar mirror benchmark  {env.date}  git {env.git_version}  {env.cpus} CPUs  "
        f"Python {env.python}",
        f"repository ({results.source}): {facts.objects:,} objects, pack {_mib(facts.pack_bytes)}, "
        f"{facts.heads} heads, {facts.tags} tags, {facts.pull_refs} refs/pull/* "
        f"(not mirrored), {facts.other_refs} other refs",
        f"{results.runs} interleaved runs per contender after an untimed warm-up; "
        "targets apply to the ratio of the medians",
        "",
        f"  {'':<28}{'median':>12}  {'min':>12}",
        *_comparison_rows(results.first, "plain-git floor"),
        *_comparison_rows(results.unchanged, "naive clone+push --mirror"),
        "",
        f"peak RSS (getrusage): benchmark process {_mib(results.peak_rss_kib * 1024)} "
        "(sandbox servers and epicstar run in it)",
        f"  largest child (git, http-backend) <= {_mib(results.peak_child_rss_kib * 1024)} "
        "(Linux counts the parent's resident set a child starts with)",
        "verified:",
        *(f"  {check}" for check in results.verified),
        "all targets met" if results.targets_met else "TARGETS NOT MET",
    ]
    return "\n".join(lines)

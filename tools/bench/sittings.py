"""Ratios across sittings: a benchmark target counts as met only when it
holds in every one of at least three separate sittings.

A sitting is one benchmark run (or one round of `bench.py --rounds`). Each
appends one JSON line to a history file: when, on what machine, under what
load, and for every case its wall and CPU ratios and targets. `summarize`
turns a history into one row per case: the spread of its ratios over the
sittings (min / median / max), and whether the target holds in all of them,
fails in all of them, or is crossed by the spread.

  python3 tools/bench/sittings.py HISTORY.jsonl   # prints the Markdown table

Python 3 standard library only.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Optional

MIN_SITTINGS = 3


class Verdict(Enum):
    MET = "met"                 # >= MIN_SITTINGS sittings, all at or above target
    CROSSES = "spread crosses"  # some sittings above, some below
    MISSED = "missed"           # every sitting below target
    TOO_FEW = "too few sittings"
    NO_TARGET = "-"


@dataclass
class CaseRatios:
    case: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    target: Optional[float] = None      # on the wall ratio
    cpu_target: Optional[float] = None  # on the CPU ratio, when there is one

    def verdict(self) -> Verdict:
        if self.target is None and self.cpu_target is None:
            return Verdict.NO_TARGET
        checks = []
        if self.target is not None:
            checks.append([r >= self.target for r in self.wall])
        if self.cpu_target is not None and self.cpu:
            checks.append([r >= self.cpu_target for r in self.cpu])
        held = [all(c[i] for c in checks) for i in range(len(self.wall))]
        if not any(held):
            return Verdict.MISSED
        if not all(held):
            return Verdict.CROSSES
        if len(self.wall) < MIN_SITTINGS:
            return Verdict.TOO_FEW
        return Verdict.MET


def record(history: str, machine: dict, results: dict, label: str = "") -> None:
    """Appends one sitting: every result with a numeric "ratio"."""
    cases = {}
    for case, r in results.items():
        if not isinstance(r, dict) or not isinstance(r.get("ratio"), (int, float)):
            continue
        cases[case] = {k: r.get(k) for k in ("ratio", "cpu_ratio", "target", "cpu_target")}
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "label": label,
            "cpu": machine.get("cpu"), "load_before": machine.get("load_before"),
            "load_after": machine.get("load_after"), "cases": cases}
    with open(history, "a") as f:
        f.write(json.dumps(line, sort_keys=True) + "\n")


def load(history: str) -> list[dict]:
    with open(history) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarize(sittings: list[dict]) -> list[CaseRatios]:
    by_case: dict[str, CaseRatios] = {}
    for s in sittings:
        for case, r in s["cases"].items():
            c = by_case.setdefault(case, CaseRatios(case))
            c.wall.append(r["ratio"])
            if r.get("cpu_ratio") is not None:
                c.cpu.append(r["cpu_ratio"])
            # The newest sitting's targets are the ones in force.
            c.target = r.get("target")
            c.cpu_target = r.get("cpu_target")
    return list(by_case.values())


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return "%.2f / %.2f / %.2f" % (min(values), statistics.median(values), max(values))


def table(sittings: list[dict]) -> str:
    times = [s["time"] for s in sittings]
    lines = ["%d sittings, %s .. %s" % (len(sittings), times[0], times[-1]) if times else "no sittings",
             "",
             "| case | sittings | wall ratio min / median / max | cpu ratio min / median / max "
             "| target | verdict |",
             "|---|---|---|---|---|---|"]
    for c in summarize(sittings):
        target = []
        if c.target is not None:
            target.append(">= %.2fx wall" % c.target)
        if c.cpu_target is not None:
            target.append(">= %.2fx cpu" % c.cpu_target)
        verdict = c.verdict()
        shown = "**%s**" % verdict.value if verdict in (Verdict.CROSSES, Verdict.MISSED) else verdict.value
        lines.append("| %s | %d | %s | %s | %s | %s |" % (
            c.case, len(c.wall), _spread(c.wall), _spread(c.cpu), ", ".join(target) or "-", shown))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: sittings.py HISTORY.jsonl", file=sys.stderr)
        return 3
    print(table(load(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

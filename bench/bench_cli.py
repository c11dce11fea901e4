"""CLI start-up benchmark (issue 14): ``flexpipe --help`` and ``flexpipe schedule solve`` of a
one-day battery, as ratios to a bare ``python -c "import numpy, highspy"``, in one run.

Protocol: the three commands (and ``schedule solve --format json``) run as fresh processes,
interleaved round by round (so a busy machine slows them alike), ``--rounds`` times after one
warm-up round; wall time per process with ``time.perf_counter`` around ``subprocess.run``. The
ratios are of the medians. The solve's problem: one day of 15-minute steps, a 1 MW / 2 MWh
battery (90% roundtrip), hourly prices; it prints the schedule table, a chart and the costs.

``python -m bench.bench_cli [--rounds 15] [--compare BASE_DIR]`` writes bench/results/cli.md;
``--compare`` also times ``--help`` and the solve of the code in BASE_DIR (a checkout of an
earlier commit, e.g. ``git worktree add /tmp/base <commit>``), run from there with this
interpreter, in the same rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "cli.md"
GOALS = {"flexpipe --help": 2.0, "flexpipe schedule solve (one day)": 3.0}
PRICES = [50, 45, 40, 38, 37, 40, 55, 70, 80, 75, 60, 50, 45, 40, 42, 50, 65, 90, 100, 95, 80, 70]
PRICES += [60, 55]


def problem() -> dict:
    """One day, 15-minute steps, one battery, hourly prices (EUR/MWh)."""
    start = "2026-01-01T00:00:00+01:00"
    battery = {
        "soc-at-start": "1 MWh",
        "soc-min": "0.2 MWh",
        "soc-max": "2 MWh",
        "power-capacity": "1 MW",
        "roundtrip-efficiency": "90%",
    }
    price = {"start": start, "resolution": "PT1H", "unit": "EUR/MWh", "values": PRICES}
    return {
        "start": start,
        "duration": "P1D",
        "resolution": "PT15M",
        "flex-model": [battery],
        "flex-context": {"consumption-price": price},
    }


def flexpipe() -> str:
    """The console script next to this interpreter (what a user runs)."""
    script = Path(sys.executable).with_name("flexpipe")
    return str(script) if script.exists() else shutil.which("flexpipe") or "flexpipe"


def time_once(cmd: list[str], cwd: str | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    return time.perf_counter() - t0


#: the CLI of the checkout in the working directory (before the editable install on sys.path)
OTHER_CLI = "import sys; sys.argv[0] = 'flexpipe'; from flex_pipelines.cli import main; main()"


def measure(rounds: int, base: str | None = None) -> dict[str, list[float]]:
    """Wall times per command, interleaved round by round after a warm-up round."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.json"
        path.write_text(json.dumps(problem()))
        cmds = {
            "python -c 'import numpy, highspy'": [sys.executable, "-c", "import numpy, highspy"],
            "flexpipe --help": [flexpipe(), "--help"],
            "flexpipe schedule solve (one day)": [flexpipe(), "schedule", "solve", str(path)],
            "flexpipe schedule solve --format json": [
                *[flexpipe(), "schedule", "solve", str(path)],
                *["--format", "json"],
            ],
        }
        where: dict[str, str | None] = dict.fromkeys(cmds)
        if base:
            before = [sys.executable, "-c", OTHER_CLI]
            cmds["before: flexpipe --help"] = [*before, "--help"]
            cmds["before: flexpipe schedule solve (one day)"] = [*before, "schedule", "solve"]
            cmds["before: flexpipe schedule solve (one day)"].append(str(path))
            where.update(dict.fromkeys(list(cmds)[-2:], base))
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for r in range(rounds + 1):
            for name, cmd in cmds.items():
                t = time_once(cmd, where[name])
                if r:  # round 0 warms the file cache
                    times[name].append(t)
    return times


def report(
    times: dict[str, list[float]], rounds: int, load: float, before: str | None = None
) -> str:
    base_name = next(iter(times))
    base = statistics.median(times[base_name])
    lines = [
        "## CLI start-up (issue 14)",
        "",
        f"Machine: 2 cores, {platform.machine()}, Python {platform.python_version()}; date "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average at start {load:.1f}. Fresh "
        f"processes, the commands interleaved round by round, {rounds} rounds after a warm-up "
        "round; medians (and minima) of the wall time; ratios of the medians to the bare "
        "numpy + highspy import, all from this one run (`bench/bench_cli.py`).",
        "",
        "| command | median (s) | min (s) | ratio to numpy + highspy | goal |",
        "|---|---:|---:|---:|---|",
    ]
    for name, ts in times.items():
        med = statistics.median(ts)
        goal = GOALS.get(name)
        ratio = med / base
        mark = "" if goal is None else f"≤ {goal:g}× ({'met' if ratio <= goal else 'NOT met'})"
        label = f"`{name}`"
        if name.startswith("before: "):
            label = f"`{name.removeprefix('before: ')}`, before (commit {before})"
        lines.append(f"| {label} | {med:.3f} | {min(ts):.3f} | {ratio:.2f}× | {mark} |")
    lines += [
        "",
        "The solve prints the schedule table, a terminal chart and the costs (`--format json` "
        "prints JSON only). A command line imports only the command modules behind its first "
        "word, the belief store's model and polars on first use, and the usual energy units "
        "without building pint's registry; what remains for the solve is typer/rich, the "
        "scheduler (numpy, highspy, scipy.sparse) and plotext for the chart.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--compare", default=None, help="a checkout of an earlier commit")
    args = ap.parse_args(argv)
    load = os.getloadavg()[0]
    times = measure(args.rounds, args.compare)
    before = None
    if args.compare:
        git = ["git", "-C", args.compare, "rev-parse", "--short", "HEAD"]
        before = subprocess.run(git, capture_output=True, text=True).stdout.strip() or "?"
    text = report(times, args.rounds, load, before)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""``make bench``: run every benchmark, then assemble BENCHMARKS.md from bench/results/*.md.

``python -m bench.run --only store,scheduling`` runs a subset; ``--assemble`` only rebuilds
BENCHMARKS.md from the result files already there.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

ORDER = [
    "store",
    "scheduling",
    "process",
    "joint",
    "risk",
    "forecasting",
    "reporting",
    "orchestration",
    "latency",
    "cli",
    "fleet",
    "fleet_dagster",
    "api",
    "backtest",
]
HERE = Path(__file__).parent


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def assemble() -> Path:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    parts = [
        "# Benchmarks",
        "",
        f"Assembled {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {commit or '?'} by `make bench` "
        "(`python -m bench.run`). Each section was measured by `bench/bench_<name>.py` (its protocol "
        "is in its docstring and below) and states its own date.",
        "",
        f"Machine: {machine()}.",
        "",
    ]
    for name in ORDER:
        f = HERE / "results" / f"{name}.md"
        if f.exists():
            parts += [f.read_text().strip(), ""]
    out = HERE.parent / "BENCHMARKS.md"
    out.write_text("\n".join(parts) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(ORDER))
    ap.add_argument("--assemble", action="store_true", help="only rebuild BENCHMARKS.md")
    args = ap.parse_args()
    if not args.assemble:
        for name in args.only.split(","):
            try:
                mod = importlib.import_module(f"bench.bench_{name}")
            except ModuleNotFoundError:
                print(f"(no benchmark for {name})")
                continue
            print(f"=== {name} ===", flush=True)
            mod.main([]) if "argv" in mod.main.__code__.co_varnames else mod.main()
    print(f"wrote {assemble()}")


if __name__ == "__main__":
    main()

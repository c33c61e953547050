"""Benchmarks (`make bench`, `make bench-fresh`): figures against their targets.

Targets on a 2-core machine: generation <= 0.3 s; a rebuild with nothing changed (every lint
result cached) <= 0.5 s; a changed build (`build --no-cache`: every template linted, in parallel)
<= 0.8x the cfn-lint command alone on the same files; the seed pipeline's local dry run <= 10 s;
a fresh clone has its templates (`make build`) in <= 60 s. A figure over its target is printed
with OVER TARGET; `--strict` (make bench BENCH_FLAGS=--strict) also exits 1 then.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
OVER = "OVER TARGET"


def _timed(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - start


def generation(repeats: int = 5) -> float:
    sys.path.insert(0, str(ROOT))
    from generator import render
    from generator.config import build_config

    render.render_all(build_config())  # imports and caches out of the measurement
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        render.render_all(build_config())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def builds(repeats: int = 3) -> dict[str, float]:
    """Median seconds of: a cached rebuild, a build linting everything, the cfn-lint command."""
    from generator import render
    from generator.config import build_config
    from generator.validation import RULES_DIR

    config = build_config()
    with tempfile.TemporaryDirectory() as out:
        build = [str(VENV_BIN / "mlops-templates"), "build", "--output-dir", out]
        _timed(build)  # fills the lint cache for what follows
        files = [str(Path(out) / t.path) for t in render.TARGETS]
        lint = [
            str(VENV_BIN / "cfn-lint"),
            "--regions",
            *config.regions,
            "--include-checks",
            "I",
            "--append-rules",
            str(RULES_DIR),
            "--",
            *files,
        ]
        # Interleaved, so a neighbour's load on the shared cores falls on both sides of the ratio.
        cached, changed, alone = [], [], []
        for _ in range(repeats):
            cached.append(_timed(build))
            changed.append(_timed([*build, "--no-cache"]))
            alone.append(_timed(lint))
    figures = {"cached": cached, "changed": changed, "lint": alone}
    return {name: statistics.median(times) for name, times in figures.items()}


def seed_run(repeats: int = 3) -> float:
    """The seed pipeline's local dry run (preprocess, train, evaluate) as a user runs it."""
    command = [str(VENV_BIN / "mlops-templates"), "seed-run"]
    return statistics.median(_timed(command) for _ in range(repeats))


def fresh_clone() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        return _timed(["make", "build"], cwd=clone)


def line(label: str, figure: float, target: float, unit: str = " s", over: list[str] | None = None) -> str:
    """One report line; a figure above its target is marked and remembered in `over`."""
    text = f"{label:<52} {figure:6.2f}{unit} (target <= {target:g}{unit})"
    if figure > target:
        if over is not None:
            over.append(label)
        text += f"  <-- {OVER}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fresh", action="store_true", help="time `make build` in a fresh clone")
    parser.add_argument("--strict", action="store_true", help=f"exit 1 when a figure is {OVER}")
    parser.add_argument("--no-seed-run", action="store_true", help="skip the seed pipeline's dry run")
    args = parser.parse_args(argv)
    over: list[str] = []
    if args.fresh:
        print(line("fresh clone -> make build (venv, install, render, lint)", fresh_clone(), 60, over=over))
    else:
        figures = builds()
        print(line("generation alone (median of 5)", generation(), 0.3, over=over))
        print(line("rebuild, nothing changed (lint results cached)", figures["cached"], 0.5, over=over))
        print(f"{'build, every template linted (--no-cache)':<52} {figures['changed']:6.2f} s")
        print(f"{'cfn-lint command alone, same files and rules':<52} {figures['lint']:6.2f} s")
        ratio = figures["changed"] / figures["lint"]
        print(line("ratio linted build / cfn-lint command", ratio, 0.8, unit="x", over=over))
        if not args.no_seed_run:
            print(line("seed-run (local pipeline dry run)", seed_run(), 10, over=over))
    if over:
        print(f"{len(over)} figure(s) {OVER}: {', '.join(over)}")
    return 1 if over and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())

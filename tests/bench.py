"""Benchmarks (`make bench`, `make bench-fresh`): figures, not pass/fail tests.

Targets on a 2-core machine: generation <= 0.3 s; build+validate <= 1.3x the cfn-lint command
alone on the same files; the seed pipeline's local dry run <= 10 s; a fresh clone has its
templates (`make build`) in <= 60 s.
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


def build_and_lint(repeats: int = 3) -> tuple[float, float]:
    from generator import render
    from generator.config import build_config
    from generator.validation import RULES_DIR

    config = build_config()
    with tempfile.TemporaryDirectory() as out:
        build = [str(VENV_BIN / "mlops-templates"), "build", "--output-dir", out]
        _timed(build)
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
        build_time = statistics.median(_timed(build) for _ in range(repeats))
        lint_time = statistics.median(_timed(lint) for _ in range(repeats))
    return build_time, lint_time


def seed_run(repeats: int = 3) -> float:
    """The seed pipeline's local dry run (preprocess, train, evaluate) as a user runs it."""
    command = [str(VENV_BIN / "mlops-templates"), "seed-run"]
    return statistics.median(_timed(command) for _ in range(repeats))


def fresh_clone() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        return _timed(["make", "build"], cwd=clone)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fresh", action="store_true", help="time `make build` in a fresh clone")
    args = parser.parse_args()
    if args.fresh:
        seconds = fresh_clone()
        print(f"fresh clone -> make build (venv, install, render, lint): {seconds:.1f} s (target <= 60 s)")
        return 0
    gen = generation()
    build_time, lint_time = build_and_lint()
    print(f"generation alone (median of 5):            {gen:.3f} s (target <= 0.3 s)")
    print(f"mlops-templates build (render+lint+write): {build_time:.2f} s")
    print(f"cfn-lint command alone, same files/rules:  {lint_time:.2f} s")
    print(f"ratio build / cfn-lint:                    {build_time / lint_time:.2f} (target <= 1.3)")
    print(f"seed-run (local pipeline dry run):         {seed_run():.2f} s (target <= 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

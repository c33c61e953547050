"""`seed-run`: the seed pipeline's own scripts on the shipped data, without Docker or AWS."""

from __future__ import annotations

import subprocess
import sys

import click

from generator import render
from generator.commands.common import expected_errors
from generator.errors import UserError

MODEL_BUILD = render.ROOT / "seed_code" / "model_build"


@click.command("seed-run")
@expected_errors
def seed_run() -> None:
    """Run preprocess -> train (xgboost) -> evaluate -> register verdict locally."""
    try:
        import sklearn  # noqa: F401
        import xgboost  # noqa: F401
    except ImportError as error:
        raise UserError(
            f"seed-run needs the test dependencies ({error.name} is missing): run `make seed-run`"
        ) from error
    # A child process keeps the seed package's top-level name `pipelines` out of this one.
    completed = subprocess.run([sys.executable, "-m", "pipelines.abalone.local_run"], cwd=MODEL_BUILD, check=False)
    sys.exit(completed.returncode)

"""Dry run of the abalone pipeline on this machine, without Docker or AWS.

Runs the very preprocess.py and evaluate.py the pipeline uploads, trains with the `xgboost`
package using the pipeline's hyperparameters, and prints the split sizes, the test MSE and
whether the pipeline would register the model.

    python -m pipelines.abalone.local_run            # from the repository root
"""

from __future__ import annotations

import argparse
import io
import json
import math
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import xgboost

from pipelines.abalone import evaluate, model, preprocess

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "data" / "abalone.data"


def _read_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(path, delimiter=",", ndmin=2)
    return table[:, 1:], table[:, 0]


def train(base: Path) -> None:
    """Train like the built-in algorithm does and leave model/model.tar.gz as it would."""
    params, rounds = model.package_params()
    x_train, y_train = _read_split(base / "train" / "train.csv")
    x_val, y_val = _read_split(base / "validation" / "validation.csv")
    train_matrix = xgboost.DMatrix(x_train, label=y_train)
    validation_matrix = xgboost.DMatrix(x_val, label=y_val)
    booster = xgboost.train(
        params,
        train_matrix,
        num_boost_round=rounds,
        evals=[(validation_matrix, "validation")],
        verbose_eval=False,
    )
    raw = bytes(booster.save_raw(raw_format="ubj"))
    (base / "model").mkdir(parents=True, exist_ok=True)
    with tarfile.open(base / "model" / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo(evaluate.MODEL_MEMBER)
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))


def _rows(path: Path) -> int:
    with path.open() as handle:
        return sum(1 for line in handle if line.strip())


def run(data: Path, base: Path) -> dict:
    (base / "input").mkdir(parents=True)
    shutil.copy(data, base / "input" / data.name)
    preprocess.main(["--base-dir", str(base)])
    sizes = {name: _rows(base / name / f"{name}.csv") for name in preprocess.SPLIT_NAMES}
    train(base)
    evaluate.main(["--base-dir", str(base)])
    report = json.loads((base / "evaluation" / "evaluation.json").read_text())
    mse = model.mse_from_report(report)
    return {"sizes": sizes, "mse": mse, "registered": math.isfinite(mse) and mse <= model.MSE_THRESHOLD}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="local_run", description="Dry run of the abalone pipeline without Docker or AWS."
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="raw data file (default: the shipped abalone.data)"
    )
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"local_run: error: data file {args.data} does not exist", file=sys.stderr)
        return 2

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="abalone-local-") as tmp:
        result = run(args.data, Path(tmp))
    elapsed = time.perf_counter() - started

    sizes = result["sizes"]
    listed = " ".join(f"{name}={count}" for name, count in sizes.items())
    print(f"split sizes: {listed} (total {sum(sizes.values())})")
    print(f"test MSE: {result['mse']:.4f}")
    if result["registered"]:
        print(f"verdict: REGISTER (MSE {result['mse']:.4f} <= {model.MSE_THRESHOLD})")
    else:
        print(f"verdict: DO NOT REGISTER (MSE {result['mse']:.4f} > {model.MSE_THRESHOLD} or not finite)")
    print(f"elapsed: {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Score the trained model on the test split and write the evaluation report.

The same file runs in the SageMaker processing container (base directory
``/opt/ml/processing``) and locally (``--base-dir``). It is uploaded on its own and runs in
the XGBoost image, so it needs only numpy and xgboost.

Layout under the base directory:
    model/model.tar.gz          the training job's output (holds `xgboost-model`)
    test/test.csv               label first, no header
    evaluation/evaluation.json  written here; the pipeline's condition reads
                                regression_metrics.mse.value
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tarfile
from pathlib import Path

import numpy as np
import xgboost

CONTAINER_BASE_DIR = "/opt/ml/processing"
MODEL_MEMBER = "xgboost-model"

log = logging.getLogger("evaluate")


def load_booster(archive: Path) -> xgboost.Booster:
    # Built-in XGBoost 1.3-1 and later saves with Booster.save_model (not pickle); reading the
    # member into memory avoids extracting an archive onto disk.
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(MODEL_MEMBER)
        if member is None:
            raise SystemExit(f"evaluate: {archive} has no regular file {MODEL_MEMBER!r}")
        raw = member.read()
    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    return booster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-dir",
        default=CONTAINER_BASE_DIR,
        help=f"directory holding model/ and test/ (default {CONTAINER_BASE_DIR})",
    )
    args = parser.parse_args(argv)
    base = Path(args.base_dir)

    booster = load_booster(base / "model" / "model.tar.gz")
    table = np.loadtxt(base / "test" / "test.csv", delimiter=",", ndmin=2)
    labels, features = table[:, 0], table[:, 1:]
    predictions = booster.predict(xgboost.DMatrix(features))
    squared_errors = (labels - predictions) ** 2
    report = {
        "regression_metrics": {
            "mse": {
                "value": float(np.mean(squared_errors)),
                "standard_deviation": float(np.std(squared_errors)),
            }
        }
    }
    out_dir = base / "evaluation"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    log.info("test MSE %.4f on %d rows", report["regression_metrics"]["mse"]["value"], len(labels))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    sys.exit(main())

"""Split the abalone data 70/15/15 and turn it into the CSV layout built-in XGBoost reads.

The same file runs in the SageMaker processing container (base directory
``/opt/ml/processing``) and locally (``--base-dir``), so the local dry run exercises exactly
the code the pipeline uploads. It is uploaded on its own, so it imports nothing from this
repository.

Layout under the base directory:
    input/<one file>            raw data, no header
    train/train.csv             label first, no header (what built-in XGBoost expects)
    validation/validation.csv
    test/test.csv
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

CONTAINER_BASE_DIR = "/opt/ml/processing"
NUMERIC_FEATURES = [
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
]
CATEGORICAL_FEATURES = ["sex"]
LABEL = "rings"
COLUMNS = ["sex", *NUMERIC_FEATURES, LABEL]
# Cut points as fractions of the row count: 70 % train, 15 % validation, 15 % test.
TRAIN_END, VALIDATION_END = 0.70, 0.85
SPLIT_NAMES = ("train", "validation", "test")
SEED = 42

log = logging.getLogger("preprocess")


def _read_input(input_dir: Path) -> pd.DataFrame:
    files = sorted(path for path in input_dir.iterdir() if path.is_file()) if input_dir.is_dir() else []
    if len(files) != 1:
        raise SystemExit(f"preprocess: expected exactly one data file in {input_dir}, found {len(files)}")
    return pd.read_csv(files[0], header=None, names=COLUMNS, dtype={"sex": str})


def _transformer() -> ColumnTransformer:
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    # sparse_threshold=0 keeps the output dense: the CSV writer below needs a plain array.
    return ColumnTransformer(
        [("numeric", numeric, NUMERIC_FEATURES), ("categorical", categorical, CATEGORICAL_FEATURES)],
        sparse_threshold=0,
    )


def split(frame: pd.DataFrame, seed: int = SEED) -> dict[str, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    cuts = [int(TRAIN_END * len(frame)), int(VALIDATION_END * len(frame))]
    return {
        name: frame.iloc[rows].reset_index(drop=True)
        for name, rows in zip(SPLIT_NAMES, np.split(order, cuts), strict=True)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-dir",
        default=CONTAINER_BASE_DIR,
        help=f"directory holding input/ and receiving the splits (default {CONTAINER_BASE_DIR})",
    )
    args = parser.parse_args(argv)
    base = Path(args.base_dir)

    parts = split(_read_input(base / "input"))
    # Fit imputation and scaling on the training rows only, so no statistic of the
    # validation or test rows leaks into the features the model is judged on.
    transformer = _transformer().fit(parts["train"][NUMERIC_FEATURES + CATEGORICAL_FEATURES])
    for name, part in parts.items():
        features = transformer.transform(part[NUMERIC_FEATURES + CATEGORICAL_FEATURES])
        table = np.column_stack([part[LABEL].to_numpy(dtype=float), features])
        out_dir = base / name
        out_dir.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(table).to_csv(out_dir / f"{name}.csv", header=False, index=False)
        log.info("%s: %d rows", name, len(part))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    sys.exit(main())

"""Model choices the pipeline and the local dry run share, so both train the same model."""

# Built-in XGBoost image version (SageMaker algorithm mode) and the scikit-learn processing
# image; both are resolved from the image tables bundled with the SageMaker SDK.
XGBOOST_VERSION = "3.0-5"
SKLEARN_VERSION = "1.4-2"

# Hyperparameters as the built-in algorithm takes them; `num_round` is the boosting-round
# count the xgboost package calls num_boost_round.
HYPERPARAMETERS = {
    "objective": "reg:squarederror",
    "num_round": 50,
    "max_depth": 5,
    "eta": 0.2,
    "gamma": 4,
    "min_child_weight": 6,
    "subsample": 0.7,
    "seed": 0,
}

# Register the model only when the test MSE is at most this value.
MSE_THRESHOLD = 6.0
# Where evaluate.py puts the test MSE in evaluation.json (a JsonGet path).
MSE_JSON_PATH = "regression_metrics.mse.value"


def package_params() -> tuple[dict, int]:
    """The same hyperparameters for `xgboost.train`: (params, num_boost_round)."""
    params = {key: value for key, value in HYPERPARAMETERS.items() if key != "num_round"}
    return params, int(HYPERPARAMETERS["num_round"])


def mse_from_report(report: dict) -> float:
    value = report
    for part in MSE_JSON_PATH.split("."):
        value = value[part]
    return float(value)

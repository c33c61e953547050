"""The abalone example: preprocess -> train (XGBoost) -> evaluate -> condition -> register."""

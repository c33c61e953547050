"""The pipeline definition as the SageMaker SDK renders it (offline: see offline.py)."""

import json

import pytest
from offline import SAMPLE_ENV, render, walk_steps

from pipelines.abalone import model
from pipelines.abalone.pipeline import APPROVAL_PENDING, STEP_NAMES


@pytest.fixture(scope="module")
def rendered():
    return render(SAMPLE_ENV)


def _jobs(definition):
    return [s for s in walk_steps(definition["Steps"]) if s["Type"] in ("Processing", "Training")]


def test_steps_in_order(rendered):
    definition, _, _ = rendered
    names = [step["Name"] for step in walk_steps(definition["Steps"])]
    assert names == [*STEP_NAMES[:4], f"{STEP_NAMES[4]}-RegisterModel"], names


def test_every_job_tagged_and_encrypted(rendered):
    definition, _, _ = rendered
    expected = {
        "project": "fraud",
        "env": "dev",
        "sagemaker:project-name": "fraud-custom-project",
        "sagemaker:project-id": "p-abcdef123456",
    }
    key = SAMPLE_ENV["KMS_KEY_ARN"]
    jobs = _jobs(definition)
    assert len(jobs) == 3
    for job in jobs:
        args = job["Arguments"]
        tags = {tag["Key"]: tag["Value"] for tag in args.get("Tags", [])}
        assert tags == expected, f"step {job['Name']}: tags {tags}"
        resources = args.get("ProcessingResources", {}).get("ClusterConfig") or args["ResourceConfig"]
        output = args.get("ProcessingOutputConfig") or args["OutputDataConfig"]
        assert resources.get("VolumeKmsKeyId") == key, f"step {job['Name']}: volume key"
        assert output.get("KmsKeyId") == key, f"step {job['Name']}: output key"


def test_everything_stays_in_the_project_bucket(rendered):
    definition, keys, _ = rendered
    text = json.dumps(definition)
    uris = [part.split('"')[0] for part in text.split('"s3://')[1:]]
    assert uris, "no S3 URI in the definition"
    for uri in uris:
        assert uri.startswith(SAMPLE_ENV["ARTIFACT_BUCKET"] + "/"), f"S3 URI outside the project bucket: s3://{uri}"
    assert any(k.endswith("/preprocess.py") for k in keys) and any(k.endswith("/evaluate.py") for k in keys), keys


def test_registration_and_condition(rendered):
    definition, _, _ = rendered
    params = {p["Name"]: p for p in definition["Parameters"]}
    assert params["ModelApprovalStatus"]["DefaultValue"] == APPROVAL_PENDING
    condition = next(s for s in walk_steps(definition["Steps"]) if s["Type"] == "Condition")
    rule = condition["Arguments"]["Conditions"][0]
    assert rule["Type"] == "LessThanOrEqualTo" and rule["RightValue"] == model.MSE_THRESHOLD == 6.0
    assert rule["LeftValue"]["Std:JsonGet"]["Path"] == model.MSE_JSON_PATH
    register = condition["Arguments"]["IfSteps"][0]["Arguments"]
    assert register["ModelPackageGroupName"] == SAMPLE_ENV["MODEL_PACKAGE_GROUP_NAME"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert {t["Key"] for t in register["Tags"]} == {"project", "env", "sagemaker:project-name", "sagemaker:project-id"}


def test_training_matches_the_local_run(rendered):
    definition, _, _ = rendered
    train = next(s for s in walk_steps(definition["Steps"]) if s["Type"] == "Training")["Arguments"]
    assert train["HyperParameters"] == {k: str(v) for k, v in model.HYPERPARAMETERS.items()}
    assert train["AlgorithmSpecification"]["TrainingImage"].endswith(f"sagemaker-xgboost:{model.XGBOOST_VERSION}")


def test_no_sagemaker_experiments(rendered):
    # With the SDK's default PipelineExperimentConfig every execution would create an experiment,
    # a trial and trial components as the pipeline role, which the project's roles may not do.
    # The SDK writes "PipelineExperimentConfig": {"ExperimentName": ..., "TrialName": ...} then,
    # and null when the pipeline passes pipeline_experiment_config=None.
    definition, _, _ = rendered
    assert definition.get("PipelineExperimentConfig") is None, definition.get("PipelineExperimentConfig")

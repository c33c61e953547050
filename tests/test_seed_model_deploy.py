"""The model-deploy seed code's scripts, run as the deploy pipeline runs them, against moto.

build.py and test/test.py run through their own ``main()`` (loaded from the seed folder, as
``python build.py`` would) inside moto's ``mock_aws``, with the environment the project
template's CodeBuild projects set; exit code, stdout and stderr are what is asserted.

What moto cannot do, and how the tests stand in for it:
- moto has no inference data plane. Its invoke_endpoint_async writes the answer it was told
  through moto's own API (/moto-api/static/sagemaker/async-endpoint-results) into a bucket it
  creates, and returns that OutputLocation/FailureLocation; the tests queue the endpoint's
  answer there. It does not check that the endpoint exists, nor read the input object.
- The timeout case: moto writes the answer at invocation time. The test first invokes with the
  same InputLocation test.py will use (moto then returns the same locations again) and removes
  the objects moto wrote: an endpoint that has not answered yet.
- moto filters before paging, so SageMaker's empty filtered pages (with a NextToken) never occur.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import boto3
import pandas as pd
import pytest
import requests
from moto import mock_aws

from generator import endpoint_template, tagging
from generator.config import build_config

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seed_code" / "model_deploy"
DATA = ROOT / "seed_code" / "model_build" / "data" / "abalone.data"
PREPROCESS = ROOT / "seed_code" / "model_build" / "pipelines" / "abalone" / "preprocess.py"
REGION = "us-east-1"
ACCOUNT = "123456789012"
PROJECT, PROJECT_ID = "fraud-custom-project", "p-abcdefabcdef"
GROUP = f"{PROJECT}-{PROJECT_ID}"
BUCKET = f"mlops-{PROJECT_ID}-{ACCOUNT}"
HOLDOUT_ROWS = 20


# ---- the held-out rows -------------------------------------------------------------------


def holdout_text() -> str:
    """The first rows of model_build's test split, in the model's input layout (label first).

    Built by model_build's own preprocess.py (split and transformer fitted on the training
    rows), so the request matches what the trained model reads.
    """
    spec = importlib.util.spec_from_file_location("seed_preprocess", PREPROCESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame = pd.read_csv(DATA, header=None, names=module.COLUMNS, dtype={"sex": str})
    parts = module.split(frame)
    columns = module.NUMERIC_FEATURES + module.CATEGORICAL_FEATURES
    transformer = module._transformer().fit(parts["train"][columns])
    rows = parts["test"].iloc[:HOLDOUT_ROWS]
    features = transformer.transform(rows[columns])
    lines = [
        ",".join([f"{label:g}", *(f"{value:.6f}" for value in row)])
        for label, row in zip(rows[module.LABEL], features, strict=True)
    ]
    return "\n".join(lines) + "\n"


def test_shipped_holdout_rows_match_model_build_preprocessing():
    shipped = (SEED / "test" / "holdout.csv").read_text(encoding="utf-8")
    assert shipped == holdout_text(), (
        "seed_code/model_deploy/test/holdout.csv differs from model_build's preprocessing: "
        "regenerate it with tests/test_seed_model_deploy.py:holdout_text()"
    )
    assert len(shipped.splitlines()) == HOLDOUT_ROWS


# ---- moto and the scripts ------------------------------------------------------------------

MOTO_API = "http://motoapi.amazonaws.com"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield MOTO_API


def client(name: str):
    return boto3.client(name, region_name=REGION)


def seed_env(
    key_arn: str = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000", kind: str = "async"
) -> dict:
    return {
        "SAGEMAKER_PROJECT_NAME": PROJECT,
        "SAGEMAKER_PROJECT_ID": PROJECT_ID,
        "SAGEMAKER_PROJECT_ARN": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:project/{PROJECT}",
        "ARTIFACT_BUCKET": BUCKET,
        "KMS_KEY_ARN": key_arn,
        "REQUIRED_TAGS": json.dumps({"project": "fraud", "env": "dev"}),
        "MODEL_PACKAGE_GROUP_NAME": GROUP,
        "SAGEMAKER_EXECUTION_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/mlops-custom-project-sagemaker",
        "ENDPOINT_KIND": kind,
        "ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
    }


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_script(monkeypatch, capsys):
    """Run a seed script's main(argv) in `cwd` with exactly the given seed environment."""

    def run(script: Path, args: list[str], env: dict, cwd: Path) -> Run:
        for name in list(os.environ):
            if name.startswith("SAGEMAKER_") or name in seed_env():
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(cwd)
        spec = importlib.util.spec_from_file_location(f"seed_{script.stem}", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        capsys.readouterr()
        code = module.main(args)
        out = capsys.readouterr()
        return Run(code, out.out, out.err)

    return run


def assert_one_line_error(result: Run, *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ---- build.py --------------------------------------------------------------------------------


def deploy_folder(tmp_path: Path, kind: str = "async") -> Path:
    folder = tmp_path / "model_deploy"
    folder.mkdir()
    for name in ("build.py", "staging-config.json", "prod-config.json"):
        (folder / name).write_bytes((SEED / name).read_bytes())
    template = endpoint_template.build(build_config({"endpoint_kind": kind})).to_yaml()
    (folder / "endpoint-config-template.yml").write_text(template, encoding="utf-8")
    return folder


def register_packages(statuses: list[str]) -> list[str]:
    sm = client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    arns = []
    for status in statuses:
        arns.append(
            sm.create_model_package(
                ModelPackageGroupName=GROUP,
                ModelApprovalStatus=status,
                InferenceSpecification={
                    "Containers": [{"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/xgboost:1"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )["ModelPackageArn"]
        )
    return arns


def mixed_statuses(count: int = 150) -> list[str]:
    cycle = ["PendingManualApproval", "Approved", "Rejected", "PendingManualApproval", "Approved"]
    statuses = [cycle[i % len(cycle)] for i in range(count)]
    # The newest approved is not the newest package, and later packages are not approved.
    statuses[-3:] = ["Rejected", "PendingManualApproval", "Rejected"]
    return statuses


def test_build_picks_the_newest_approved_of_150_over_several_pages(aws, run_script, tmp_path):
    statuses = mixed_statuses()
    arns = register_packages(statuses)
    newest_approved = max(i for i, s in enumerate(statuses) if s == "Approved")
    oldest_approved = min(i for i, s in enumerate(statuses) if s == "Approved")
    # moto's default order is ascending: without SortOrder=Descending the first entry of the
    # first page (page size 10) would be the oldest approved.
    listed = client("sagemaker").list_model_packages(
        ModelPackageGroupName=GROUP, ModelApprovalStatus="Approved", MaxResults=10
    )
    assert listed["ModelPackageSummaryList"][0]["ModelPackageArn"] == arns[oldest_approved]
    assert "NextToken" in listed

    folder = deploy_folder(tmp_path)
    result = run_script(folder / "build.py", ["--page-size", "10"], seed_env(), folder)
    assert result.returncode == 0, result.stderr
    for stage in ("staging", "prod"):
        export = json.loads((folder / f"{stage}-config-export.json").read_text())
        parameters, tags = export["Parameters"], export["Tags"]
        assert parameters["ModelPackageArn"] == arns[newest_approved], stage
        assert parameters["StageName"] == stage
        assert parameters[tagging.tag_parameter_name("project")] == "fraud"
        assert parameters[tagging.tag_parameter_name("env")] == "dev"
        assert tags["project"] == "fraud" and tags["env"] == "dev", tags
        assert tags[tagging.PROJECT_NAME_TAG] == PROJECT and tags[tagging.PROJECT_ID_TAG] == PROJECT_ID
        assert len(parameters["ConfigHash"]) == 7
    staging = json.loads((folder / "staging-config-export.json").read_text())["Parameters"]
    prod = json.loads((folder / "prod-config-export.json").read_text())["Parameters"]
    assert prod["MinCapacity"] == "1" and staging["ConfigHash"] != prod["ConfigHash"]
    assert json.loads((folder / "build-result.json").read_text())["model_approved"] == "true"


def test_build_exports_deploy_on_moto_with_the_real_template(aws, run_script, tmp_path):
    """The configuration build.py writes is accepted by the template CloudFormation deploys."""
    key = client("kms").create_key()["KeyMetadata"]["Arn"]
    client("s3").create_bucket(Bucket=BUCKET)
    arns = register_packages(["Approved"])
    folder = deploy_folder(tmp_path)
    result = run_script(folder / "build.py", [], seed_env(key), folder)
    assert result.returncode == 0, result.stderr
    export = json.loads((folder / "staging-config-export.json").read_text())
    template = endpoint_template.build(build_config())
    declared = set(template.parameters)
    assert set(export["Parameters"]) <= declared
    assert {p for p, v in template.parameters.items() if v.properties.get("Default") is None} <= set(
        export["Parameters"]
    )
    cf = client("cloudformation")
    cf.create_stack(
        StackName=f"{GROUP}-deploy-staging",
        TemplateBody=template.to_json(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in export["Parameters"].items()],
        Tags=[{"Key": k, "Value": v} for k, v in export["Tags"].items()],
    )
    stack = cf.describe_stacks(StackName=f"{GROUP}-deploy-staging")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    sm = client("sagemaker")
    name = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["EndpointName"]
    config = sm.describe_endpoint_config(
        EndpointConfigName=sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    )
    assert config["KmsKeyId"] == key and arns


def test_build_without_an_approved_model_fails_with_one_line(aws, run_script, tmp_path):
    register_packages(["PendingManualApproval", "Rejected"] * 5)
    folder = deploy_folder(tmp_path)
    result = run_script(folder / "build.py", [], seed_env(), folder)
    assert result.returncode == 1
    assert_one_line_error(result, "no approved model package", GROUP)
    assert not (folder / "staging-config-export.json").exists()


def test_first_run_without_a_model_succeeds_and_tells_the_pipeline_to_skip(aws, run_script, tmp_path):
    register_packages(["PendingManualApproval"])
    folder = deploy_folder(tmp_path)
    result = run_script(folder / "build.py", ["--allow-no-model"], seed_env(), folder)
    assert result.returncode == 0, result.stderr
    assert "nothing to deploy" in result.stdout
    assert json.loads((folder / "build-result.json").read_text()) == {"model_approved": "false"}
    assert not (folder / "prod-config-export.json").exists()


def test_build_realtime_drops_autoscaling_parameters(aws, run_script, tmp_path):
    register_packages(["Approved"])
    folder = deploy_folder(tmp_path, "realtime")
    result = run_script(folder / "build.py", [], seed_env(kind="realtime"), folder)
    assert result.returncode == 0, result.stderr
    parameters = json.loads((folder / "prod-config-export.json").read_text())["Parameters"]
    assert "MinCapacity" not in parameters and "MaxCapacity" not in parameters
    assert set(parameters) <= set(endpoint_template.build(build_config({"endpoint_kind": "realtime"})).parameters)


@pytest.mark.parametrize(
    "change, fragments",
    [
        ({"KMS_KEY_ARN": ""}, ["KMS_KEY_ARN"]),
        ({"REQUIRED_TAGS": "{not json"}, ["REQUIRED_TAGS", "not JSON"]),
        ({"REQUIRED_TAGS": json.dumps({"project": "fraud", "env": ""})}, ["REQUIRED_TAGS", "env"]),
        ({"REQUIRED_TAGS": json.dumps({"project": "fraud"})}, ["TagEnv"]),
        ({"ENDPOINT_KIND": "batch"}, ["ENDPOINT_KIND", "async, realtime"]),
        ({"ENDPOINT_KIND": "realtime"}, ["ENDPOINT_KIND", "'async' endpoint"]),
    ],
)
def test_build_bad_environment_is_one_line(aws, run_script, tmp_path, change, fragments):
    register_packages(["Approved"])
    folder = deploy_folder(tmp_path)
    result = run_script(folder / "build.py", [], {**seed_env(), **change}, folder)
    assert_one_line_error(result, *fragments)


def test_build_tag_parameter_names_match_the_generator():
    spec = importlib.util.spec_from_file_location("seed_build", SEED / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for key in ("project", "env", "cost-center", "team.name", "a_b:c"):
        assert module.tag_parameter_name(key) == tagging.tag_parameter_name(key), key


# ---- test/test.py ------------------------------------------------------------------------------


def deploy_staging(kind: str = "async") -> str:
    """The real endpoint template on moto's CloudFormation; returns the KMS key ARN."""
    key = client("kms").create_key()["KeyMetadata"]["Arn"]
    client("s3").create_bucket(Bucket=BUCKET)
    package = register_packages(["Approved"])[0]
    parameters = {
        "SageMakerProjectName": PROJECT,
        "SageMakerProjectId": PROJECT_ID,
        "StageName": "staging",
        "ModelPackageArn": package,
        "ConfigHash": "abc1234",
        "KmsKeyArn": key,
        "ArtifactBucket": BUCKET,
        "ModelExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/mlops-custom-project-sagemaker",
        "TagProject": "fraud",
        "TagEnv": "dev",
    }
    client("cloudformation").create_stack(
        StackName=f"{GROUP}-deploy-staging",
        TemplateBody=endpoint_template.build(build_config({"endpoint_kind": kind})).to_json(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    return key


def queue_async_answer(data: str, failure: bool = False) -> None:
    # moto's own API for the answer its invoke_endpoint_async returns (no data plane in moto).
    response = requests.post(
        f"{MOTO_API}/moto-api/static/sagemaker/async-endpoint-results",
        json={"account_id": ACCOUNT, "region": REGION, "results": [{"data": data, "is_failure": failure}]},
        timeout=10,
    )
    response.raise_for_status()


def run_test_py(run_script, tmp_path: Path, env: dict, *extra: str) -> tuple[Run, dict]:
    results = tmp_path / "test-results.json"
    result = run_script(
        SEED / "test" / "test.py",
        ["--results", str(results), "--poll", "0.2", "--timeout", "2", "--run-id", "run-1", *extra],
        env,
        tmp_path,
    )
    return result, json.loads(results.read_text())


def good_answer(rows: int = HOLDOUT_ROWS) -> str:
    return "\n".join(f"{8 + i * 0.25:.3f}" for i in range(rows)) + "\n"


def test_staging_test_passes_on_a_good_async_answer(aws, run_script, tmp_path):
    key = deploy_staging()
    queue_async_answer(good_answer())
    result, results = run_test_py(run_script, tmp_path, seed_env(key))
    assert result.returncode == 0, result.stderr
    assert results["passed"] is True and results["rows"] == HOLDOUT_ROWS
    assert results["predictions"][0] == 8.0
    # The request went up under the customer key.
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in client("cloudformation").describe_stacks(StackName=f"{GROUP}-deploy-staging")["Stacks"][0]["Outputs"]
    }
    input_key = outputs["AsyncInputPath"].split(f"s3://{BUCKET}/", 1)[1] + "/run-1/input.csv"
    head = client("s3").head_object(Bucket=BUCKET, Key=input_key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("not a number\n", "not numbers"),
        ("8.0\n9.0\n", "expected 20 predictions, got 2"),
        ("\n".join(["8.0"] * 19 + ["57.0"]) + "\n", "plausible ring range"),
    ],
)
def test_staging_test_fails_on_implausible_answers(aws, run_script, tmp_path, answer, reason):
    key = deploy_staging()
    queue_async_answer(answer)
    result, results = run_test_py(run_script, tmp_path, seed_env(key))
    assert_one_line_error(result, reason)
    assert results["passed"] is False and reason in results["reason"]


def test_staging_test_fails_on_a_failure_object(aws, run_script, tmp_path):
    key = deploy_staging()
    queue_async_answer("ModelError: the container returned 500", failure=True)
    result, results = run_test_py(run_script, tmp_path, seed_env(key))
    assert_one_line_error(result, "failure object", "ModelError")
    assert results["passed"] is False


def test_staging_test_fails_on_timeout(aws, run_script, tmp_path):
    key = deploy_staging()
    queue_async_answer(good_answer())
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in client("cloudformation").describe_stacks(StackName=f"{GROUP}-deploy-staging")["Stacks"][0]["Outputs"]
    }
    input_uri = outputs["AsyncInputPath"] + "/run-1/input.csv"
    # Same InputLocation as test.py will use: moto answers it with the same locations again.
    response = client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName=outputs["EndpointName"], InputLocation=input_uri
    )
    s3 = client("s3")
    for uri in (response["OutputLocation"], response["FailureLocation"]):
        bucket, key_name = uri[len("s3://") :].split("/", 1)
        s3.delete_object(Bucket=bucket, Key=key_name)
    result, results = run_test_py(run_script, tmp_path, seed_env(key))
    assert_one_line_error(result, "no output at", "after 2 s")
    assert results["passed"] is False


def test_staging_test_realtime_reads_the_answer(aws, run_script, tmp_path):
    key = deploy_staging("realtime")
    requests.post(
        f"{MOTO_API}/moto-api/static/sagemaker/endpoint-results",
        json={
            "account_id": ACCOUNT,
            "region": REGION,
            "results": [
                {
                    "Body": good_answer(),
                    "ContentType": "text/csv",
                    "InvokedProductionVariant": "AllTraffic",
                    "CustomAttributes": "",
                }
            ],
        },
        timeout=10,
    ).raise_for_status()
    result, results = run_test_py(run_script, tmp_path, seed_env(key, "realtime"))
    assert result.returncode == 0, result.stderr
    assert results["kind"] == "realtime" and results["passed"] is True


def test_staging_test_without_a_stack_fails_with_one_line(aws, run_script, tmp_path):
    result, results = run_test_py(run_script, tmp_path, seed_env())
    assert_one_line_error(result, "does not exist")
    assert results["passed"] is False

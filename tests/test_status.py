"""`status` through the real CLI: moto where it models the service, botocore's Stubber elsewhere.

moto models CodePipeline executions (every run "Succeeded"), SageMaker pipelines and their runs,
the model registry, endpoints and endpoint configs, and CloudFormation stacks. It has no
`DescribeProject`, no pipeline run that failed and no endpoint scaling: those answers come from
a Stubber (validated against the API model) on that one client, and the test checks the
requests asked for the newest first.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import urllib.request

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.server import ThreadedMotoServer

from generator import status
from test_package import run_cli
from test_publish import _assert_one_line_error, use_dummy_credentials

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
NAME = "fraud-custom-project"
ID = "p-abcdef123456"
PREFIX = f"{NAME}-{ID}"
BUILD_PIPELINE, DEPLOY_PIPELINE = f"{PREFIX}-model-build", f"{PREFIX}-model-deploy"
PIPELINE = GROUP = PREFIX
STAGING, PROD = f"{PREFIX}-staging", f"{PREFIX}-prod"
STAGING_STACK, PROD_STACK = f"{PREFIX}-deploy-staging", f"{PREFIX}-deploy-prod"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-codepipeline"
NOW = datetime.datetime(2026, 11, 1, 9, 30, tzinfo=datetime.UTC)


@pytest.fixture
def aws(monkeypatch):
    use_dummy_credentials(monkeypatch)
    with mock_aws():
        yield {s: boto3.client(s, region_name=REGION) for s in ("codepipeline", "sagemaker", "cloudformation", "iam")}


def _code_pipeline(codepipeline, name: str) -> None:
    source = {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"}
    build = {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}
    codepipeline.create_pipeline(
        pipeline={
            "name": name,
            "roleArn": ROLE,
            "artifactStore": {"type": "S3", "location": "artifact-bucket"},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "Source",
                            "actionTypeId": source,
                            "configuration": {"S3Bucket": "artifact-bucket", "S3ObjectKey": "seed.zip"},
                            "outputArtifacts": [{"name": "SourceArtifact"}],
                        }
                    ],
                },
                {
                    "name": "Build",
                    "actions": [
                        {
                            "name": "Build",
                            "actionTypeId": build,
                            "configuration": {"ProjectName": f"{PREFIX}-model-build"},
                            "inputArtifacts": [{"name": "SourceArtifact"}],
                        }
                    ],
                },
            ],
        }
    )


def _endpoint(sagemaker, name: str, instance_type: str, count: int) -> None:
    sagemaker.create_model(ModelName=f"{name}-m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "xgboost"})
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-c",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-m",
                "InitialInstanceCount": count,
                "InstanceType": instance_type,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c")


def _stack_template() -> str:
    return json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def make_project(aws) -> None:
    """A project in use: both pipelines run, four model-build runs, seven versions, two endpoints."""
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}}]}
    aws["iam"].create_role(RoleName=ROLE.rsplit("/", 1)[-1], AssumeRolePolicyDocument=json.dumps(trust))
    for name in (BUILD_PIPELINE, DEPLOY_PIPELINE):
        _code_pipeline(aws["codepipeline"], name)
        aws["codepipeline"].start_pipeline_execution(name=name)
    sagemaker = aws["sagemaker"]
    sagemaker.create_pipeline(
        PipelineName=PIPELINE, RoleArn=ROLE, PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []})
    )
    for n in range(4):
        sagemaker.start_pipeline_execution(PipelineName=PIPELINE, PipelineExecutionDisplayName=f"run-{n}")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    approvals = ["Rejected", "Approved", "Approved", "Rejected", "Approved", "Rejected", "PendingManualApproval"]
    for approval in approvals:
        sagemaker.create_model_package(ModelPackageGroupName=GROUP, ModelApprovalStatus=approval)
    _endpoint(sagemaker, STAGING, "ml.c5.large", 1)
    _endpoint(sagemaker, PROD, "ml.m5.large", 2)
    for stack in (STAGING_STACK, PROD_STACK):
        aws["cloudformation"].create_stack(StackName=stack, TemplateBody=_stack_template())


def _status(*extra: str, project_id: str | None = ID):
    with_id = ("--project-id", project_id) if project_id else ()
    return run_cli("status", "--project-name", NAME, "--region", REGION, *with_id, *extra)


def _rows(output: str) -> list[tuple[str, ...]]:
    """The table's rows (after its header) as cells; columns are two or more spaces apart."""
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("what "))
    return [tuple(re.split(r"\s{2,}", line.strip())) for line in lines[start + 1 : -1]]


def test_one_table_of_pipelines_runs_versions_endpoints_and_stacks(aws):
    make_project(aws)
    result = _status()
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert [row[:3] for row in rows[:3]] == [
        ("CodePipeline (model build)", BUILD_PIPELINE, "Succeeded"),
        ("CodePipeline (deploy)", DEPLOY_PIPELINE, "Succeeded"),
        ("SageMaker pipeline", PIPELINE, "Active"),
    ]
    assert rows[0][3].startswith("last run 20") and rows[0][3].endswith(" UTC"), rows[0]
    runs = [row for row in rows if row[0] == "run"]
    assert len(runs) == status.EXECUTIONS_SHOWN and {r[1] for r in runs} <= {f"run-{n}" for n in range(4)}, runs
    assert rows[3 + len(runs)] == ("model package group", GROUP, "7 versions", "newest approved: version 5")
    versions = [row[1:3] for row in rows if row[0] == "model version"]
    assert versions == [
        (f"{GROUP}/7", "PendingManualApproval"),
        (f"{GROUP}/6", "Rejected"),
        (f"{GROUP}/5", "Approved"),
        (f"{GROUP}/4", "Rejected"),
        (f"{GROUP}/3", "Approved"),
        ("(2 older)",),
    ]
    assert [row for row in rows if row[0].startswith(("endpoint", "deploy stack"))] == [
        ("endpoint (staging)", STAGING, "InService", "AllTraffic: 1 x ml.c5.large"),
        ("endpoint (prod)", PROD, "InService", "AllTraffic: 2 x ml.m5.large"),
        ("deploy stack (staging)", STAGING_STACK, "CREATE_COMPLETE", rows[-2][3]),
        ("deploy stack (prod)", PROD_STACK, "CREATE_COMPLETE", rows[-1][3]),
    ]
    assert result.output.splitlines()[-1] == "endpoint instances running now: 3 (1 x ml.c5.large, 2 x ml.m5.large)"


def _stub(monkeypatch, service: str) -> Stubber:
    """Status's client for `service` becomes a Stubber; the other clients stay on moto."""
    client = boto3.client(service, region_name=REGION)
    stubber = Stubber(client)
    connect = status.connect
    monkeypatch.setattr(status, "connect", lambda *args: dataclasses.replace(connect(*args), **{service: client}))
    stubber.activate()
    return stubber


def test_a_failed_and_a_never_run_code_pipeline(aws, monkeypatch):
    stubber = _stub(monkeypatch, "codepipeline")
    stubber.add_response(
        "list_pipeline_executions",
        {
            "pipelineExecutionSummaries": [
                {
                    "pipelineExecutionId": "0f8b6a34-1111-2222-3333-444455556666",
                    "status": "Failed",
                    "statusSummary": "Build failed: preprocess.py exited 1",
                    "startTime": NOW,
                    "lastUpdateTime": NOW + datetime.timedelta(minutes=12),
                }
            ]
        },
        {"pipelineName": BUILD_PIPELINE, "maxResults": 1},
    )
    stubber.add_response(
        "list_pipeline_executions",
        {"pipelineExecutionSummaries": []},
        {"pipelineName": DEPLOY_PIPELINE, "maxResults": 1},
    )
    result = _status()
    assert result.exit_code == 0, result.output
    stubber.assert_no_pending_responses()
    rows = _rows(result.output)
    assert rows[:2] == [
        (
            "CodePipeline (model build)",
            BUILD_PIPELINE,
            "Failed",
            "last run 2026-11-01 09:42 UTC: Build failed: preprocess.py exited 1",
        ),
        ("CodePipeline (deploy)", DEPLOY_PIPELINE, "never run"),
    ]
    assert all(row[2] == "absent" for row in rows[2:]), rows
    assert result.output.splitlines()[-1] == "endpoint instances running now: 0"


def _not_found(stubber: Stubber, operation: str, message: str) -> None:
    stubber.add_client_error(operation, service_error_code="ValidationException", service_message=message)


def test_project_looked_up_and_an_endpoint_scaled_to_zero(aws, monkeypatch):
    """The async staging endpoint at zero instances, one on its way; prod not deployed yet."""
    stubber = _stub(monkeypatch, "sagemaker")
    stubber.add_response(
        "describe_project",
        {
            "ProjectArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:project/{NAME}",
            "ProjectName": NAME,
            "ProjectId": ID,
            "ProjectStatus": "CreateCompleted",
            "CreationTime": NOW,
        },
        {"ProjectName": NAME},
    )
    stubber.add_response(
        "describe_pipeline", {"PipelineName": PIPELINE, "PipelineStatus": "Active"}, {"PipelineName": PIPELINE}
    )
    stubber.add_response(
        "list_pipeline_executions",
        {
            "PipelineExecutionSummaries": [
                {
                    "PipelineExecutionArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PIPELINE}/execution/abc",
                    "StartTime": NOW,
                    "PipelineExecutionStatus": "Failed",
                    "PipelineExecutionFailureReason": "Step Train failed: quota 0 for ml.m5.xlarge",
                }
            ]
        },
        {"PipelineName": PIPELINE, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 3},
    )
    _not_found(stubber, "describe_model_package_group", f"ModelPackageGroup {GROUP} does not exist.")
    stubber.add_response(
        "describe_endpoint",
        {
            "EndpointName": STAGING,
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{STAGING}",
            "EndpointConfigName": f"{STAGING}-abc1234",
            "EndpointStatus": "Updating",
            "CreationTime": NOW,
            "LastModifiedTime": NOW,
            "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": 0, "DesiredInstanceCount": 1}],
        },
        {"EndpointName": STAGING},
    )
    stubber.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": f"{STAGING}-abc1234",
            "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/{STAGING}-abc1234",
            "CreationTime": NOW,
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large"}],
        },
        {"EndpointConfigName": f"{STAGING}-abc1234"},
    )
    _not_found(stubber, "describe_endpoint", f"Could not find endpoint {PROD}.")
    result = _status(project_id=None)
    assert result.exit_code == 0, result.output
    stubber.assert_no_pending_responses()
    assert result.output.splitlines()[0] == f"SageMaker project {NAME} ({ID}): CreateCompleted"
    rows = {row[:2]: row[2:] for row in _rows(result.output)}
    assert rows[("SageMaker pipeline", PIPELINE)] == ("Active", "last 1 run below")
    assert rows[("run", "abc")] == (
        "Failed",
        "started 2026-11-01 09:30 UTC: Step Train failed: quota 0 for ml.m5.xlarge",
    )
    assert rows[("model package group", GROUP)] == ("absent",)
    assert rows[("endpoint (staging)", STAGING)] == ("Updating", "AllTraffic: 0 x ml.m5.large (scaling to 1)")
    assert rows[("endpoint (prod)", PROD)] == ("absent",)
    assert result.output.splitlines()[-1] == "endpoint instances running now: 0"


def test_a_project_that_does_not_exist_is_one_line_exit_2(aws, monkeypatch):
    stubber = _stub(monkeypatch, "sagemaker")
    _not_found(stubber, "describe_project", f"Project {NAME} does not exist.")
    result = _status(project_id=None)
    _assert_one_line_error(result, 2, f"SageMaker project {NAME!r} not found in {REGION}", "--project-id")
    assert not any(line.startswith("what ") for line in result.output.splitlines())


def test_a_project_id_with_nothing_left_is_one_line_exit_2(aws):
    result = _status()
    _assert_one_line_error(result, 2, f"nothing of project {NAME} ({ID}) found in {REGION}")
    assert not any(line.startswith("what ") for line in result.output.splitlines())


def test_a_refused_read_is_one_line_exit_3(aws, monkeypatch):
    stubber = _stub(monkeypatch, "codepipeline")
    stubber.add_client_error(
        "list_pipeline_executions",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: codepipeline:ListPipelineExecutions",
    )
    result = _status()
    _assert_one_line_error(result, 3, f"cannot read {BUILD_PIPELINE}: AccessDeniedException")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--project-name", "fraud-project"], "--project-name 'fraud-project'"),
        (["--project-name", NAME, "--project-id", "p-ABC"], "--project-id 'p-ABC'"),
    ],
)
def test_bad_project_name_or_id_is_one_line_exit_2(aws, args, fragment):
    _assert_one_line_error(run_cli("status", "--region", REGION, *args), 2, fragment)


def test_config_after_the_command_name_sets_the_suffix(aws, tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text("project_suffix: risk-project\nnamespace: riskteam\n")
    args = ["--project-name", "fraud-risk-project", "--project-id", ID, "--region", REGION]
    result = run_cli("status", *args, "--config", str(config))
    _assert_one_line_error(result, 2, "nothing of project fraud-risk-project")  # the suffix was accepted
    refused = run_cli("status", "--project-name", NAME, "--project-id", ID, "--config", str(config))
    _assert_one_line_error(refused, 2, "ending in -risk-project")


def test_unknown_profile_is_one_line_exit_2(aws):
    _assert_one_line_error(_status("--profile", "nobody"), 2, "'nobody'", "not found")


# ---- --profile and AWS_ENDPOINT_URL, for status and teardown -------------------------------------


@pytest.fixture
def moto_server(monkeypatch, tmp_path):
    """A moto server reached only through AWS_ENDPOINT_URL, credentials and region only in a profile."""
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text(f"[profile ops]\nregion = {REGION}\n")
    credentials.write_text("[ops]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    url = f"http://127.0.0.1:{server._server.server_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield boto3.Session(profile_name="ops")
    finally:
        # The server keeps moto's in-process state: empty it for the next test.
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10)
        server.stop()


@pytest.mark.parametrize("command", ["status", "teardown"])
def test_profile_and_aws_endpoint_url_reach_the_given_endpoint(moto_server, command):
    """The prod stack exists only in the server behind AWS_ENDPOINT_URL, found with the profile's region."""
    moto_server.client("cloudformation").create_stack(StackName=PROD_STACK, TemplateBody=_stack_template())
    result = run_cli(command, "--project-name", NAME, "--project-id", ID, "--profile", "ops")
    assert result.exit_code == 0, result.output
    assert re.search(rf"deploy stack \(prod\)\s+{PROD_STACK}\s+(delete \()?CREATE_COMPLETE", result.output), (
        result.output
    )
    without_profile = run_cli(command, "--project-name", NAME, "--project-id", ID)
    _assert_one_line_error(without_profile, 2, "no AWS region")

"""`teardown` through the real CLI, against moto (in-process `mock_aws`).

moto models what most of the command touches: CloudFormation stacks (created from a tiny
template with the deploy-stack names), a versioned S3 bucket with versions and delete markers,
CloudWatch Logs groups, the SageMaker pipeline and the model registry's describe/list calls.
It has no `DescribeProject`, `DeleteModelPackage` or `DeleteModelPackageGroup`: where a test
needs those, the SageMaker client (that client only) is a botocore Stubber with scripted
answers, validated against the API model, and the test checks the calls were made in order.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from generator import teardown
from test_package import run_cli
from test_publish import _assert_one_line_error, use_dummy_credentials

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
NAME = "fraud-custom-project"
ID = "p-abcdef123456"
PREFIX = f"{NAME}-{ID}"
PROD, STAGING = f"{PREFIX}-deploy-prod", f"{PREFIX}-deploy-staging"
PIPELINE = GROUP = PREFIX
BUCKET = f"mlops-{ID}-{ACCOUNT}"
LOG_GROUPS = [
    f"/aws/codebuild/{PREFIX}-{kind}" for kind in ("model-build", "deploy-config", "deploy-gate", "staging-test")
]
# The plan's rows, in order: (what, name).
ROWS = {
    "prod": ("deploy stack (prod)", PROD),
    "staging": ("deploy stack (staging)", STAGING),
    "pipeline": ("SageMaker pipeline", PIPELINE),
    "bucket": ("artifact bucket", BUCKET),
    **{f"log{n}": ("build log group", group) for n, group in enumerate(LOG_GROUPS)},
    "group": ("model package group", GROUP),
}
PACKAGES = [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/{n}" for n in (1, 2, 3)]
DRY_RUN = "dry run: nothing deleted; run again with --yes"


@pytest.fixture
def aws(monkeypatch):
    use_dummy_credentials(monkeypatch)
    with mock_aws():
        yield {
            service: boto3.client(service, region_name=REGION)
            for service in ("cloudformation", "s3", "logs", "sagemaker", "ssm")
        }


def _stack_template(parameter: str) -> str:
    """A deploy stack stand-in: one SSM parameter, so deleting the stack visibly deletes something."""
    return json.dumps(
        {
            "Resources": {
                "Parameter": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {"Name": parameter, "Type": "String", "Value": "x"},
                }
            }
        }
    )


@pytest.fixture
def left(aws):
    """What a deleted project leaves: both deploy stacks, the pipeline and the retained data."""
    for stack in (STAGING, PROD):
        aws["cloudformation"].create_stack(StackName=stack, TemplateBody=_stack_template(f"/{stack}"))
    aws["sagemaker"].create_pipeline(
        PipelineName=PIPELINE,
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/mlops-custom-project-sagemaker",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
    )
    s3 = aws["s3"]
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for n in range(3):
        s3.put_object(Bucket=BUCKET, Key="model/model.tar.gz", Body=b"model %d" % n)
        s3.put_object(Bucket=BUCKET, Key=f"data/part-{n}.csv", Body=b"1,2,3")
    for key in ("model/model.tar.gz", "data/part-0.csv"):
        s3.delete_object(Bucket=BUCKET, Key=key)  # delete markers
    for group in LOG_GROUPS:
        aws["logs"].create_log_group(logGroupName=group)
    aws["sagemaker"].create_model_package_group(ModelPackageGroupName=GROUP)
    for _ in PACKAGES:
        aws["sagemaker"].create_model_package(ModelPackageGroupName=GROUP, ModelApprovalStatus="Approved")
    return aws


def _teardown(*extra: str):
    return run_cli("teardown", "--project-name", NAME, "--region", REGION, *extra)


def _versions(s3) -> int:
    page = s3.list_object_versions(Bucket=BUCKET)
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))


def _stacks(cloudformation) -> list[str]:
    return sorted(s["StackName"] for s in cloudformation.describe_stacks()["Stacks"])


def _log_groups(logs) -> list[str]:
    return sorted(
        g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/codebuild/")["logGroups"]
    )


def _plan_rows(output: str) -> dict[str, str]:
    """Row key -> action, from the plan table (columns are two or more spaces apart)."""
    table = dict(
        (tuple(cells[:2]), cells[2])
        for cells in (re.split(r"\s{2,}", line, maxsplit=2) for line in output.splitlines())
        if len(cells) == 3
    )
    assert list(table)[1:] == list(ROWS.values()), output  # after the header, every row in order
    return {key: table[row] for key, row in ROWS.items()}


def _stub(monkeypatch, service: str) -> Stubber:
    """Teardown's client for `service` becomes a Stubber; the other clients stay on moto."""
    client = boto3.client(service, region_name=REGION)
    stubber = Stubber(client)
    connect = teardown.connect
    monkeypatch.setattr(teardown, "connect", lambda *args: dataclasses.replace(connect(*args), **{service: client}))
    stubber.activate()
    return stubber


def _record_s3_calls(monkeypatch) -> list[str]:
    """The operation names of every S3 request teardown makes, in order."""
    calls: list[str] = []
    connect = teardown.connect

    def recording(*args):
        clients = connect(*args)
        clients.s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
        return clients

    monkeypatch.setattr(teardown, "connect", recording)
    return calls


NOW = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)


def _expect_registry(stubber: Stubber, packages: list[str]) -> None:
    stubber.add_response(
        "list_model_packages",
        {
            "ModelPackageSummaryList": [
                {
                    "ModelPackageArn": arn,
                    "ModelPackageGroupName": GROUP,
                    "CreationTime": NOW,
                    "ModelPackageStatus": "Completed",
                    "ModelApprovalStatus": "Approved",
                }
                for arn in packages
            ]
        },
        {"ModelPackageGroupName": GROUP},
    )


def _expect_existing_project(stubber: Stubber, expected_params: dict[str, str] | None = None) -> None:
    """DescribeProject answers that the project still exists (CreateCompleted)."""
    stubber.add_response(
        "describe_project",
        {
            "ProjectArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:project/{NAME}",
            "ProjectName": NAME,
            "ProjectId": ID,
            "ProjectStatus": "CreateCompleted",
            "CreationTime": NOW,
        },
        expected_params,
    )


def _expect_plan_reads(stubber: Stubber) -> None:
    """The SageMaker reads of the plan, for a project whose pipeline and group exist."""
    stubber.add_response(
        "describe_pipeline", {"PipelineName": PIPELINE, "PipelineStatus": "Active"}, {"PipelineName": PIPELINE}
    )
    stubber.add_response(
        "describe_model_package_group",
        {
            "ModelPackageGroupName": GROUP,
            "ModelPackageGroupArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{GROUP}",
            "CreationTime": NOW,
            "CreatedBy": {},
            "ModelPackageGroupStatus": "Completed",
        },
        {"ModelPackageGroupName": GROUP},
    )
    _expect_registry(stubber, PACKAGES)


def test_dry_run_prints_the_plan_and_deletes_nothing(left):
    result = _teardown("--project-id", ID)
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(DRY_RUN)
    rows = _plan_rows(result.output)
    assert rows["prod"] == "delete (CREATE_COMPLETE; its endpoint is billed every hour)"
    assert rows["staging"] == "delete (CREATE_COMPLETE)"
    assert rows["pipeline"] == "delete (Active)"
    assert rows["group"].startswith("keep (3 model versions): the project's model registry")
    assert rows["bucket"] == (
        "keep (8 object versions): models, data and pipeline outputs of the project (every version); "
        "--delete-data deletes it"
    )
    for key in ("log0", "log1", "log2"):
        assert rows[key].startswith("keep (0 bytes): build history"), rows[key]
    assert _stacks(left["cloudformation"]) == sorted([PROD, STAGING])
    assert left["sagemaker"].describe_pipeline(PipelineName=PIPELINE)["PipelineStatus"] == "Active"
    assert _versions(left["s3"]) == 8
    assert _log_groups(left["logs"]) == sorted(LOG_GROUPS)


def test_yes_deletes_the_stacks_prod_first_and_the_pipeline_and_keeps_the_data(left):
    result = _teardown("--project-id", ID, "--yes")
    assert result.exit_code == 0, result.output
    assert DRY_RUN not in result.output
    deleted = [line for line in result.output.splitlines() if line.startswith("deleted ")]
    assert deleted == [
        f"deleted deploy stack (prod) {PROD}",
        f"deleted deploy stack (staging) {STAGING}",
        f"deleted SageMaker pipeline {PIPELINE}",
    ]
    assert _stacks(left["cloudformation"]) == []
    assert left["ssm"].describe_parameters()["Parameters"] == []  # the stacks' resources went too
    with pytest.raises(ClientError, match="Could not find pipeline"):
        left["sagemaker"].describe_pipeline(PipelineName=PIPELINE)
    # The data stays, and the output says so and why.
    assert _versions(left["s3"]) == 8
    assert _log_groups(left["logs"]) == sorted(LOG_GROUPS)
    registry = left["sagemaker"].list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in registry] == PACKAGES
    for what, name in [
        ("artifact bucket", BUCKET),
        *(("build log group", g) for g in LOG_GROUPS),
        ("model package group", GROUP),
    ]:
        assert f"kept {what} {name}: " in result.output


def test_delete_data_empties_the_versioned_bucket_and_deletes_groups_and_registry(left, monkeypatch):
    monkeypatch.setattr(teardown, "S3_PAGE_SIZE", 3)  # 8 versions and markers: three pages, three batches
    s3_calls = _record_s3_calls(monkeypatch)
    stubber = _stub(monkeypatch, "sagemaker")
    _expect_plan_reads(stubber)
    stubber.add_response(
        "delete_pipeline", {"PipelineArn": "arn:aws:sagemaker:eu-west-1:1:pipeline/x"}, {"PipelineName": PIPELINE}
    )  # boto3 adds the token later
    _expect_registry(stubber, PACKAGES)
    for arn in PACKAGES:  # versions first: a group holding versions cannot be deleted
        stubber.add_response("delete_model_package", {}, {"ModelPackageName": arn})
    stubber.add_response("delete_model_package_group", {}, {"ModelPackageGroupName": GROUP})

    result = _teardown("--project-id", ID, "--yes", "--delete-data")
    assert result.exit_code == 0, result.output
    stubber.assert_no_pending_responses()
    assert _plan_rows(result.output)["bucket"] == "delete (8 object versions)"
    assert s3_calls.count("ListObjectVersions") == 1 + 3 and s3_calls.count("DeleteObjects") == 3, s3_calls
    assert f"deleted artifact bucket {BUCKET} (emptied: 8 object versions and delete markers)" in result.output
    assert f"deleted model package group {GROUP} (with 3 model versions)" in result.output
    assert "kept " not in result.output
    assert _stacks(left["cloudformation"]) == []
    with pytest.raises(ClientError, match="404"):
        left["s3"].head_bucket(Bucket=BUCKET)
    assert _log_groups(left["logs"]) == []


def test_absent_things_are_reported_absent(aws):
    result = _teardown("--project-id", ID, "--yes", "--delete-data")
    assert result.exit_code == 0, result.output
    assert _plan_rows(result.output) == dict.fromkeys(ROWS, "absent")
    assert "deleted " not in result.output and "kept " not in result.output


def test_a_partly_removed_project_deletes_what_is_left(aws):
    aws["cloudformation"].create_stack(StackName=STAGING, TemplateBody=_stack_template("/staging"))
    aws["logs"].create_log_group(logGroupName=LOG_GROUPS[0])
    result = _teardown("--project-id", ID, "--yes")
    assert result.exit_code == 0, result.output
    rows = _plan_rows(result.output)
    assert rows["prod"] == "absent" and rows["bucket"] == "absent"
    assert [line for line in result.output.splitlines() if line.startswith(("deleted ", "kept "))] == [
        f"deleted deploy stack (staging) {STAGING}",
        f"kept build log group {LOG_GROUPS[0]}: build history of the project; --delete-data deletes it",
    ]


def test_the_project_id_is_looked_up_while_the_project_exists(aws, monkeypatch):
    aws["cloudformation"].create_stack(StackName=PROD, TemplateBody=_stack_template("/prod"))
    stubber = _stub(monkeypatch, "sagemaker")
    _expect_existing_project(stubber, {"ProjectName": NAME})
    not_found = {
        "service_error_code": "ValidationException",
        "service_message": "Could not find pipeline with PipelineName x.",
    }
    stubber.add_client_error("describe_pipeline", **not_found)
    stubber.add_client_error(
        "describe_model_package_group",
        service_error_code="ValidationException",
        service_message=f"ModelPackageGroup {GROUP} does not exist.",
    )
    result = _teardown()
    assert result.exit_code == 0, result.output
    stubber.assert_no_pending_responses()
    assert f"SageMaker project {NAME} ({ID}) still exists (CreateCompleted)" in result.output
    rows = _plan_rows(result.output)
    assert rows["prod"].startswith("delete (CREATE_COMPLETE") and rows["group"] == "absent"
    assert result.output.rstrip().endswith(DRY_RUN)


def test_delete_data_is_refused_while_the_project_exists(aws, monkeypatch):
    stubber = _stub(monkeypatch, "sagemaker")
    _expect_existing_project(stubber)
    result = _teardown("--yes", "--delete-data")
    _assert_one_line_error(result, 2, "still exists", "delete it in Studio first")


def test_a_deleted_project_without_its_id_is_a_one_line_error(aws, monkeypatch):
    stubber = _stub(monkeypatch, "sagemaker")
    stubber.add_client_error(
        "describe_project", service_error_code="ValidationException", service_message=f"Project {NAME} does not exist."
    )
    result = _teardown()
    _assert_one_line_error(result, 2, f"{NAME!r} not found", "pass --project-id")


def test_a_failed_delete_stops_and_says_what_was_deleted(left, monkeypatch):
    stubber = _stub(monkeypatch, "sagemaker")
    _expect_plan_reads(stubber)
    stubber.add_client_error(
        "delete_pipeline",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: sagemaker:DeletePipeline",
    )
    result = _teardown("--project-id", ID, "--yes", "--delete-data")
    _assert_one_line_error(
        result,
        3,
        f"deleting SageMaker pipeline {PIPELINE} failed (AccessDeniedException",
        f"deleted: {PROD}, {STAGING};",
        "run teardown again",
    )
    assert _stacks(left["cloudformation"]) == []
    assert _versions(left["s3"]) == 8  # nothing after the failure was touched


def test_a_failed_read_is_a_one_line_error_and_deletes_nothing(left, monkeypatch):
    stubber = _stub(monkeypatch, "sagemaker")
    stubber.add_client_error(
        "describe_pipeline",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: sagemaker:DescribePipeline",
    )
    result = _teardown("--project-id", ID, "--yes")
    _assert_one_line_error(result, 3, f"cannot read SageMaker pipeline {PIPELINE}", "nothing was deleted")
    assert _stacks(left["cloudformation"]) == sorted([PROD, STAGING])


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--project-id", "p-ABCDEF123456"], "--project-id 'p-ABCDEF123456' is not a SageMaker project id"),
        (["--project-id", "abcdef123456"], "--project-id 'abcdef123456'"),
        (["--project-id", f"{ID}x"], f"--project-id '{ID}x'"),
        (["--project-name", "fraud-project", "--project-id", ID], "--project-name 'fraud-project'"),
        (["--project-name", "a" * 20 + "-custom-project", "--project-id", ID], "at most 32 characters"),
    ],
)
def test_bad_project_name_or_id_is_one_line_exit_2(aws, args, fragment):
    result = run_cli("teardown", "--project-name", NAME, "--region", REGION, *args)
    _assert_one_line_error(result, 2, fragment)


def test_the_name_pattern_follows_the_configuration(aws, tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text("project_suffix: risk-project\nnamespace: riskteam\n")
    refused = run_cli("--config", str(config), "teardown", "--project-name", NAME, "--project-id", ID)
    _assert_one_line_error(refused, 2, "ending in -risk-project")
    accepted = run_cli("--config", str(config), "teardown", "--project-name", "fraud-risk-project", "--project-id", ID)
    assert accepted.exit_code == 0, accepted.output
    assert re.search(rf"artifact bucket +riskteam-{ID}-{ACCOUNT} +absent", accepted.output), accepted.output


def test_unknown_profile(aws):
    result = _teardown("--project-id", ID, "--profile", "nobody")
    _assert_one_line_error(result, 2, "'nobody'", "not found")


def test_aws_endpoint_url_is_honoured(monkeypatch):
    # No moto: boto3 sends every request to AWS_ENDPOINT_URL, here a closed local port.
    use_dummy_credentials(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = _teardown("--project-id", ID)
    _assert_one_line_error(result, 3, "cannot find the AWS account", "http://127.0.0.1:9")


def _expect_stack_found(stubber: Stubber, name: str) -> None:
    stubber.add_response(
        "describe_stacks",
        {"Stacks": [{"StackName": name, "CreationTime": NOW, "StackStatus": "CREATE_COMPLETE"}]},
        {"StackName": name},
    )


GONE_ROLE = f"arn:aws:iam::123456789012:role/mlops/custom-project/{REGION}/{NAME}-{ID}-cloudformation"
STACK_ROLE = "arn:aws:iam::123456789012:role/platform/stack-deleter"


def test_a_stack_whose_role_went_with_the_project_names_the_option_that_deletes_it(aws, monkeypatch):
    """Each project's roles are its stack's: once the project is deleted, CloudFormation cannot
    assume the deploy stacks' role, and teardown says how to give it another."""
    stubber = _stub(monkeypatch, "cloudformation")
    _expect_stack_found(stubber, PROD)
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {STAGING} does not exist",
    )
    stubber.add_client_error(
        "delete_stack",
        service_error_code="ValidationError",
        service_message=f"Role {GONE_ROLE} is invalid or cannot be assumed",
        expected_params={"StackName": PROD},
    )
    result = _teardown("--project-id", ID, "--yes")
    _assert_one_line_error(result, 3, f"deleting deploy stack (prod) {PROD} failed", "--stack-role-arn")
    stubber.assert_no_pending_responses()


def test_stack_role_arn_is_the_role_cloudformation_deletes_with(aws, monkeypatch):
    stubber = _stub(monkeypatch, "cloudformation")
    _expect_stack_found(stubber, PROD)
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {STAGING} does not exist",
    )
    stubber.add_response("delete_stack", {}, {"StackName": PROD, "RoleARN": STACK_ROLE})
    stubber.add_client_error(
        "describe_stacks", service_error_code="ValidationError", service_message=f"Stack with id {PROD} does not exist"
    )
    result = _teardown("--project-id", ID, "--yes", "--stack-role-arn", STACK_ROLE)
    assert result.exit_code == 0, result.output
    assert f"deleted deploy stack (prod) {PROD}" in result.output
    stubber.assert_no_pending_responses()


def test_stack_role_arn_must_be_a_role_arn(aws):
    result = _teardown("--project-id", ID, "--stack-role-arn", "stack-deleter")
    _assert_one_line_error(result, 2, "--stack-role-arn 'stack-deleter': expected an IAM role ARN")

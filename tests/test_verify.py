"""`verify`: the step engine, every step, the teardown paths and `--plan`, offline.

AWS is never faked. S3 (the publish step, the published objects, the artifact bucket the async
answer lands in) and CloudWatch Logs are moto (in-process `mock_aws`). Every other service is a
botocore Stubber: its scripted answers are checked by botocore against the service's API model,
and each test ends by checking every scripted call was made, in order, with the parameters given.
Members the API requires but the code never reads are filled with placeholders of the right type
(`_filled`). Time is injected: the engine's clock moves only when it sleeps, so no test waits.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from generator import verify as verification
from generator.config import build_config
from generator.verify import engine, plan, resources
from generator.verify.checks import guardrail_refusal
from test_package import make_source_root, run_cli
from test_publish import _assert_one_line_error, use_dummy_credentials

GOLDEN = Path(__file__).parent / "golden" / "verify-plan.txt"
REGION, ACCOUNT, BUCKET, RUN_ID = "eu-west-1", "123456789012", "verify-sandbox-bucket", "abcd1234"
PROJECT, PROJECT_ID = f"v{RUN_ID}-custom-project", "p-abcdef123456"
PREFIX = f"{PROJECT}-{PROJECT_ID}"
ARTIFACT_BUCKET = f"mlops-{PROJECT_ID}-{ACCOUNT}"
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/me"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/admins/Admin"
PORTFOLIO, PRODUCT, ARTIFACT = "port-abcdefghijklm", "prod-abcdefghijklm", "pa-abcdefghijklm"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
KEY_PARAMETER = "/mlops/custom-project/kms-key-arn"
STACK = f"mlops-custom-project-product-verify-{RUN_ID}"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/1"
PROJECT_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:project/{PROJECT}"
EXECUTION = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PREFIX}/execution/e1"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{PREFIX}/1"
ENDPOINT = f"{PREFIX}-staging"
SM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlops/custom-project/{REGION}/{PREFIX}-sagemaker"
TAGS = [{"Key": "project", "Value": "verify"}, {"Key": "env", "Value": "dev"}]
JOB_TAGS = [*TAGS, {"Key": "sagemaker:project-id", "Value": PROJECT_ID}]
STUBBED = ("sts", "cloudformation", "servicecatalog", "sagemaker", "runtime", "codepipeline", "codecommit", "iam")
STUBBED += ("kms", "ssm", "tagging")
STEPS = [spec.name for spec in plan.steps(build_config())]
# Which resource each step creates (registered for teardown).
CREATES = {
    "publish": "objects",
    "portfolio": "portfolio",
    "product_stack": "stack",
    "grant_portfolio": "principal",
    "create_project": "project",
}
WHEN = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
PACKAGE_SUMMARY = {"ModelPackageArn": PACKAGE, "ModelPackageStatus": "Completed", "CreationTime": WHEN}


# ---- scripted AWS ---------------------------------------------------------------------------


def _placeholder(shape):
    if shape.type_name == "structure":
        return _filled(shape, {})
    if shape.type_name == "list":
        return [_placeholder(shape.member) for _ in range(shape.metadata.get("min", 0))]
    if shape.type_name == "string":
        return shape.enum[0] if shape.enum else "x" * max(1, shape.metadata.get("min", 1))
    return {
        "map": {},
        "integer": 1,
        "long": 1,
        "float": 1.0,
        "double": 1.0,
        "boolean": False,
        "timestamp": WHEN,
        "blob": b"",
    }[shape.type_name]


def _filled(shape, value):
    """`value` with every required member it lacks set to a placeholder, recursively."""
    if shape.type_name == "structure" and isinstance(value, dict):
        value = {k: _filled(shape.members[k], v) for k, v in value.items()}
        for member in shape.required_members:
            value.setdefault(member, _placeholder(shape.members[member]))
    elif shape.type_name == "list" and isinstance(value, list):
        value = [_filled(shape.member, item) for item in value]
    return value


class Script:
    """The scripted side of the stubbed services, built step by step.

    `fail_step` makes the first stubbed call of a step answer with an error and drops the rest
    of that step's calls; `cut_step` keeps only its first call (the step is interrupted after it).
    """

    def __init__(self, clients: dict):
        self.clients = clients
        # Every stubbed call, across clients, in the order the code made them.
        self.calls: list[str] = []
        for name in (*STUBBED, "role_sagemaker"):
            clients[name].meta.events.register(
                "before-parameter-build", lambda model, **_: self.calls.append(model.name)
            )
        self.stubs = {name: Stubber(clients[name]) for name in STUBBED}
        self.mode: str | None = None
        self.dropping = False

    def step(self, mode: str | None = None) -> None:
        self.mode, self.dropping = mode, False

    def _cut(self) -> bool:
        if self.dropping:
            return True
        if self.mode == "cut":
            self.dropping = True
        return False

    def ok(self, service, method, response=None, params=None):
        if self._cut():
            return
        if self.mode == "fail":
            self.dropping = True
            self.stubs[service].add_client_error(
                method, "InternalFailure", f"scripted failure of {method}", 500, expected_params=params
            )
            return
        output = self.clients[service].meta.service_model.operation_model(_operation(method)).output_shape
        body = _filled(output, response or {}) if output is not None else {}
        self.stubs[service].add_response(method, body, params)

    def error(self, service, method, code, message="", status=400, params=None):
        if self._cut():
            return
        self.stubs[service].add_client_error(method, code, message, status, expected_params=params)

    def __enter__(self):
        for stub in self.stubs.values():
            stub.activate()
        return self

    def __exit__(self, *exc):
        for stub in self.stubs.values():
            stub.deactivate()

    def assert_done(self):
        for name, stub in self.stubs.items():
            assert not stub._queue, f"{name}: scripted calls never made: {[c['operation_name'] for c in stub._queue]}"


def _operation(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_")).replace("Sagemaker", "SageMaker")


class FakeClock:
    """The engine's time: advances only when the engine sleeps; each of `on_sleep` runs at every sleep."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = 0
        self.on_sleep: list = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        for action in self.on_sleep:
            action(self.sleeps)


class FakeSession:
    """The factory the guardrail step makes its assumed-role client with; hands out a stubbed one."""

    region_name = REGION

    def __init__(self, sagemaker):
        self.sagemaker = sagemaker
        self.credentials = None

    def client(self, service, **credentials):
        assert service == "sagemaker"
        self.credentials = credentials
        return self.sagemaker


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    root = make_source_root(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    result = run_cli("package", "--dist", str(out), root=root)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def aws(monkeypatch):
    use_dummy_credentials(monkeypatch)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (BUCKET, ARTIFACT_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        clients = {field: boto3.client(service, region_name=REGION) for field, service in resources.SERVICES.items()}
        clients["role_sagemaker"] = role_sagemaker = boto3.client("sagemaker", region_name=REGION)
        script = Script(clients)
        script.stubs["role_sagemaker"] = Stubber(role_sagemaker)
        session = FakeSession(role_sagemaker)
        bundle = resources.Clients(**{f: clients[f] for f in resources.SERVICES}, session=session)
        clock = FakeClock()
        monkeypatch.setattr(verification, "connect", lambda profile, region: bundle)
        monkeypatch.setattr(verification, "new_run", lambda run_id: engine.Run(run_id, clock, clock.sleep))
        monkeypatch.setattr(verification, "new_run_id", lambda: RUN_ID)
        with script:
            yield script, clock, s3


def _verify(dist: Path, report_dir: Path, *extra: str):
    return run_cli(
        "verify",
        *("--region", REGION, "--bucket", BUCKET, "--account-id", ACCOUNT),
        *("--dist", str(dist), "--report-dir", str(report_dir)),
        *extra,
    )


def _objects(s3, bucket=BUCKET, prefix=f"verify/{RUN_ID}/") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def _gone(service, method, what):
    code = "ValidationError" if service == "cloudformation" else "ValidationException"
    return (service, method, code, f"{what} does not exist")


def _stack(status: str, outputs: dict | None = None, name: str = STACK) -> dict:
    return {
        "Stacks": [
            {
                "StackName": name,
                "StackId": STACK_ID,
                "StackStatus": status,
                "CreationTime": WHEN,
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in (outputs or {}).items()],
            }
        ]
    }


def _executions(*runs: tuple[str, str]) -> dict:
    return {"pipelineExecutionSummaries": [{"pipelineExecutionId": i, "status": s} for i, s in runs]}


def _state(**stages: tuple[str, str]) -> dict:
    return {
        "stageStates": [
            {"stageName": name, "latestExecution": {"pipelineExecutionId": run, "status": status}}
            for name, (run, status) in stages.items()
        ]
    }


def _project(status: str) -> dict:
    return {"ProjectArn": PROJECT_ARN, "ProjectName": PROJECT, "ProjectId": PROJECT_ID, "ProjectStatus": status}


def script_refusal_passes(s: Script) -> None:
    s.ok("sts", "get_caller_identity", {"Account": ACCOUNT, "Arn": CALLER, "UserId": "AROA:me"})
    s.error("ssm", "get_parameter", "ParameterNotFound", params={"Name": KEY_PARAMETER})


def script_portfolio(s: Script) -> None:
    params = {
        "DisplayName": f"verify-{RUN_ID}",
        "Description": "Temporary portfolio of an mlops-templates verify run",
        "ProviderName": "mlops-templates verify",
        "Tags": [{"Key": "verify-run", "Value": RUN_ID}],
        "IdempotencyToken": f"verify-{RUN_ID}-portfolio",
    }
    arn = f"arn:aws:catalog:{REGION}:{ACCOUNT}:portfolio/{PORTFOLIO}"
    s.ok("servicecatalog", "create_portfolio", {"PortfolioDetail": {"Id": PORTFOLIO, "ARN": arn}}, params)


def script_product_stack(s: Script) -> None:
    s.ok("cloudformation", "create_stack", {"StackId": STACK_ID})
    s.ok("cloudformation", "describe_stacks", _stack("CREATE_IN_PROGRESS"), {"StackName": STACK_ID})
    outputs = {"ProductId": PRODUCT, "KmsKeyArn": KEY_ARN}
    s.ok("cloudformation", "describe_stacks", _stack("CREATE_COMPLETE", outputs), {"StackName": STACK_ID})


def script_grant_portfolio(s: Script) -> None:
    s.ok("iam", "get_role", {"Role": {"Arn": ROLE_ARN, "RoleName": "Admin", "Path": "/admins/"}}, {"RoleName": "Admin"})
    params = {"PortfolioId": PORTFOLIO, "PrincipalARN": ROLE_ARN, "PrincipalType": "IAM"}
    s.ok("servicecatalog", "associate_principal_with_portfolio", {}, params)


def script_create_project(s: Script) -> None:
    artifacts = {
        "ProvisioningArtifactDetails": [{"Id": "pa-older0000000", "Name": "v0.9"}, {"Id": ARTIFACT, "Name": "v1.0"}]
    }
    s.ok("servicecatalog", "list_provisioning_artifacts", artifacts, {"ProductId": PRODUCT})
    params = {
        "ProjectName": PROJECT,
        "ProjectDescription": f"mlops-templates verify run {RUN_ID}",
        "ServiceCatalogProvisioningDetails": {
            "ProductId": PRODUCT,
            "ProvisioningArtifactId": ARTIFACT,
            "ProvisioningParameters": [{"Key": "TagProject", "Value": "verify"}, {"Key": "TagEnv", "Value": "dev"}],
        },
        "Tags": [{"Key": "verify-run", "Value": RUN_ID}],
    }
    s.ok("sagemaker", "create_project", {"ProjectArn": PROJECT_ARN, "ProjectId": PROJECT_ID}, params)


def script_project_stack(s: Script) -> None:
    s.ok("sagemaker", "describe_project", _project("CreateInProgress"), {"ProjectName": PROJECT})
    s.ok("sagemaker", "describe_project", _project("CreateCompleted"), {"ProjectName": PROJECT})


def script_repositories_seeded(s: Script) -> None:
    for kind in ("model-build", "model-deploy"):
        params = {"repositoryName": f"{PREFIX}-{kind}", "branchName": "main"}
        s.ok("codecommit", "get_branch", {"branch": {"branchName": "main", "commitId": "0123456789abcdef"}}, params)


def script_build_run(s: Script) -> None:
    params = {"pipelineName": f"{PREFIX}-model-build"}
    s.ok("codepipeline", "list_pipeline_executions", _executions(), params)
    s.ok("codepipeline", "list_pipeline_executions", _executions(("b1", "InProgress")), params)
    s.ok("codepipeline", "list_pipeline_executions", _executions(("b1", "Succeeded")), params)


def script_sagemaker_pipeline(s: Script) -> None:
    summary = {"PipelineExecutionArn": EXECUTION, "PipelineExecutionStatus": "Succeeded", "StartTime": WHEN}
    s.ok("sagemaker", "list_pipeline_executions", {"PipelineExecutionSummaries": [summary]})
    package = {"ModelPackageArn": PACKAGE, "ModelApprovalStatus": "PendingManualApproval", "CreationTime": WHEN}
    s.ok("sagemaker", "list_model_packages", {"ModelPackageSummaryList": [package]})


def script_jobs_tagged_encrypted(s: Script, volume_key: str = KEY_ID, processing_tags: list | None = None) -> None:
    processing = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/pipelines-e1-preprocess"
    training = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/pipelines-e1-train"
    steps = [
        {"StepName": "Preprocess", "Metadata": {"ProcessingJob": {"Arn": processing}}},
        {"StepName": "Train", "Metadata": {"TrainingJob": {"Arn": training}}},
        {"StepName": "Register", "Metadata": {"RegisterModel": {"Arn": PACKAGE}}},
    ]
    s.ok("sagemaker", "list_pipeline_execution_steps", {"PipelineExecutionSteps": steps})
    cluster = {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30, "VolumeKmsKeyId": KEY_ARN}
    job = {
        "ProcessingOutputConfig": {"Outputs": [], "KmsKeyId": KEY_ARN},
        "ProcessingResources": {"ClusterConfig": cluster},
    }
    s.ok("sagemaker", "describe_processing_job", job, {"ProcessingJobName": "pipelines-e1-preprocess"})
    s.ok("sagemaker", "list_tags", {"Tags": processing_tags or JOB_TAGS}, {"ResourceArn": processing})
    job = {
        "AlgorithmSpecification": {"TrainingImage": "xgboost:3.0-5", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://x/y", "KmsKeyId": KEY_ARN},
        # A bare key id, as jobs may report it: the same key as the ARN.
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
            "VolumeKmsKeyId": volume_key,
        },
    }
    s.ok("sagemaker", "describe_training_job", job, {"TrainingJobName": "pipelines-e1-train"})
    s.ok("sagemaker", "list_tags", {"Tags": JOB_TAGS}, {"ResourceArn": training})


def script_first_deploy_run(s: Script, prod: str = "Skipped") -> None:
    params = {"pipelineName": f"{PREFIX}-model-deploy"}
    s.ok("codepipeline", "list_pipeline_executions", _executions(("d1", "Succeeded")), params)
    skipped = {
        stage: ("d1", "Skipped") for stage in ("DeployStaging", "TestStaging", "ApproveDeployment", "DeployProd")
    }
    state = _state(Source=("d1", "Succeeded"), Build=("d1", "Succeeded"), **{**skipped, "DeployProd": ("d1", prod)})
    s.ok("codepipeline", "get_pipeline_state", state, {"name": f"{PREFIX}-model-deploy"})


def script_approve_model(s: Script) -> None:
    params = {
        "ModelPackageArn": PACKAGE,
        "ModelApprovalStatus": "Approved",
        "ApprovalDescription": f"verify run {RUN_ID}",
    }
    s.ok("sagemaker", "update_model_package", {"ModelPackageArn": PACKAGE}, params)


def _script_endpoint(s: Script, status: str) -> None:
    outputs = {"EndpointName": ENDPOINT, "AsyncInputPath": f"s3://{ARTIFACT_BUCKET}/async/staging/input"}
    s.ok("cloudformation", "describe_stacks", _stack(status, outputs, f"{PREFIX}-deploy-staging"))
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT.lower()}"
    endpoint = {"EndpointName": ENDPOINT, "EndpointArn": arn, "EndpointConfigName": f"{ENDPOINT}-abc1234"}
    if status == "CREATE_COMPLETE":
        s.ok("sagemaker", "describe_endpoint", {**endpoint, "EndpointStatus": "Creating", "CreationTime": WHEN})
    s.ok("sagemaker", "describe_endpoint", {**endpoint, "EndpointStatus": "InService", "CreationTime": WHEN})
    config = {
        "KmsKeyId": KEY_ARN,
        "AsyncInferenceConfig": {"OutputConfig": {"KmsKeyId": KEY_ARN, "S3OutputPath": "s3://x/out"}},
    }
    s.ok("sagemaker", "describe_endpoint_config", config, {"EndpointConfigName": f"{ENDPOINT}-abc1234"})
    s.ok("sagemaker", "list_tags", {"Tags": JOB_TAGS}, {"ResourceArn": arn})


def script_staging_deploy(s: Script) -> None:
    params = {"pipelineName": f"{PREFIX}-model-deploy"}
    s.ok("codepipeline", "list_pipeline_executions", _executions(("d1", "Succeeded")), params)
    s.ok("codepipeline", "list_pipeline_executions", _executions(("d2", "InProgress"), ("d1", "Succeeded")), params)
    s.ok("codepipeline", "get_pipeline_state", _state(DeployStaging=("d2", "InProgress")))
    s.ok("codepipeline", "get_pipeline_state", _state(DeployStaging=("d2", "Succeeded")))
    _script_endpoint(s, "CREATE_COMPLETE")


def script_staging_test(s: Script) -> None:
    s.ok(
        "codepipeline", "get_pipeline_state", _state(DeployStaging=("d2", "Succeeded"), TestStaging=("d2", "Succeeded"))
    )


def script_async_invocation(s: Script) -> None:
    answer = {
        "OutputLocation": f"s3://{ARTIFACT_BUCKET}/async/staging/output/x.out",
        "FailureLocation": f"s3://{ARTIFACT_BUCKET}/async/staging/failure/x.out",
        "InferenceId": "i1",
    }
    params = {
        "EndpointName": ENDPOINT,
        "InputLocation": f"s3://{ARTIFACT_BUCKET}/async/staging/input/verify-{RUN_ID}/input.csv",
        "ContentType": "text/csv",
    }
    s.ok("runtime", "invoke_endpoint_async", answer, params)


def script_second_deployment(s: Script) -> None:
    params = {"name": f"{PREFIX}-model-deploy", "clientRequestToken": f"verify-{RUN_ID}-second"}
    s.ok("codepipeline", "start_pipeline_execution", {"pipelineExecutionId": "d3"}, params)
    s.ok("codepipeline", "get_pipeline_state", _state(DeployStaging=("d3", "Succeeded")))
    _script_endpoint(s, "UPDATE_COMPLETE")


def script_guardrail_refusal(s: Script) -> None:
    params = {"RoleArn": SM_ROLE, "RoleSessionName": f"verify-{RUN_ID}"}
    s.error("sts", "assume_role", "AccessDenied", "not authorized to perform sts:AssumeRole", 403, params)


def script_guardrail_accepted(s: Script) -> None:
    credentials = {"AccessKeyId": "ASIAEXAMPLEEXAMPLE", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": WHEN}
    s.ok("sts", "assume_role", {"Credentials": credentials})
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/verify-{RUN_ID}-untagged"
    s.ok("role_sagemaker", "create_training_job", {"TrainingJobArn": arn})


SCRIPTS = {name: globals()[f"script_{name}"] for name in STEPS if name != "publish"}


# ---- teardown scripts -----------------------------------------------------------------------


def _leftovers_read(s: Script, pipeline: bool, registry: bool, staging: bool) -> None:
    """`generator.teardown.plan`: what the project left, read by name (S3 and Logs are moto)."""
    s.ok("sts", "get_caller_identity", {"Account": ACCOUNT, "Arn": CALLER, "UserId": "AROA:me"})
    s.error(*_gone("cloudformation", "describe_stacks", f"Stack with id {PREFIX}-deploy-prod"))
    if staging:
        s.ok("cloudformation", "describe_stacks", _stack("UPDATE_COMPLETE", name=f"{PREFIX}-deploy-staging"))
    else:
        s.error(*_gone("cloudformation", "describe_stacks", f"Stack with id {PREFIX}-deploy-staging"))
    if pipeline:
        s.ok("sagemaker", "describe_pipeline", {"PipelineStatus": "Active"}, {"PipelineName": PREFIX})
    else:
        s.error("sagemaker", "describe_pipeline", "ResourceNotFound", "Pipeline does not exist")
    if registry:
        s.ok("sagemaker", "describe_model_package_group", {"ModelPackageGroupName": PREFIX})
        s.ok("sagemaker", "list_model_packages", {"ModelPackageSummaryList": [PACKAGE_SUMMARY]})
    else:
        s.error(*_gone("sagemaker", "describe_model_package_group", f"Model package group {PREFIX}"))


def teardown_project(s: Script, pipeline: bool, registry: bool, staging: bool) -> None:
    """Deploy stacks and pipeline while the project (and its roles) exist, the project, then its data."""
    s.ok("sagemaker", "describe_project", _project("CreateCompleted"), {"ProjectName": PROJECT})
    _leftovers_read(s, pipeline, registry, staging)
    if staging:
        s.ok("cloudformation", "delete_stack", {}, {"StackName": f"{PREFIX}-deploy-staging"})
        s.error(*_gone("cloudformation", "describe_stacks", f"Stack with id {PREFIX}-deploy-staging"))
    if pipeline:
        s.ok("sagemaker", "delete_pipeline", {"PipelineArn": "x"})
    s.ok("sagemaker", "delete_project", {}, {"ProjectName": PROJECT})
    s.ok("sagemaker", "describe_project", _project("DeleteInProgress"), {"ProjectName": PROJECT})
    s.error(*_gone("sagemaker", "describe_project", f"Project {PROJECT}"))
    _leftovers_read(s, pipeline=False, registry=registry, staging=False)
    if registry:
        s.ok("sagemaker", "list_model_packages", {"ModelPackageSummaryList": [PACKAGE_SUMMARY]})
        s.ok("sagemaker", "delete_model_package", {}, {"ModelPackageName": PACKAGE})
        s.ok("sagemaker", "delete_model_package_group", {}, {"ModelPackageGroupName": PREFIX})


def teardown_principal(s: Script) -> None:
    params = {"PortfolioId": PORTFOLIO, "PrincipalARN": ROLE_ARN}
    s.ok("servicecatalog", "disassociate_principal_from_portfolio", {}, params)


def teardown_stack(s: Script, key_state: str = "Enabled") -> None:
    s.ok("cloudformation", "describe_stacks", _stack("CREATE_COMPLETE"), {"StackName": STACK})
    found = [
        {"LogicalResourceId": "ProjectKey", "PhysicalResourceId": KEY_ID},
        {"LogicalResourceId": "KeyArnParameter", "PhysicalResourceId": KEY_PARAMETER},
        {"LogicalResourceId": "LaunchRole", "PhysicalResourceId": "mlops-custom-project-eu-west-1-launch"},
    ]
    resources_ = [{**r, "ResourceType": "x", "Timestamp": WHEN, "ResourceStatus": "CREATE_COMPLETE"} for r in found]
    s.ok("cloudformation", "describe_stack_resources", {"StackResources": resources_}, {"StackName": STACK})
    s.ok("cloudformation", "delete_stack", {}, {"StackName": STACK})
    s.ok("cloudformation", "describe_stacks", _stack("DELETE_IN_PROGRESS"), {"StackName": STACK})
    s.error(*_gone("cloudformation", "describe_stacks", f"Stack with id {STACK}"))
    s.ok("kms", "schedule_key_deletion", {"KeyId": KEY_ARN}, {"KeyId": KEY_ID, "PendingWindowInDays": 7})
    s.ok("ssm", "delete_parameter", {}, {"Name": KEY_PARAMETER})


def teardown_portfolio(s: Script) -> None:
    s.ok("servicecatalog", "list_principals_for_portfolio", {"Principals": []}, {"PortfolioId": PORTFOLIO})
    s.ok("servicecatalog", "delete_portfolio", {}, {"Id": PORTFOLIO})


def script_run(s: Script, stop: str | None = None, mode: str = "fail") -> list[str]:
    """The steps up to `stop` (failing or cut there), then the teardown of what was created."""
    script_refusal_passes(s)
    created = []
    for name in STEPS:
        if name == stop and mode == "accepted":
            script_guardrail_accepted(s)
            created.append("training job")
        elif name == stop:
            s.step(mode)
        if name in SCRIPTS and not (name == stop and mode == "accepted"):
            SCRIPTS[name](s)
        s.step()
        if name in CREATES and not (name == stop and name != "publish"):
            created.append(CREATES[name])
        if name == stop:
            break
    index = STEPS.index(stop) if stop else len(STEPS)
    done = {name: index > STEPS.index(name) for name in ("build_run", "sagemaker_pipeline", "staging_deploy")}
    for resource in reversed(created):
        if resource == "training job":
            s.ok("role_sagemaker", "stop_training_job", {}, {"TrainingJobName": f"verify-{RUN_ID}-untagged"})
        elif resource == "project":
            teardown_project(s, done["build_run"], done["sagemaker_pipeline"], done["staging_deploy"])
        elif resource in ("principal", "stack", "portfolio"):
            globals()[f"teardown_{resource}"](s)
    return created


def endpoint_answers(s3):
    """What the asynchronous endpoint does: a request in its input location gets an SSE-KMS answer."""

    def act(_sleeps: int) -> None:
        request = f"async/staging/input/verify-{RUN_ID}/input.csv"
        if ARTIFACT_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            return  # the project (and its bucket) is gone
        if _objects(s3, ARTIFACT_BUCKET, request) and not _objects(s3, ARTIFACT_BUCKET, "async/staging/output/"):
            s3.put_object(
                Bucket=ARTIFACT_BUCKET,
                Key="async/staging/output/x.out",
                Body=b"9.87\n",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=KEY_ARN,
            )

    return act


def _report(report_dir: Path) -> dict:
    return json.loads((report_dir / f"verify-{RUN_ID}.json").read_text())


def _results(report_dir: Path) -> dict[str, str]:
    return {row["step"]: row["result"] for row in _report(report_dir)["steps"]}


# ---- the whole run --------------------------------------------------------------------------


def test_happy_path_holds_every_step_then_tears_down_newest_first(aws, dist, tmp_path):
    script, clock, s3 = aws
    clock.on_sleep.append(endpoint_answers(s3))
    created = script_run(script)
    result = _verify(dist, tmp_path)
    assert result.exit_code == 0, result.output
    script.assert_done()
    results = _results(tmp_path)
    assert [results[name] for name in STEPS] == ["held"] * (len(STEPS) - 1) + ["skipped"], results
    teardown = [step for step in results if step.startswith("teardown: ")]
    assert [t.split()[1] for t in teardown] == ["SageMaker", "portfolio", "product", "portfolio", "objects"]
    assert created == ["objects", "portfolio", "stack", "principal", "project"]
    # The deploy stack goes while the project's roles exist; the product stack after the project.
    deletes = [call for call in script.calls if call in ("DeleteStack", "DeleteProject")]
    assert deletes == ["DeleteStack", "DeleteProject", "DeleteStack"], deletes
    assert all(results[t] == "deleted" for t in teardown)
    # The published release and the project's artifact bucket (request and answer) are gone.
    assert _objects(s3) == []
    assert ARTIFACT_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    report = _report(tmp_path)
    assert report["outcome"] == "held" and report["account"] == ACCOUNT and report["caller"] == CALLER
    evidence = {row["step"]: row["evidence"] for row in report["steps"]}
    assert KEY_ARN in evidence["product_stack"] and PROJECT_ARN in evidence["create_project"]
    assert "x.out" in evidence["async_invocation"] and "SSE-KMS" in evidence["async_invocation"]
    assert evidence["guardrail_refusal"].startswith("skipped: the caller may not assume " + SM_ROLE)
    markdown = (tmp_path / f"verify-{RUN_ID}.md").read_text()
    assert "| guardrail_refusal | skipped |" in markdown and "| publish | held |" in markdown
    assert "[9/17] sagemaker_pipeline: held" in result.output


def test_keep_leaves_everything_tagged_and_says_how_to_clean_up(aws, dist, tmp_path):
    script, clock, s3 = aws
    clock.on_sleep.append(endpoint_answers(s3))
    script_refusal_passes(script)
    for name in STEPS[1:]:
        SCRIPTS[name](script)
    result = _verify(dist, tmp_path, "--keep")
    assert result.exit_code == 0, result.output
    script.assert_done()
    assert f"verify --cleanup {RUN_ID}" in result.output
    assert {r for step, r in _results(tmp_path).items() if step.startswith("teardown: ")} == {"kept"}
    published = _objects(s3)
    assert len(published) == 4
    for key in published:
        tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}
        assert tags["verify-run"] == RUN_ID
        assert ("servicecatalog:provisioning" in tags) == key.endswith(".yml"), (key, tags)


@pytest.mark.parametrize("step", [name for name in STEPS if name != "guardrail_refusal"])
def test_a_failure_at_any_step_tears_down_what_was_created(aws, dist, tmp_path, step):
    script, clock, s3 = aws
    clock.on_sleep.append(endpoint_answers(s3))
    if step == "publish":
        # A real refusal: different bytes already under the run's prefix.
        s3.put_object(Bucket=BUCKET, Key=f"verify/{RUN_ID}/seed_code/model_build.zip", Body=b"other")
    created = script_run(script, step)
    result = _verify(dist, tmp_path)
    _assert_one_line_error(result, 1, f"{step} failed")
    script.assert_done()
    results = _results(tmp_path)
    assert results[step] == "failed"
    assert all(results[later] == "not run" for later in STEPS[STEPS.index(step) + 1 :])
    teardown = {name: r for name, r in results.items() if name.startswith("teardown: ")}
    assert len(teardown) == len(created) and set(teardown.values()) == {"deleted"}, teardown
    assert _objects(s3) == []
    assert _report(tmp_path)["outcome"] == "did not hold"


def test_an_accepted_untagged_training_job_fails_the_run_and_is_stopped(aws, dist, tmp_path):
    script, clock, s3 = aws
    clock.on_sleep.append(endpoint_answers(s3))
    script_run(script, "guardrail_refusal", mode="accepted")
    result = _verify(dist, tmp_path)
    _assert_one_line_error(result, 1, "guardrail_refusal failed", "was accepted: the guardrail did not refuse it")
    script.assert_done()
    results = _results(tmp_path)
    assert results[f"teardown: training job verify-{RUN_ID}-untagged"] == "deleted"
    # The request went out under the assumed role's credentials, not the caller's.
    assert verification.connect(None, None).session.credentials["aws_access_key_id"] == "ASIAEXAMPLEEXAMPLE"
    assert list(results).index(f"teardown: training job verify-{RUN_ID}-untagged") < list(results).index(
        f"teardown: SageMaker project {PROJECT}"
    )


def test_ctrl_c_while_waiting_tears_down_what_was_created(aws, dist, tmp_path):
    script, clock, s3 = aws

    def press_ctrl_c(sleeps: int) -> None:
        if sleeps == 2:  # the second wait of the run: the project stack (the first is the product stack's)
            raise KeyboardInterrupt

    clock.on_sleep.append(press_ctrl_c)
    script_run(script, "project_stack", mode="cut")
    result = _verify(dist, tmp_path)
    _assert_one_line_error(result, 1, "project_stack interrupted")
    script.assert_done()
    results = _results(tmp_path)
    assert results["project_stack"] == "interrupted" and results["repositories_seeded"] == "not run"
    assert [name.split()[1] for name in results if name.startswith("teardown: ")] == [
        "SageMaker",
        "portfolio",
        "product",
        "portfolio",
        "objects",
    ]
    assert set(r for name, r in results.items() if name.startswith("teardown: ")) == {"deleted"}
    assert _objects(s3) == []


def test_a_step_that_outlives_the_run_budget_times_out_and_tears_down(aws, dist, tmp_path):
    script, clock, s3 = aws
    script_refusal_passes(script)
    for name in ("portfolio", "product_stack", "grant_portfolio", "create_project"):
        SCRIPTS[name](script)
    # --timeout-minutes 1: the product stack took 15 s; the project polls at 15, 30, 45 and 60 s.
    for _ in range(4):
        script.ok("sagemaker", "describe_project", _project("CreateInProgress"), {"ProjectName": PROJECT})
    teardown_project(script, pipeline=False, registry=False, staging=False)
    teardown_principal(script)
    teardown_stack(script)
    teardown_portfolio(script)
    result = _verify(dist, tmp_path, "--timeout-minutes", "1")
    _assert_one_line_error(result, 1, "project_stack timeout", "timed out after 45 s waiting for project")
    script.assert_done()
    assert _results(tmp_path)["project_stack"] == "timeout"
    assert clock.now > 60


def test_another_account_is_refused_before_anything_is_created(aws, dist, tmp_path):
    script, clock, s3 = aws
    script.ok("sts", "get_caller_identity", {"Account": "210987654321", "Arn": CALLER, "UserId": "AROA:me"})
    result = _verify(dist, tmp_path)
    _assert_one_line_error(result, 2, "refusing to start", "account 210987654321, not --account-id 123456789012")
    script.assert_done()
    assert _objects(s3) == [] and not list(tmp_path.iterdir())


def test_a_bucket_of_another_account_is_refused(aws, dist, tmp_path):
    script, clock, s3 = aws
    script.ok("sts", "get_caller_identity", {"Account": ACCOUNT, "Arn": CALLER, "UserId": "AROA:me"})
    # moto ignores ExpectedBucketOwner; S3 answers 403 when the bucket belongs to another account.
    with Stubber(script.clients["s3"]) as bucket:
        bucket.add_client_error(
            "head_bucket", "403", "Forbidden", 403, {"Bucket": BUCKET, "ExpectedBucketOwner": ACCOUNT}
        )
        result = _verify(dist, tmp_path)
        bucket.assert_no_pending_responses()
    _assert_one_line_error(result, 2, "refusing to start", f"bucket '{BUCKET}' is not owned by account {ACCOUNT}")
    script.assert_done()


def test_a_team_already_in_the_region_is_refused(aws, dist, tmp_path):
    script, clock, s3 = aws
    script.ok("sts", "get_caller_identity", {"Account": ACCOUNT, "Arn": CALLER, "UserId": "AROA:me"})
    script.ok("ssm", "get_parameter", {"Parameter": {"Name": KEY_PARAMETER, "Value": KEY_ARN}}, {"Name": KEY_PARAMETER})
    result = _verify(dist, tmp_path)
    _assert_one_line_error(result, 2, f"SSM parameter {KEY_PARAMETER} exists", "--config with a namespace of its own")
    script.assert_done()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--bucket", BUCKET), "verify needs --account-id"),
        (("--account-id", "12345"), "verify needs --bucket"),
        (("--bucket", BUCKET, "--account-id", "12345"), "not an AWS account id"),
        (("--bucket", BUCKET, "--account-id", ACCOUNT, "--cleanup", "NOT-AN-ID"), "not a verify run id"),
    ],
)
def test_bad_arguments_are_one_line_exit_2(aws, args, fragment):
    script, clock, s3 = aws
    _assert_one_line_error(run_cli("verify", *args), 2, fragment)
    script.assert_done()


def test_a_missing_release_is_refused_before_any_request(aws, tmp_path):
    script, clock, s3 = aws
    result = run_cli("verify", "--bucket", BUCKET, "--account-id", ACCOUNT, "--dist", str(tmp_path / "nothing"))
    _assert_one_line_error(result, 2, "SHA256SUMS not found")
    script.assert_done()


# ---- --cleanup ------------------------------------------------------------------------------


def test_cleanup_finds_a_runs_leftovers_by_tag_and_deletes_them_in_order(aws, tmp_path):
    script, clock, s3 = aws
    s3.put_object(Bucket=BUCKET, Key=f"verify/{RUN_ID}/seed_code/model_build.zip", Body=b"left")
    s3.put_object(Bucket=BUCKET, Key="releases/v1/kept.zip", Body=b"not the run's")
    script_refusal_passes(script)
    arns = [
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{KEY_PARAMETER}",
        f"arn:aws:catalog:{REGION}:{ACCOUNT}:portfolio/{PORTFOLIO}",
        STACK_ID,
        PROJECT_ARN,
    ]
    tagged = {"ResourceTagMappingList": [{"ResourceARN": arn} for arn in arns]}
    script.ok("tagging", "get_resources", tagged, {"TagFilters": [{"Key": "verify-run", "Values": [RUN_ID]}]})
    teardown_project(script, pipeline=True, registry=False, staging=False)
    teardown_stack(script)
    teardown_portfolio(script)
    # The stack took its retained parameter and key with it: found again by tag, already gone.
    script.error("ssm", "delete_parameter", "ParameterNotFound", params={"Name": KEY_PARAMETER})
    script.error("kms", "schedule_key_deletion", "KMSInvalidStateException", "pending deletion")
    result = run_cli(
        "verify", "--bucket", BUCKET, "--account-id", ACCOUNT, "--cleanup", RUN_ID, "--report-dir", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    script.assert_done()
    order = [name for name in _results(tmp_path) if name.startswith("teardown: ")]
    assert [name.split()[1] for name in order] == ["SageMaker", "stack", "portfolio", "SSM", "key", "objects"]
    assert _objects(s3, prefix="") == ["releases/v1/kept.zip"]
    assert _report(tmp_path)["mode"] == "cleanup"


def test_cleanup_names_tagged_resources_it_does_not_delete(aws, tmp_path):
    script, clock, s3 = aws
    script_refusal_passes(script)
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:left-topic"
    script.ok("tagging", "get_resources", {"ResourceTagMappingList": [{"ResourceARN": topic}]})
    result = run_cli(
        "verify", "--bucket", BUCKET, "--account-id", ACCOUNT, "--cleanup", RUN_ID, "--report-dir", str(tmp_path)
    )
    _assert_one_line_error(result, 1, f"cleanup: {topic} left")
    script.assert_done()


# ---- --plan ---------------------------------------------------------------------------------


def test_plan_is_the_golden_file_and_calls_nothing(monkeypatch):
    monkeypatch.setattr(verification, "connect", lambda *a: pytest.fail("--plan must not call AWS"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = run_cli("verify", "--plan")
    assert result.exit_code == 0, result.output
    assert result.output == GOLDEN.read_text(encoding="utf-8"), (
        "verify --plan differs from tests/golden/verify-plan.txt; if the change is intended, regenerate it: "
        ".venv/bin/mlops-templates verify --plan > tests/golden/verify-plan.txt"
    )


def test_plan_prices_the_configured_instance_types_and_says_what_it_cannot_price():
    config = build_config({"instance_types": {"processing": "ml.m5.2xlarge", "training": "ml.r5.24xlarge"}})
    text = plan.render_plan(config)
    assert "sagemaker-processing ml.m5.2xlarge: 0.3 hours = $0.138" in text
    assert "sagemaker-training ml.r5.24xlarge: 0.15 hours = no price in the table" in text
    assert "plus ml.r5.24xlarge (not in the price table)" in text
    prices = plan.load_prices()
    assert prices["source"].startswith("AWS public price pages") and prices["recorded"]


@pytest.mark.parametrize("suffix", ["custom-project", "p", "a" * 30])
def test_the_project_name_is_one_the_template_accepts(suffix):
    import re

    from generator import naming

    config = build_config({"project_suffix": suffix})
    name = plan.project_name(config, RUN_ID)
    assert len(name) <= 32 and re.fullmatch(naming.project_name_pattern(config), name), name


# ---- the engine on its own ------------------------------------------------------------------


def _engine(timeout: float = float("inf")):
    clock = FakeClock()
    lines: list[str] = []
    return engine.Engine(engine.Run(RUN_ID, clock, clock.sleep), lines.append, timeout), clock, lines


def _spec(name: str, minutes: int = 1, optional: bool = False) -> plan.StepSpec:
    return plan.StepSpec(name, "nothing", "something", minutes, optional=optional)


def test_the_engine_times_out_a_step_at_its_own_timeout_and_deletes_newest_first():
    runner, clock, lines = _engine()
    deleted: list[str] = []

    def creates(what):
        def action(run):
            run.create(what, lambda r: deleted.append(what) or "")
            return what

        return action

    never = (_spec("waits", minutes=2), lambda run: run.wait("Godot", lambda: None))
    steps = [(_spec("a"), creates("first")), (_spec("b"), creates("second")), never, (_spec("c"), creates("third"))]
    assert runner.execute(steps, keep=False) is False
    assert [(r.step, r.result) for r in runner.results[:4]] == [
        ("a", "held"),
        ("b", "held"),
        ("waits", "timeout"),
        ("c", "not run"),
    ]
    assert runner.results[2].seconds == 120 and "waiting for Godot" in runner.results[2].evidence
    assert deleted == ["second", "first"]
    assert "[3/4] waits: timeout (120 s) timed out after 120 s waiting for Godot" in lines


def test_the_engine_goes_on_deleting_after_a_failed_delete_and_reports_what_was_left():
    runner, clock, lines = _engine()

    def action(run):
        run.create("kept by AWS", lambda r: (_ for _ in ()).throw(RuntimeError("DeleteConflict: in use")))
        run.create("deletable", lambda r: "gone")
        return "made two"

    assert runner.execute([(_spec("a"), action)], keep=False) is False
    rows = [(r.step, r.result, r.evidence) for r in runner.results[1:]]
    assert rows == [
        ("teardown: deletable", "deleted", "gone"),
        ("teardown: kept by AWS", "left", "DeleteConflict: in use"),
    ]
    assert engine.first_problem(runner.results).step == "teardown: kept by AWS"


def test_a_skipped_step_holds_only_if_the_plan_says_it_may_be_skipped():
    def skip(run):
        raise engine.Skipped("not here")

    runner, _, _ = _engine()
    assert runner.execute([(_spec("optional", optional=True), skip)], keep=False) is True
    assert runner.results[0].evidence == "skipped: not here"
    runner, _, _ = _engine()
    assert runner.execute([(_spec("required"), skip)], keep=False) is False
    assert (runner.results[0].result, runner.results[0].evidence) == ("failed", "not checked: not here")


# ---- the guardrail step ---------------------------------------------------------------------


def _guardrail_target(aws_script):
    clients = verification.connect(None, None)
    target = resources.Target(build_config(), clients, ACCOUNT, REGION, BUCKET, Path("."), None)
    run = engine.Run(RUN_ID)
    run.values.update(
        project_name=PROJECT,
        project_id=PROJECT_ID,
        product={"KmsKeyArn": KEY_ARN},
        training_image="xgboost:3.0-5",
        publish=type("Published", (), {"partition": "aws"})(),
    )
    return target, run


@pytest.mark.parametrize(
    ("message", "held"),
    [
        ("User: x is not authorized to perform: sagemaker:CreateTrainingJob with an explicit deny", True),
        ("User: x is not authorized to perform: sagemaker:CreateTrainingJob because no policy allows it", False),
    ],
)
def test_the_guardrail_step_holds_only_on_an_explicit_deny(aws, message, held):
    script, clock, s3 = aws
    target, run = _guardrail_target(script)
    credentials = {"AccessKeyId": "ASIAEXAMPLEEXAMPLE", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": WHEN}
    script.ok("sts", "assume_role", {"Credentials": credentials})
    script.error("role_sagemaker", "create_training_job", "AccessDeniedException", message)
    if held:
        assert guardrail_refusal(target, run).startswith(f"untagged CreateTrainingJob as {SM_ROLE}")
    else:
        with pytest.raises(engine.StepFailed, match="refused, but not by the guardrail"):
            guardrail_refusal(target, run)
    script.assert_done()
    assert run.created == []


# ---- checks that find something wrong -------------------------------------------------------


def _watching(aws_script):
    target, run = _guardrail_target(aws_script)
    run.values.update(execution=EXECUTION, tags={"project": "verify", "env": "dev"}, deploy_runs={"d1"})
    return target, run


def _wrong_key(s: Script) -> None:
    script_jobs_tagged_encrypted(s, volume_key="arn:aws:kms:eu-west-1:123456789012:key/another-key")


def _missing_tag(s: Script) -> None:
    script_jobs_tagged_encrypted(s, processing_tags=[{"Key": "project", "Value": "verify"}])


def _stage_ran(s: Script) -> None:
    script_first_deploy_run(s, prod="Succeeded")


@pytest.mark.parametrize(
    ("step", "script", "reason"),
    [
        ("jobs_tagged_encrypted", _wrong_key, "training-job/pipelines-e1-train: volume key is 'arn:aws:kms"),
        ("jobs_tagged_encrypted", _missing_tag, "processing-job/pipelines-e1-preprocess: tag env=None, expected 'dev'"),
        ("first_deploy_run", _stage_ran, "not every stage after Build was Skipped: DeployProd Succeeded"),
    ],
)
def test_a_check_that_does_not_hold_fails_with_the_first_problem(aws, step, script, reason):
    aws_script, clock, s3 = aws
    target, run = _watching(aws_script)
    script(aws_script)
    with pytest.raises(engine.StepFailed, match=re.escape(reason)):
        verification.ACTIONS[step](target, run)
    aws_script.assert_done()


def test_an_async_answer_under_another_key_fails(aws):
    aws_script, clock, s3 = aws
    target, run = _watching(aws_script)
    run.values["staging_outputs"] = {
        "EndpointName": ENDPOINT,
        "AsyncInputPath": f"s3://{ARTIFACT_BUCKET}/async/staging/input",
    }
    script_async_invocation(aws_script)
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key="async/staging/output/x.out", Body=b"1.0", ServerSideEncryption="AES256")
    with pytest.raises(engine.StepFailed, match="is AES256 under None, not SSE-KMS under the product's key"):
        verification.ACTIONS["async_invocation"](target, run)
    aws_script.assert_done()

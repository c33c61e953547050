"""Every runtime role can do its job: the requests its service makes, simulated by iam-simulate.

The requests are derived from the seed code and the templates, never from the policies:

* The model build and the deploy build *run*: ``run-pipeline`` (twice, so the SDK's upsert takes
  both its create and its update path), ``build.py`` and the staging test's ``invoke_async``
  run against moto with every boto3 call recorded before it is sent (botocore's
  ``before-parameter-build`` event). Each recorded call becomes the IAM request AWS authorises
  (``RECORDED``); a call with no mapping fails the test rather than being skipped.
* The AWS CLI lines of the buildspecs (``aws s3 cp``, ``aws cloudformation package``), the
  CodePipeline actions, the EventBridge targets and the CodeBuild projects' logs and artifacts
  are read from the rendered project template and the buildspec files.
* The SageMaker execution role's requests come from the rendered pipeline definition (inputs,
  outputs, images, tags, role) and the endpoint template (async paths, topics).

Each request is simulated with the role's policies from the rendered product template; requests
on the project key meet the key policy, requests on the artifact bucket meet the bucket policy
of the project template. Every request must be Allowed. The same requests on another team's
project (another suffix) are negative controls: none may be Allowed.

What this cannot prove is listed in ``NOT_PROVEN_HERE``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from generator import buildspecs
from iam_project import (
    ACCOUNT,
    DEFAULT,
    PARTITION,
    REGION,
    ROLE_IDS,
    SEED_BUILD,
    SEED_DEPLOY,
    SEED_OFFLINE,
    Team,
    codebuild_environment,
    deploy_build_environment,
    endpoint_stack,
    existing_resource,
    run,
    sagemaker_condition_keys,
    seed_module,
    seed_pipeline_definition,
    team,
    team_resource_policy,
)
from iamsim_client import Case, Request, engine_ready, explain, resolve_intrinsics

pytestmark = pytest.mark.skipif(engine_ready() is not None, reason=str(engine_ready()))

# Another team (other namespace and suffix) whose project the negative controls aim at.
OTHER = team(
    "riskteam", "risk-project", "credit-risk-project", "p-mnopqrstuvwx", "0f0e0d0c-0b0a-4909-8807-060504030201"
)
NOT_ALLOWED = {"ImplicitlyDenied", "ExplicitlyDenied"}
# Names SageMaker and CodeBuild choose at run time, in the shapes they use.
EXECUTION_ID = "1a2b3c4d5e6f"
BUILD_NUMBER = "42"
S3_VIA = f"s3.{REGION}.amazonaws.com"
SNS_VIA = f"sns.{REGION}.amazonaws.com"

NOT_PROVEN_HERE = (
    "Calls a service makes on a role's behalf are the documented ones (CodeBuild reading and writing "
    "pipeline artifacts and logs, CodePipeline's CodeCommit/CodeBuild/CloudFormation actions, SageMaker "
    "reading job inputs and writing outputs, pulling images, publishing async notifications); the "
    "exact set a service calls is AWS behaviour this engine cannot observe.",
    "The AWS CLI is not run: the requests of `aws s3 cp` and `aws cloudformation package` are read off "
    "the buildspec lines (one PutObject with the SSE headers; package uploads with HeadObject first).",
    "moto answers InvokeEndpointAsync with its own output bucket; the output and failure objects the "
    "staging test reads are where SageMaker writes them, <S3OutputPath>/<id>.out and <S3FailurePath>/<id>-error.out "
    "of the endpoint template.",
    "moto has no ListPipelineExecutionSteps: the call is recorded before it is sent, then moto fails it.",
    "KMS encryption contexts and S3 bucket-key behaviour are not modelled; kms:ViaService is.",
    "Pulling AWS-owned SageMaker images is cross-account: the repository policy AWS sets is replaced by a "
    "stand-in admitting the pulling role, so only the role's own policy is proven.",
)


# ---------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Need:
    """One request a role makes, and which code or template line makes it."""

    role: str
    request: Request
    why: str


def s3_object(bucket: str, key: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket}/{key.lstrip('/')}"


def split_s3(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
    assert match, f"not an S3 URI: {uri!r}"
    return match.group(1), match.group(2)


def s3_get(role: str, bucket: str, key: str, why: str) -> list[Need]:
    return [
        Need(role, Request("s3:GetObject", s3_object(bucket, key), context={"aws:SecureTransport": "true"}), why),
        Need(
            role, Request("kms:Decrypt", key_of_bucket(bucket), context={"kms:ViaService": S3_VIA}), why + " (SSE-KMS)"
        ),
    ]


def s3_put(role: str, bucket: str, key: str, why: str, key_arn: str | None = None) -> list[Need]:
    """A PutObject with the SSE-KMS headers the code sends (the bucket policy demands them)."""
    key_arn = key_arn or key_of_bucket(bucket)
    context = {
        "aws:SecureTransport": "true",
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn,
    }
    return [
        Need(role, Request("s3:PutObject", s3_object(bucket, key), context=context), why),
        Need(role, Request("kms:GenerateDataKey", key_arn, context={"kms:ViaService": S3_VIA}), why + " (SSE-KMS)"),
    ]


def s3_list(role: str, bucket: str, prefix: str, why: str) -> Need:
    return Need(
        role,
        Request(
            "s3:ListBucket",
            f"arn:{PARTITION}:s3:::{bucket}",
            context={"s3:prefix": prefix, "aws:SecureTransport": "true"},
        ),
        why,
    )


TEAMS = (DEFAULT, OTHER)


def key_of_bucket(bucket: str) -> str:
    """The key a team's bucket is encrypted with (its product key)."""
    for t in TEAMS:
        if bucket == t.bucket:
            return t.key_arn
    raise AssertionError(f"bucket {bucket} belongs to no sample team")


# ---------------------------------------------------------------------------------- recording boto3


class Recorder:
    """Every API call a boto3 session is about to send: (service, operation, parameters)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, params: dict[str, Any], model, **_: Any) -> None:
        self.calls.append((model.service_model.service_name, model.name, json.loads(json.dumps(params, default=str))))

    def attach(self, session) -> None:
        session.events.register("before-parameter-build.*.*", self)


@functools.cache
def model_build_calls(t: Team) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """Run ``run-pipeline`` as the model build does, twice (create, then update), against moto."""
    if not SEED_OFFLINE.is_file():
        pytest.skip(f"{SEED_OFFLINE} does not exist")
    env = codebuild_environment(t, "codebuild-buildspec.yml")
    recorder = Recorder()
    with seed_module(SEED_BUILD, SEED_OFFLINE, "seed_model_build_offline") as offline:
        from pipelines.run_pipeline import run_pipeline_main
        from pipelines.settings import ProjectSettings

        settings = ProjectSettings.from_env(env)
        # moto answers with ARNs in the sample account, like the ones the templates name.
        with (
            mock.patch.dict(os.environ, {**env, "MOTO_ACCOUNT_ID": ACCOUNT}),
            offline.recorded_telemetry(),
            offline.offline_aws(settings) as session,
        ):
            recorder.attach(session)
            for _ in range(2):
                client = offline.project_tags_client(session, settings)
                recorder.attach(client.meta)
                try:
                    code = run_pipeline_main([], boto_session=session, sagemaker_client=client)
                except NotImplementedError as error:  # moto: ListPipelineExecutionSteps (already recorded)
                    assert "list_pipeline_execution_steps" in str(error), error
                else:
                    assert code == 0, f"run-pipeline exited {code} against moto"
    return tuple(recorder.calls)


@functools.cache
def deploy_build_calls(t: Team, tmp: Path) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """Run ``build.py`` as the deploy build does, against moto with one approved model package."""
    import boto3
    from moto import mock_aws

    env = deploy_build_environment(t)
    folder = tmp / f"deploy-{t.project_id}"
    shutil.copytree(SEED_DEPLOY, folder, ignore=shutil.ignore_patterns("__pycache__"))
    recorder = Recorder()
    with mock.patch.dict(os.environ, {"MOTO_ACCOUNT_ID": ACCOUNT}), mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        group = env["MODEL_PACKAGE_GROUP_NAME"]
        client.create_model_package_group(ModelPackageGroupName=group)
        client.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus="Approved")
        recorder.attach(client.meta)
        with seed_module(SEED_DEPLOY, SEED_DEPLOY / "build.py", "seed_model_deploy_build") as build:
            code = build.run(["--dir", str(folder), "--allow-no-model"], env, sagemaker=client)
    assert code == 0, f"build.py exited {code} against moto"
    assert (folder / "staging-config-export.json").is_file(), "build.py wrote no staging configuration"
    return tuple(recorder.calls)


def endpoint_outputs(t: Team, stage: str) -> dict[str, str]:
    """The endpoint stack's Outputs for ``stage`` (what the staging deploy action writes for the test)."""
    template, kwargs = endpoint_stack(t, stage, 1)
    resources: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        props = resource["Properties"]
        if resource["Type"] == "AWS::SNS::Topic":
            resources[logical_id] = t.arn(
                "sns", resolve_intrinsics(props["TopicName"], where=f"endpoint template: {logical_id}", **kwargs)
            )
        if resource["Type"] == "AWS::SageMaker::Endpoint":
            resources[f"{logical_id}.EndpointName"] = resolve_intrinsics(
                props["EndpointName"], where=f"endpoint template: {logical_id}", **kwargs
            )
    return {
        name: resolve_intrinsics(
            output["Value"], where=f"endpoint template: Outputs.{name}", resources=resources, **kwargs
        )
        for name, output in template["Outputs"].items()
    }


@functools.cache
def staging_test_calls(t: Team) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """Run the staging test's asynchronous invocation against moto (input upload, invoke, answer)."""
    import boto3
    from moto import mock_aws

    outputs = endpoint_outputs(t, "staging")
    recorder = Recorder()
    with mock.patch.dict(os.environ, {"MOTO_ACCOUNT_ID": ACCOUNT}), mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=t.bucket)
        s3 = boto3.client("s3", region_name=REGION)
        runtime = boto3.client("sagemaker-runtime", region_name=REGION)
        for client in (s3, runtime):
            recorder.attach(client.meta)
        with seed_module(SEED_DEPLOY, SEED_DEPLOY / "test" / "test.py", "seed_model_deploy_test") as staging_test:
            _labels, body = staging_test.read_holdout()
            staging_test.invoke_async(s3, runtime, outputs, body, t.key_arn, BUILD_NUMBER, timeout=0, poll=0)
    # moto writes its async answer to a bucket it invents; the reads SageMaker's real answer
    # needs are in staging_extra_needs (the endpoint config's output and failure paths).
    return tuple(call for call in recorder.calls if call[2].get("Bucket", t.bucket) == t.bucket)


# ---------------------------------------------------------------------------------- calls -> IAM


def recorded_needs(t: Team, role: str, calls: Iterable[tuple[str, str, dict[str, Any]]], where: str) -> list[Need]:
    """The IAM requests AWS authorises for each recorded call (service authorization reference)."""
    needs: list[Need] = []
    for service, operation, params in calls:
        why = f"{where}: {service} {operation}"
        if service == "sagemaker" and operation == "ListTags":
            needs.append(Need(role, Request("sagemaker:ListTags", params["ResourceArn"]), why))
        elif service == "sagemaker" and operation in ("CreatePipeline", "UpdatePipeline"):
            arn = t.sm("pipeline", params["PipelineName"])
            tags = {tag["Key"]: tag["Value"] for tag in params.get("Tags", [])} or None
            # Keys IAM derives from the call's parameters (none today for a pipeline; the helper
            # fails if the catalogue starts listing one it cannot map).
            keys = sagemaker_condition_keys(f"sagemaker:{operation}", params)
            needs.append(Need(role, Request(f"sagemaker:{operation}", arn, tags=tags, context=keys), why))
            if tags:  # tags on create are authorised as AddTags too
                needs.append(Need(role, Request("sagemaker:AddTags", arn, tags=tags), why + " (tags on create)"))
            needs.append(
                Need(
                    role,
                    Request(
                        "iam:PassRole", params["RoleArn"], context={"iam:PassedToService": "sagemaker.amazonaws.com"}
                    ),
                    why + " (pipeline role)",
                )
            )
        elif service == "sagemaker" and operation == "AddTags":
            # The pipeline exists and carries the tags it was created with.
            tags = {tag["Key"]: tag["Value"] for tag in params["Tags"]}
            needs.append(
                Need(
                    role,
                    Request(
                        "sagemaker:AddTags", params["ResourceArn"], tags=tags, context=existing_resource(t.all_tags)
                    ),
                    why + " (existing tagged pipeline)",
                )
            )
        elif service == "sagemaker" and operation in ("StartPipelineExecution", "DescribePipeline"):
            needs.append(Need(role, Request(f"sagemaker:{operation}", t.sm("pipeline", params["PipelineName"])), why))
        elif service == "sagemaker" and operation in ("DescribePipelineExecution", "ListPipelineExecutionSteps"):
            needs.append(Need(role, Request(f"sagemaker:{operation}", params["PipelineExecutionArn"]), why))
        elif service == "sagemaker" and operation == "ListModelPackages":
            # No resource type: IAM authorises it on "*" (the group is only a request parameter).
            needs.append(Need(role, Request("sagemaker:ListModelPackages", "*"), why))
        elif service == "sagemaker-runtime" and operation in ("InvokeEndpointAsync", "InvokeEndpoint"):
            needs.append(Need(role, Request(f"sagemaker:{operation}", t.sm("endpoint", params["EndpointName"])), why))
        elif service == "s3" and operation == "PutObject":
            assert params.get("ServerSideEncryption") == "aws:kms", (
                f"{why}: upload without SSE-KMS: {params.get('Key')}"
            )
            needs += s3_put(role, params["Bucket"], params["Key"], why, key_arn=params.get("SSEKMSKeyId"))
        elif service == "s3" and operation in ("GetObject", "HeadObject"):
            needs += s3_get(role, params["Bucket"], params["Key"], why)
        elif service == "s3" and operation == "HeadBucket":
            needs.append(s3_list(role, params["Bucket"], "", why))
        elif service == "s3" and operation == "ListBuckets":
            # boto3's Bucket.creation_date swallows AccessDenied (boto3/s3/inject.py bucket_load);
            # the SDK then probes the bucket with HeadBucket, which is what must be allowed.
            needs.append(s3_list(role, t.bucket, "", why + " -> HeadBucket fallback"))
        else:
            raise AssertionError(f"{why}: recorded call has no IAM mapping here; add it to recorded_needs")
    return needs


def buildspec_commands(path: Path) -> list[list[str]]:
    spec = yaml.safe_load(path.read_text())
    commands = [c for phase in spec["phases"].values() for c in phase.get("commands", [])]
    return [shlex.split(c) for c in commands]


def expand(word: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in env, f"buildspec uses ${name}, which the build environment does not set"
        return env[name]

    return re.sub(r"\$\{([A-Z_]+)(?::\?[^}]*)?\}|\$([A-Z_]+)", replace, word)


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def cli_needs(t: Team) -> list[Need]:
    """The AWS CLI lines of the two buildspecs, as the CLI sends them."""
    needs: list[Need] = []
    env = {**codebuild_environment(t, "codebuild-buildspec.yml"), "CODEBUILD_BUILD_NUMBER": BUILD_NUMBER}
    copies = [w for w in buildspec_commands(SEED_BUILD / "codebuild-buildspec.yml") if w[:3] == ["aws", "s3", "cp"]]
    assert copies, "model build buildspec: no `aws s3 cp` upload of the data"
    for words in copies:
        words = [expand(w, env) for w in words]
        assert option(words, "--sse") == "aws:kms", f"model build buildspec: {' '.join(words)} does not use SSE-KMS"
        bucket, key = split_s3(words[4])
        needs += s3_put(
            "codebuild",
            bucket,
            key,
            "codebuild-buildspec.yml: aws s3 cp --sse aws:kms",
            key_arn=option(words, "--sse-kms-key-id"),
        )
    env = {**deploy_build_environment(t), "CODEBUILD_BUILD_NUMBER": BUILD_NUMBER}

    def commands(buildspec: str) -> list[str]:
        return [c for phase in yaml.safe_load(buildspec)["phases"].values() for c in phase.get("commands", [])]

    # The deploy build and the deploy gate run the project template's own buildspecs, not the
    # repository's: the registry lookup is the gate's. The deploy build uploads nothing itself
    # (the deploy stages deploy the endpoint template from the artifact the gate checked).
    assert not [c for c in commands(buildspecs.DEPLOY_CONFIG_BUILDSPEC) if c.startswith("aws ")], (
        "deploy build buildspec: an AWS CLI call this test does not derive requests for"
    )
    lookups = [c for c in commands(buildspecs.DEPLOY_GATE_BUILDSPEC) if "aws sagemaker list-model-packages" in c]
    assert lookups, "deploy gate buildspec: no registry lookup"
    gate_env = codebuild_environment(t, buildspecs.DEPLOY_GATE_BUILDSPEC)
    assert "MODEL_PACKAGE_GROUP_NAME" in gate_env, "the deploy gate's project does not name the group"
    # The role the gate's project runs as, from the template.
    (gate_role,) = (
        next(p for p in ROLE_IDS if t.role_arn(p) == props["ServiceRole"])
        for props in of_type(project_resources(t), "AWS::CodeBuild::Project").values()
        if props["Source"]["BuildSpec"] == buildspecs.DEPLOY_GATE_BUILDSPEC
    )
    # ListModelPackages names the group as a parameter; IAM sees no resource (see the CodeBuild policy).
    needs.append(
        Need(
            gate_role,
            Request("sagemaker:ListModelPackages", "*"),
            "deploy gate buildspec: aws sagemaker list-model-packages (the newest Approved version)",
        )
    )
    return needs


# ---------------------------------------------------------------------------------- from the templates


@functools.cache
def project_resources(t: Team) -> dict[str, dict[str, Any]]:
    """The project template's resources with every intrinsic resolved for the sample project."""
    project = t.template("project")
    kwargs = t.project_resolve_kwargs()
    refs = dict(kwargs.pop("resources"))
    for logical_id, resource in project["Resources"].items():
        name = {"AWS::CodeBuild::Project": "Name", "AWS::Logs::LogGroup": "LogGroupName"}.get(resource["Type"])
        if name:
            refs[logical_id] = resolve_intrinsics(
                resource["Properties"][name], where=f"project template: {logical_id}", **kwargs
            )
    return {
        logical_id: resolve_intrinsics(resource, where=f"project template: {logical_id}", resources=refs, **kwargs)
        for logical_id, resource in project["Resources"].items()
    }


def of_type(resources: Mapping[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {logical_id: r["Properties"] for logical_id, r in resources.items() if r["Type"] == kind}


def artifact_key(pipeline: str, artifact: str) -> str:
    """Where CodePipeline stores an artifact: <pipeline name[:20]>/<artifact name[:10]>/<random>."""
    return f"{pipeline[:20]}/{artifact[:10]}/AbCdEf1"


def service_needs(t: Team) -> list[Need]:
    """CodeBuild, CodePipeline and EventBridge on the roles the project template gives them."""
    resources = project_resources(t)
    needs: list[Need] = []
    builds = of_type(resources, "AWS::CodeBuild::Project")
    roles = {p: t.role_arn(p) for p in ROLE_IDS}
    purpose_of = {arn: p for p, arn in roles.items()}
    for logical_id, props in builds.items():
        role = purpose_of[props["ServiceRole"]]
        group = props["LogsConfig"]["CloudWatchLogs"]["GroupName"]
        why = f"project template {logical_id}: CodeBuild writes the build log"
        # Both actions act on the stream (IAM's log-stream resource type), which CodeBuild names by build id.
        stream = t.arn("logs", f"log-group:{group}:log-stream:{props['Name']}/0a1b2c3d")
        needs += [Need(role, Request(f"logs:{a}", stream), why) for a in ("CreateLogStream", "PutLogEvents")]
    for logical_id, props in of_type(resources, "AWS::CodePipeline::Pipeline").items():
        role = purpose_of[props["RoleArn"]]
        store = props["ArtifactStore"]
        assert store["EncryptionKey"]["Id"] == t.key_arn, (
            f"project template {logical_id}: artifact store not under the project key"
        )
        bucket, pipeline = store["Location"], props["Name"]
        for stage in props["Stages"]:
            for action in stage["Actions"]:
                why = f"project template {logical_id} action {action['Name']}"
                provider, config = action["ActionTypeId"]["Provider"], action["Configuration"]
                inputs = [a["Name"] for a in action.get("InputArtifacts", [])]
                outputs = [a["Name"] for a in action.get("OutputArtifacts", [])]
                if provider == "CodeCommit":
                    repo = t.arn("codecommit", config["RepositoryName"])
                    needs += [
                        Need(role, Request(f"codecommit:{a}", repo), why)
                        for a in ("GetBranch", "GetCommit", "UploadArchive", "GetUploadArchiveStatus")
                    ]
                elif provider == "CodeBuild":
                    project = t.arn("codebuild", f"project/{config['ProjectName']}")
                    needs += [
                        Need(role, Request(f"codebuild:{a}", project), why) for a in ("StartBuild", "BatchGetBuilds")
                    ]
                    # The build itself reads its inputs and writes its outputs as the CodeBuild role.
                    build_role = purpose_of[
                        builds[next(i for i, b in builds.items() if b["Name"] == config["ProjectName"])]["ServiceRole"]
                    ]
                    for name in inputs:
                        needs += s3_get(
                            build_role, bucket, artifact_key(pipeline, name), why + f" (CodeBuild reads {name})"
                        )
                    for name in outputs:
                        needs += s3_put(
                            build_role, bucket, artifact_key(pipeline, name), why + f" (CodeBuild writes {name})"
                        )
                elif provider == "CloudFormation":
                    stack = t.arn("cloudformation", f"stack/{config['StackName']}/0f0e0d0c-0b0a-4909-8807-060504030201")
                    needs += [
                        Need(role, Request(f"cloudformation:{a}", stack), why)
                        for a in ("DescribeStacks", "CreateStack", "UpdateStack", "DeleteStack")
                    ]
                    needs.append(
                        Need(
                            role,
                            Request(
                                "iam:PassRole",
                                config["RoleArn"],
                                context={"iam:PassedToService": "cloudformation.amazonaws.com"},
                            ),
                            why,
                        )
                    )
                elif provider in ("Manual",):
                    continue
                else:
                    raise AssertionError(f"{why}: provider {provider} has no requests mapped here")
                # CodePipeline moves the artifacts of its own actions (source output, deploy input/output).
                if provider != "CodeBuild":
                    for name in inputs:
                        needs += s3_get(role, bucket, artifact_key(pipeline, name), why + f" (reads {name})")
                    for name in outputs:
                        needs += s3_put(role, bucket, artifact_key(pipeline, name), why + f" (writes {name})")
    for logical_id, props in of_type(resources, "AWS::Events::Rule").items():
        for target in props["Targets"]:
            role = purpose_of[target["RoleArn"]]
            needs.append(
                Need(
                    role,
                    Request("codepipeline:StartPipelineExecution", target["Arn"]),
                    f"project template {logical_id}: target {target['Id']}",
                )
            )
    return needs


def staging_extra_needs(t: Team) -> list[Need]:
    """The staging test's reads of the async answer, and its other code paths."""
    outputs = endpoint_outputs(t, "staging")
    why = "model_deploy/test/test.py"
    needs: list[Need] = []
    for path, suffix in (("AsyncOutputPath", ".out"), ("AsyncFailurePath", "-error.out")):
        bucket, prefix = split_s3(outputs[path])
        needs += s3_get("codebuild", bucket, f"{prefix}/0a1b2c3d-inference{suffix}", f"{why}: reads {path}")
    stack = t.arn("cloudformation", f"stack/{t.prefix}-deploy-staging/0f0e0d0c-0b0a-4909-8807-060504030201")
    needs.append(
        Need(
            "codebuild",
            Request("cloudformation:DescribeStacks", stack),
            f"{why}: --stack-name (default) reads the outputs",
        )
    )
    # test.py's other branch serves real-time projects: their roles are proven on a real-time team.
    if t.config.endpoint_kind.value == "realtime":
        needs.append(
            Need(
                "codebuild",
                Request("sagemaker:InvokeEndpoint", t.sm("endpoint", outputs["EndpointName"])),
                f"{why}: a real-time endpoint",
            )
        )
    return needs


# ---------------------------------------------------------------------------------- SageMaker role


def pipeline_value(expression: Any, steps: Mapping[str, dict], parameters: Mapping[str, str]) -> str:
    """A pipeline expression as SageMaker evaluates it in one execution."""
    if isinstance(expression, str):
        return expression
    if "Std:Join" in expression:
        join = expression["Std:Join"]
        return join["On"].join(pipeline_value(v, steps, parameters) for v in join["Values"])
    reference = expression.get("Get", "")
    if reference.startswith("Parameters."):
        return parameters[reference.split(".", 1)[1]]
    if reference == "Execution.PipelineExecutionId":
        return EXECUTION_ID
    match = re.fullmatch(r"Steps\.(\w+)\.ProcessingOutputConfig\.Outputs\['(\w+)'\]\.S3Output\.S3Uri", reference)
    if match:
        outputs = steps[match.group(1)]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
        return pipeline_value(
            next(o for o in outputs if o["OutputName"] == match.group(2))["S3Output"]["S3Uri"], steps, parameters
        )
    match = re.fullmatch(r"Steps\.(\w+)\.ModelArtifacts\.S3ModelArtifacts", reference)
    if match:
        step = steps[match.group(1)]
        root = pipeline_value(step["Arguments"]["OutputDataConfig"]["S3OutputPath"], steps, parameters)
        return f"{root}/{job_name(step)}/output/model.tar.gz"
    raise AssertionError(f"pipeline expression {expression!r} is not evaluated here; add it to pipeline_value")


def job_name(step: dict) -> str:
    return f"pipelines-{EXECUTION_ID}-{step['Name'][:20]}-AbCdEfGhIj"


def ecr_repository(image: str) -> str:
    match = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)[:@].+", image)
    assert match, f"not an ECR image URI: {image}"
    account, region, repository = match.groups()
    return f"arn:{PARTITION}:ecr:{region}:{account}:repository/{repository}"


def image_pull(role: str, image: str, why: str) -> list[Need]:
    needs = [Need(role, Request("ecr:GetAuthorizationToken", "*"), why)]
    needs += [
        Need(role, Request(f"ecr:{a}", ecr_repository(image)), why)
        for a in ("BatchGetImage", "GetDownloadUrlForLayer", "BatchCheckLayerAvailability")
    ]
    return needs


def job_runtime(role: str, t: Team, kind: str, name: str, why: str) -> list[Need]:
    """Logs, metrics and the volume key of one job."""
    group = f"/aws/sagemaker/{kind}"
    return [
        Need(
            role,
            Request("logs:CreateLogStream", t.arn("logs", f"log-group:{group}:log-stream:{name}/algo-1-1700000000")),
            why,
        ),
        Need(
            role,
            Request("logs:PutLogEvents", t.arn("logs", f"log-group:{group}:log-stream:{name}/algo-1-1700000000")),
            why,
        ),
        Need(role, Request("cloudwatch:PutMetricData", "*", context={"cloudwatch:namespace": group}), why),
        Need(
            role,
            Request("kms:CreateGrant", t.key_arn, context={"kms:GrantIsForAWSResource": "true"}),
            why + " (volume key)",
        ),
    ]


def job_start(describe: str, job: str, arguments: Mapping[str, Any], tags: dict[str, str], why: str) -> list[Need]:
    """A seed pipeline job's start: its role passed to SageMaker, then the job described (``describe``)."""
    return [
        Need(
            "sagemaker",
            Request("iam:PassRole", arguments["RoleArn"], context={"iam:PassedToService": "sagemaker.amazonaws.com"}),
            why,
        ),
        Need("sagemaker", Request(describe, job, context=existing_resource(tags)), why),
    ]


def sagemaker_needs(t: Team) -> list[Need]:
    definition = seed_pipeline_definition(t)
    parameters = {p["Name"]: str(p.get("DefaultValue", "")) for p in definition.get("Parameters", [])}
    with seed_module(SEED_BUILD, SEED_OFFLINE, "seed_model_build_offline") as offline:
        steps = list(offline.walk_steps(definition["Steps"]))
    by_name = {step["Name"]: step for step in steps}
    needs: list[Need] = []
    for step in steps:
        arguments, why = step.get("Arguments", {}), f"seed pipeline step {step['Name']}"
        tags = {tag["Key"]: tag["Value"] for tag in arguments.get("Tags", [])}
        if step["Type"] == "Processing":
            name = job_name(step)
            needs += job_start("sagemaker:DescribeProcessingJob", t.sm("processing-job", name), arguments, tags, why)
            for item in arguments["ProcessingInputs"]:
                bucket, key = split_s3(pipeline_value(item["S3Input"]["S3Uri"], by_name, parameters))
                needs.append(s3_list("sagemaker", bucket, key, f"{why} input {item['InputName']}"))
                leaf = key if "." in key.rsplit("/", 1)[-1] else f"{key}/part-00000.csv"
                needs += s3_get("sagemaker", bucket, leaf, f"{why} input {item['InputName']}")
            for item in arguments["ProcessingOutputConfig"]["Outputs"]:
                bucket, key = split_s3(pipeline_value(item["S3Output"]["S3Uri"], by_name, parameters))
                needs += s3_put(
                    "sagemaker",
                    bucket,
                    f"{key}/{item['OutputName']}.csv",
                    f"{why} output {item['OutputName']}",
                    key_arn=arguments["ProcessingOutputConfig"]["KmsKeyId"],
                )
            needs += image_pull("sagemaker", arguments["AppSpecification"]["ImageUri"], why)
            needs += job_runtime("sagemaker", t, "ProcessingJobs", name, why)
        elif step["Type"] == "Training":
            name = job_name(step)
            needs += job_start("sagemaker:DescribeTrainingJob", t.sm("training-job", name), arguments, tags, why)
            for channel in arguments["InputDataConfig"]:
                bucket, key = split_s3(
                    pipeline_value(channel["DataSource"]["S3DataSource"]["S3Uri"], by_name, parameters)
                )
                needs.append(s3_list("sagemaker", bucket, key, f"{why} channel {channel['ChannelName']}"))
                needs += s3_get(
                    "sagemaker",
                    bucket,
                    f"{key}/{channel['ChannelName']}.csv",
                    f"{why} channel {channel['ChannelName']}",
                )
            bucket, key = split_s3(
                pipeline_value({"Get": f"Steps.{step['Name']}.ModelArtifacts.S3ModelArtifacts"}, by_name, parameters)
            )
            needs += s3_put(
                "sagemaker", bucket, key, f"{why} model artifact", key_arn=arguments["OutputDataConfig"]["KmsKeyId"]
            )
            needs += image_pull("sagemaker", arguments["AlgorithmSpecification"]["TrainingImage"], why)
            needs += job_runtime("sagemaker", t, "TrainingJobs", name, why)
        elif step["Type"] == "RegisterModel":
            package = t.sm("model-package", f"{arguments['ModelPackageGroupName']}/1")
            needs.append(
                Need(
                    "sagemaker",
                    Request(
                        "sagemaker:CreateModelPackage",
                        package,
                        tags=tags or None,
                        context=sagemaker_condition_keys("sagemaker:CreateModelPackage", arguments),
                    ),
                    why,
                )
            )
            needs.append(Need("sagemaker", Request("sagemaker:AddTags", package, tags=tags), why + " (tags on create)"))
            metrics = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
            needs += s3_get(
                "sagemaker", *split_s3(pipeline_value(metrics, by_name, parameters)), why + " (model metrics)"
            )
            for container in arguments["InferenceSpecification"]["Containers"]:
                # The endpoint's model runs the registered image on the registered artifact.
                needs += image_pull("sagemaker", container["Image"], why + " (endpoint model image)")
                needs += s3_get(
                    "sagemaker",
                    *split_s3(pipeline_value(container["ModelDataUrl"], by_name, parameters)),
                    why + " (endpoint model data)",
                )
        elif step["Type"] == "Condition":
            for condition in arguments["Conditions"]:
                source = condition["LeftValue"].get("Std:JsonGet", {}).get("PropertyFile", {}).get("Get", "")
                match = re.fullmatch(r"Steps\.(\w+)\.PropertyFiles\.(\w+)", source)
                if match:  # SageMaker Pipelines reads the property file as the pipeline role
                    producer = by_name[match.group(1)]
                    files = {f["PropertyFileName"]: f for f in producer.get("PropertyFiles", [])}
                    spec = files[match.group(2)]
                    output = next(
                        o
                        for o in producer["Arguments"]["ProcessingOutputConfig"]["Outputs"]
                        if o["OutputName"] == spec["OutputName"]
                    )
                    bucket, key = split_s3(pipeline_value(output["S3Output"]["S3Uri"], by_name, parameters))
                    needs += s3_get("sagemaker", bucket, f"{key}/{spec['FilePath']}", f"{why} (property file)")
    for stage in ("staging", "prod"):
        outputs = endpoint_outputs(t, stage)
        why = f"endpoint template ({stage}): asynchronous inference"
        bucket, prefix = split_s3(outputs["AsyncInputPath"])
        needs += s3_get("sagemaker", bucket, f"{prefix}/{BUILD_NUMBER}/input.csv", why + " reads the request")
        for path, suffix in (("AsyncOutputPath", ".out"), ("AsyncFailurePath", "-error.out")):
            bucket, prefix = split_s3(outputs[path])
            needs += s3_put("sagemaker", bucket, f"{prefix}/0a1b2c3d-inference{suffix}", f"{why} writes {path}")
        for topic in ("SuccessTopicArn", "ErrorTopicArn"):
            needs.append(Need("sagemaker", Request("sns:Publish", outputs[topic]), f"{why} notifies {topic}"))
            needs += [
                Need(
                    "sagemaker",
                    Request(f"kms:{a}", t.key_arn, context={"kms:ViaService": SNS_VIA}),
                    f"{why}: {topic} is encrypted with the project key",
                )
                for a in ("GenerateDataKey", "Decrypt")
            ]
        needs += job_runtime(
            "sagemaker", t, f"Endpoints/{outputs['EndpointName']}", "AllTraffic/i-0123456789abcdef0", why
        )[:2]
    return needs


# ---------------------------------------------------------------------------------- simulation


def bucket_policy(t: Team) -> dict[str, Any]:
    policies = of_type(project_resources(t), "AWS::S3::BucketPolicy")
    assert len(policies) == 1, "project template: expected one bucket policy"
    return next(iter(policies.values()))["PolicyDocument"]


def resource_policy(arn: str) -> dict[str, Any] | None:
    """The key policy for a team's key, the bucket policy for its bucket and objects."""
    return team_resource_policy(TEAMS, arn, bucket_policy)


def aws_owned_repository_policy(principal: str) -> dict[str, Any]:
    """Stand-in for the repository policy of an AWS-owned image repository (another account).

    A cross-account pull needs the owner's resource policy too, which AWS controls; this one
    admits exactly the pulling role, so the role's own policy is what the simulation decides.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AwsOwnedImageReadableByThePullingRole",
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                "Resource": "*",
            }
        ],
    }


def make_case(actor: Team, need: Need, label: str) -> Case:
    arn, principal = need.request.resource_arn, actor.role_arn(need.role)
    policy = resource_policy(arn)
    if arn.startswith("arn:aws:ecr:") and arn.split(":")[4] != ACCOUNT:
        policy = aws_owned_repository_policy(principal)
    return Case(actor.policies(need.role), need.request, label=label, principal=principal, resource_policy=policy)


@functools.cache
def all_needs(t: Team, tmp: Path) -> tuple[Need, ...]:
    needs = [
        *recorded_needs(t, "codebuild", model_build_calls(t), "model build (run-pipeline)"),
        *recorded_needs(t, "codebuild", deploy_build_calls(t, tmp), "deploy build (build.py)"),
        *recorded_needs(t, "codebuild", staging_test_calls(t), "staging test (test/test.py)"),
        *cli_needs(t),
        *staging_extra_needs(t),
        *service_needs(t),
        *sagemaker_needs(t),
    ]
    unique: dict[str, Need] = {}
    for need in needs:
        key = json.dumps(
            [need.role, need.request.action, need.request.resource_arn, need.request.context_variables()],
            sort_keys=True,
        )
        unique.setdefault(key, need)
    return tuple(unique.values())


def label(need: Need) -> str:
    return f"{ROLE_IDS[need.role]} ({need.why})"


def describe(case: Case, result: Mapping[str, Any]) -> str:
    return (
        f"{case.label}: {case.request.action} on {case.request.resource_arn} "
        f"context={json.dumps(case.request.context_variables(), sort_keys=True)} -> {explain(result)}"
    )


@pytest.fixture(scope="module")
def needs(tmp_path_factory) -> tuple[Need, ...]:
    return all_needs(DEFAULT, tmp_path_factory.mktemp("runtime-roles"))


# Roles whose requests are derived here, with the fewest distinct requests each must yield (the
# Events role starts two pipelines); CloudFormation's are in test_iam_least_privilege.
MINIMUM = {"codebuild": 20, "codepipeline": 20, "events": 2, "sagemaker": 20}
EXPECTED_ROLES = tuple(MINIMUM)


@pytest.mark.parametrize("role", EXPECTED_ROLES)
def test_every_request_of_the_role_is_allowed(needs, role):
    mine = [n for n in needs if n.role == role]
    assert len(mine) >= MINIMUM[role], (
        f"{ROLE_IDS[role]}: only {len(mine)} requests derived; the derivation lost its sources"
    )
    cases = [make_case(DEFAULT, need, label(need)) for need in mine]
    results = run(cases)
    wrong = [
        describe(case, result)
        for case, result in zip(cases, results, strict=True)
        if result["overallResult"] != "Allowed"
    ]
    assert not wrong, (
        f"{len(wrong)} of {len(cases)} requests {ROLE_IDS[role]} must make are not Allowed "
        f"(product template policies):\n  " + "\n  ".join(wrong)
    )


# Requests that are the same for every team by design, so no negative control exists for them.
SHARED = (
    ("*", "actions without resource-level permissions (ListModelPackages, GetAuthorizationToken, PutMetricData)"),
    ("arn:aws:ecr:", "AWS-owned SageMaker images"),
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs:", "account-wide SageMaker log groups"),
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/ProcessingJobs:", "account-wide SageMaker log groups"),
)


def substitute(value: Any, mapping: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in mapping.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, Mapping):
        return {substitute(k, mapping): substitute(v, mapping) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [substitute(v, mapping) for v in value]
    return value


def on_other_project(need: Need) -> Need | None:
    """The same request on the other team's project, or None when the request is shared by design."""
    arn = need.request.resource_arn
    if any(arn == prefix or (prefix != "*" and arn.startswith(prefix)) for prefix, _ in SHARED):
        return None
    mapping = {
        DEFAULT.bucket: OTHER.bucket,
        DEFAULT.key_arn: OTHER.key_arn,
        DEFAULT.prefix: OTHER.prefix,
        DEFAULT.project_name: OTHER.project_name,
        DEFAULT.project_id: OTHER.project_id,
    }
    mapping.update({DEFAULT.role_arn(p): OTHER.role_arn(p) for p in ROLE_IDS})
    request = Request(
        need.request.action,
        substitute(arn, mapping),
        tags=substitute(dict(need.request.tags), mapping) if need.request.tags else None,
        context=substitute(dict(need.request.context), mapping) if need.request.context else None,
    )
    # Jobs SageMaker Pipelines names itself (pipelines-...) carry the project only in their tags.
    moved = request.resource_arn != arn or request.context != need.request.context or request.tags != need.request.tags
    assert moved, f"{label(need)}: {arn} names nothing of the project; add it to SHARED"
    return Need(need.role, request, need.why)


@pytest.mark.parametrize("role", EXPECTED_ROLES)
def test_the_same_requests_on_another_teams_project_are_not_allowed(needs, role):
    controls = [c for c in (on_other_project(n) for n in needs if n.role == role) if c is not None]
    assert len(controls) >= 1, f"{ROLE_IDS[role]}: no negative control derived"
    cases = [make_case(DEFAULT, need, f"{label(need)} on {OTHER.label}'s project") for need in controls]
    results = run(cases)
    leaks = [
        describe(case, result)
        for case, result in zip(cases, results, strict=True)
        if result["overallResult"] not in NOT_ALLOWED
    ]
    assert not leaks, f"{ROLE_IDS[role]} is allowed on another team's project:\n  " + "\n  ".join(leaks)


def test_the_recorded_runs_made_the_calls_the_code_is_known_for(needs):
    """The recording is live: each run produced the calls its code path must make."""
    recorded = {(n.request.action, n.why.split(":")[0]) for n in needs}
    for action, source in [
        ("sagemaker:CreatePipeline", "model build (run-pipeline)"),
        ("sagemaker:UpdatePipeline", "model build (run-pipeline)"),
        ("sagemaker:StartPipelineExecution", "model build (run-pipeline)"),
        ("sagemaker:ListPipelineExecutionSteps", "model build (run-pipeline)"),
        ("sagemaker:ListModelPackages", "deploy build (build.py)"),
        ("sagemaker:InvokeEndpointAsync", "staging test (test/test.py)"),
    ]:
        assert (action, source) in recorded, f"{source} did not make {action}: the recording or the seed code changed"


def test_the_deploy_gate_s_requests_are_derived(needs):
    """The gate's own action reads BuildArtifact and asks the registry, as its project's role.

    Taken before deduplication (build.py makes the same ListModelPackages): every one of them is
    in ``needs``, which the simulation allows.
    """
    derived = [*cli_needs(DEFAULT), *service_needs(DEFAULT)]
    gate = [n for n in derived if "VerifyDeploymentGate" in n.why or n.why.startswith("deploy gate buildspec")]
    kept = {repr((n.role, n.request)) for n in needs}
    assert all(repr((n.role, n.request)) in kept for n in gate), "a request of the gate is not simulated"
    builds = {n.request.action for n in gate if n.role == "codebuild"}
    assert builds == {"s3:GetObject", "kms:Decrypt", "sagemaker:ListModelPackages"}, gate
    reads = [n for n in gate if n.request.action == "s3:GetObject"]
    assert len(reads) == 1 and "/BuildArtif/" in reads[0].request.resource_arn, reads
    started = {n.request.action for n in gate if n.role == "codepipeline"}
    assert started == {"codebuild:StartBuild", "codebuild:BatchGetBuilds"}, gate


def test_limits_are_written_down():
    assert all(len(item) > 40 for item in NOT_PROVEN_HERE)

"""The steps that watch the project work: pipelines, jobs, deployments, an invocation, the guardrail.

Names come from `generator.naming` and the source provider (`sources.project_names`), filled in
with the project's name and id and the account, exactly as the project template renders them.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from generator import aws, naming, sources, tagging
from generator.project_template import DEPLOY_STAGES
from generator.sources.base import SOURCE_BRANCH
from generator.verify.engine import Run, Skipped, StepFailed
from generator.verify.resources import Target

_PIPELINE_FAILED = ("Failed", "Stopped", "Stopping", "Superseded", "Cancelled")
# The deploy pipeline's stages behind the gate: skipped while no model version is approved.
GATED_STAGES = DEPLOY_STAGES[DEPLOY_STAGES.index("Build") + 1 :]
# One abalone row (the seed code's holdout features): what the endpoint's model expects.
ABALONE_ROW = "-0.939443,-1.026863,-0.991652,-0.942514,-0.830678,-1.051817,-0.919382,1.000000,0.000000,0.000000\n"


def fill(target: Target, run: Run, pattern: str) -> str:
    """A name pattern of the templates with this run's project, account, region and partition."""
    values = {
        "SageMakerProjectName": run.values["project_name"],
        "SageMakerProjectId": run.values["project_id"],
        "AWS::AccountId": target.account,
        "AWS::Region": target.region,
        "AWS::Partition": run.values["publish"].partition,
    }
    return naming.resolve(pattern, values)


def name(target: Target, run: Run, what: str) -> str:
    return fill(target, run, sources.project_names(target.config)[what].pattern)


def key_id(key: str) -> str:
    """`arn:...:key/<id>` or `<id>` -> `<id>`: jobs may report the key either way."""
    return key.rsplit("key/", 1)[-1]


def project_stack(target: Target, run: Run) -> str:
    def completed():
        project = target.clients.sagemaker.describe_project(ProjectName=run.values["project_name"])
        status = project["ProjectStatus"]
        if status == "CreateCompleted":
            return project
        if status.endswith("Failed"):
            detail = project.get("ServiceCatalogProvisionedProductDetails", {})
            raise StepFailed(f"project {status}: {detail.get('ProvisionedProductStatusMessage', 'no message')}")
        return None

    project = run.wait(f"project {run.values['project_name']}", completed)
    return f"{project['ProjectArn']} {project['ProjectStatus']}"


def repositories_seeded(target: Target, run: Run) -> str:
    if "build_repository" not in sources.project_names(target.config):
        raise Skipped("source_provider codeconnections: the team's own repositories, which the platform team seeds")
    seen = []
    for what in ("build_repository", "deploy_repository"):
        repository = name(target, run, what)
        branch = target.clients.codecommit.get_branch(repositoryName=repository, branchName=SOURCE_BRANCH)
        seen.append(f"{repository}@{branch['branch']['commitId'][:8]}")
    return ", ".join(seen)


def _latest_execution(target: Target, pipeline: str, exclude: set[str]) -> dict | None:
    summaries = target.clients.codepipeline.list_pipeline_executions(pipelineName=pipeline)[
        "pipelineExecutionSummaries"
    ]
    return next((s for s in summaries if s["pipelineExecutionId"] not in exclude), None)


def _pipeline_run(target: Target, run: Run, pipeline: str, exclude: set[str] = frozenset()) -> str:
    """Waits for the newest run of `pipeline` not in `exclude` to finish; its id when it succeeded."""

    def finished():
        summary = _latest_execution(target, pipeline, exclude)
        if summary is None or summary["status"] == "InProgress":
            return None
        if summary["status"] != "Succeeded":
            raise StepFailed(f"pipeline {pipeline} run {summary['pipelineExecutionId']} {summary['status']}")
        return summary["pipelineExecutionId"]

    return run.wait(f"a run of pipeline {pipeline}", finished)


def build_run(target: Target, run: Run) -> str:
    pipeline = name(target, run, "build_pipeline")
    return f"{pipeline} run {_pipeline_run(target, run, pipeline)} Succeeded"


def sagemaker_pipeline(target: Target, run: Run) -> str:
    sagemaker = target.clients.sagemaker
    pipeline = name(target, run, "sagemaker_pipeline")

    def finished():
        summaries = sagemaker.list_pipeline_executions(
            PipelineName=pipeline, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
        )["PipelineExecutionSummaries"]
        if not summaries or summaries[0]["PipelineExecutionStatus"] in ("Executing", "Stopping"):
            return None
        if summaries[0]["PipelineExecutionStatus"] != "Succeeded":
            reason = summaries[0].get("PipelineExecutionFailureReason", "no reason given")
            raise StepFailed(f"SageMaker pipeline execution {summaries[0]['PipelineExecutionStatus']}: {reason}")
        return summaries[0]["PipelineExecutionArn"]

    execution = run.wait(f"an execution of SageMaker pipeline {pipeline}", finished)
    packages = sagemaker.list_model_packages(
        ModelPackageGroupName=name(target, run, "model_package_group"), SortBy="CreationTime", SortOrder="Descending"
    )["ModelPackageSummaryList"]
    if not packages:
        raise StepFailed(f"execution {execution} registered no model version")
    run.values["execution"], run.values["model_package"] = execution, packages[0]["ModelPackageArn"]
    return f"{execution}; {packages[0]['ModelPackageArn']} {packages[0]['ModelApprovalStatus']}"


def _check_tags(target: Target, run: Run, arn: str) -> list[str]:
    tags = {t["Key"]: t["Value"] for t in target.clients.sagemaker.list_tags(ResourceArn=arn)["Tags"]}
    expected = {**run.values["tags"], tagging.PROJECT_ID_TAG: run.values["project_id"]}
    return [f"{arn}: tag {k}={tags.get(k)!r}, expected {v!r}" for k, v in expected.items() if tags.get(k) != v]


def _check_keys(run: Run, arn: str, keys: dict[str, str | None]) -> list[str]:
    expected = key_id(run.values["product"]["KmsKeyArn"])
    return [
        f"{arn}: {what} is {key!r}, not the product's key"
        for what, key in keys.items()
        if key_id(key or "") != expected
    ]


def jobs_tagged_encrypted(target: Target, run: Run) -> str:
    sagemaker = target.clients.sagemaker
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=run.values["execution"])[
        "PipelineExecutionSteps"
    ]
    problems, checked = [], []
    for step in steps:
        metadata = step.get("Metadata", {})
        if "ProcessingJob" in metadata:
            arn = metadata["ProcessingJob"]["Arn"]
            job = sagemaker.describe_processing_job(ProcessingJobName=arn.rsplit("/", 1)[-1])
            keys = {
                "output key": job.get("ProcessingOutputConfig", {}).get("KmsKeyId"),
                "volume key": job["ProcessingResources"]["ClusterConfig"].get("VolumeKmsKeyId"),
            }
        elif "TrainingJob" in metadata:
            arn = metadata["TrainingJob"]["Arn"]
            job = sagemaker.describe_training_job(TrainingJobName=arn.rsplit("/", 1)[-1])
            run.values["training_image"] = job["AlgorithmSpecification"]["TrainingImage"]
            keys = {
                "output key": job["OutputDataConfig"].get("KmsKeyId"),
                "volume key": job["ResourceConfig"].get("VolumeKmsKeyId"),
            }
        else:
            continue
        checked.append(arn)
        problems += _check_tags(target, run, arn) + _check_keys(run, arn, keys)
    if not checked:
        raise StepFailed(f"execution {run.values['execution']} ran no processing or training job")
    if problems:
        raise StepFailed(f"{len(problems)} problem(s), first: {problems[0]}")
    return f"{len(checked)} job(s) tagged and under the product's key: {', '.join(checked)}"


def first_deploy_run(target: Target, run: Run) -> str:
    pipeline = name(target, run, "deploy_pipeline")
    execution = _pipeline_run(target, run, pipeline)
    run.values["deploy_runs"] = {execution}
    states = target.clients.codepipeline.get_pipeline_state(name=pipeline)["stageStates"]
    found = {s["stageName"]: s.get("latestExecution", {}) for s in states}
    wrong = [
        f"{stage} {found.get(stage, {}).get('status', 'absent')}"
        for stage in GATED_STAGES
        if found.get(stage, {}).get("status") != "Skipped" or found[stage].get("pipelineExecutionId") != execution
    ]
    if wrong:
        raise StepFailed(f"run {execution} Succeeded but not every stage after Build was Skipped: {', '.join(wrong)}")
    return f"{pipeline} run {execution} Succeeded; {', '.join(GATED_STAGES)} Skipped"


def approve_model(target: Target, run: Run) -> str:
    arn = run.values["model_package"]
    target.clients.sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription=f"verify run {run.run_id}"
    )
    return f"{arn} Approved"


def _stage_of(target: Target, run: Run, pipeline: str, execution: str, stage: str) -> str:
    def finished():
        states = target.clients.codepipeline.get_pipeline_state(name=pipeline)["stageStates"]
        latest = next((s.get("latestExecution", {}) for s in states if s["stageName"] == stage), {})
        if latest.get("pipelineExecutionId") != execution or latest.get("status") == "InProgress":
            return None
        if latest["status"] != "Succeeded":
            raise StepFailed(f"stage {stage} of run {execution} {latest['status']}")
        return latest["status"]

    return run.wait(f"stage {stage} of run {execution}", finished)


def _endpoint_in_service(target: Target, run: Run) -> str:
    cloudformation, sagemaker = target.clients.cloudformation, target.clients.sagemaker
    stack = cloudformation.describe_stacks(StackName=name(target, run, "staging_stack"))["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    run.values["staging_outputs"] = outputs

    def in_service():
        endpoint = sagemaker.describe_endpoint(EndpointName=outputs["EndpointName"])
        if endpoint["EndpointStatus"] == "Failed":
            raise StepFailed(f"endpoint {outputs['EndpointName']} Failed: {endpoint.get('FailureReason', '')}")
        return endpoint if endpoint["EndpointStatus"] == "InService" else None

    endpoint = run.wait(f"endpoint {outputs['EndpointName']} InService", in_service)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    keys = {"endpoint config key": config.get("KmsKeyId")}
    if "AsyncInferenceConfig" in config:
        keys["async output key"] = config["AsyncInferenceConfig"]["OutputConfig"].get("KmsKeyId")
    problems = _check_tags(target, run, endpoint["EndpointArn"]) + _check_keys(run, endpoint["EndpointArn"], keys)
    if problems:
        raise StepFailed(f"{len(problems)} problem(s), first: {problems[0]}")
    return f"stack {stack['StackStatus']}; {endpoint['EndpointArn']} InService, tagged, under the product's key"


def staging_deploy(target: Target, run: Run) -> str:
    pipeline = name(target, run, "deploy_pipeline")

    def started():
        summary = _latest_execution(target, pipeline, run.values["deploy_runs"])
        return None if summary is None else summary["pipelineExecutionId"]

    execution = run.wait(f"the deploy run the approval starts ({pipeline})", started)
    run.values["deploy_runs"].add(execution)
    run.values["deploy_run"] = execution
    _stage_of(target, run, pipeline, execution, "DeployStaging")
    return f"run {execution} DeployStaging Succeeded; {_endpoint_in_service(target, run)}"


def staging_test(target: Target, run: Run) -> str:
    execution = run.values["deploy_run"]
    _stage_of(target, run, name(target, run, "deploy_pipeline"), execution, "TestStaging")
    return f"run {execution} TestStaging Succeeded"


def _read_if_there(s3, uri: str) -> dict | None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if aws.error_code(error) in ("NoSuchKey", "404"):
            return None
        raise


def async_invocation(target: Target, run: Run) -> str:
    if target.config.endpoint_kind.value != "async":
        raise Skipped(f"endpoint_kind {target.config.endpoint_kind.value}: no asynchronous output to read back")
    s3, outputs, key = target.clients.s3, run.values["staging_outputs"], run.values["product"]["KmsKeyArn"]
    input_uri = outputs["AsyncInputPath"].rstrip("/") + f"/verify-{run.run_id}/input.csv"
    bucket, _, object_key = input_uri.removeprefix("s3://").partition("/")
    s3.put_object(
        Bucket=bucket, Key=object_key, Body=ABALONE_ROW.encode(), ServerSideEncryption="aws:kms", SSEKMSKeyId=key
    )
    answer = target.clients.runtime.invoke_endpoint_async(
        EndpointName=outputs["EndpointName"], InputLocation=input_uri, ContentType="text/csv"
    )

    def answered():
        if answer.get("FailureLocation") and _read_if_there(s3, answer["FailureLocation"]) is not None:
            raise StepFailed(f"the endpoint wrote a failure object {answer['FailureLocation']}")
        return _read_if_there(s3, answer["OutputLocation"])

    found = run.wait(f"the answer at {answer['OutputLocation']}", answered)
    body = found["Body"].read().decode("utf-8", "replace").strip()
    if found.get("ServerSideEncryption") != "aws:kms" or key_id(found.get("SSEKMSKeyId", "")) != key_id(key):
        raise StepFailed(
            f"answer {answer['OutputLocation']} is {found.get('ServerSideEncryption')} "
            f"under {found.get('SSEKMSKeyId')!r}, not SSE-KMS under the product's key"
        )
    return f"{answer['OutputLocation']} ({body[:40]!r}) SSE-KMS under {key}"


def second_deployment(target: Target, run: Run) -> str:
    pipeline = name(target, run, "deploy_pipeline")
    execution = target.clients.codepipeline.start_pipeline_execution(
        name=pipeline, clientRequestToken=f"verify-{run.run_id}-second"
    )["pipelineExecutionId"]
    _stage_of(target, run, pipeline, execution, "DeployStaging")
    return f"run {execution} DeployStaging Succeeded; {_endpoint_in_service(target, run)}"


def guardrail_refusal(target: Target, run: Run) -> str:
    # Each project creates its own SageMaker role (under the team's path).
    role = fill(target, run, naming.role_arn_pattern(target.config, "sagemaker"))
    try:
        credentials = target.clients.sts.assume_role(RoleArn=role, RoleSessionName=f"verify-{run.run_id}")[
            "Credentials"
        ]
    except ClientError as error:
        raise Skipped(
            f"the caller may not assume {role} ({aws.error_code(error)}); its trust policy admits SageMaker"
        ) from error
    sagemaker = target.clients.session.client(
        "sagemaker",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    key = run.values["product"]["KmsKeyArn"]
    job = f"verify-{run.run_id}-untagged"
    try:
        sagemaker.create_training_job(
            TrainingJobName=job,
            AlgorithmSpecification={"TrainingImage": run.values["training_image"], "TrainingInputMode": "File"},
            RoleArn=role,
            OutputDataConfig={"S3OutputPath": f"s3://{name(target, run, 'artifact_bucket')}/verify", "KmsKeyId": key},
            ResourceConfig={
                "InstanceType": target.config.instance_types.training,
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
                "VolumeKmsKeyId": key,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
    except ClientError as error:
        message = aws.describe(error)
        if aws.error_code(error) in ("AccessDeniedException", "AccessDenied") and "explicit deny" in message:
            return f"untagged CreateTrainingJob as {role}: {message}"
        raise StepFailed(f"untagged CreateTrainingJob refused, but not by the guardrail: {message}") from error

    def stop(_: Run) -> str:
        sagemaker.stop_training_job(TrainingJobName=job)
        return "stopped"

    run.create(f"training job {job}", stop)
    raise StepFailed(f"an untagged CreateTrainingJob as {role} was accepted: the guardrail did not refuse it")

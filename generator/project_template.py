"""The SageMaker project template (``MLOps-template-example.yml``): what Studio provisions.

One stack per SageMaker project: the KMS-encrypted artifact bucket, the project's model package
group, the source of its code, four CodeBuild projects, the model-build and model-deploy
pipelines, and the EventBridge rules that start them. Where the code comes from (seeded
CodeCommit repositories, or the team's own repositories through CodeConnections) is the
configuration's source provider, one module of ``generator/sources`` each.

``build`` is a list of steps over one ``ProjectContext``: each step adds one part of the stack
and records on the context what later steps refer to.

Roles are not parameters: the stack creates its own (``project_roles``), under the permissions
boundary and with the tag guardrail the product stack owns, so nobody copies an ARN into the
Studio form and no project's role can reach another project's resources.
"""

from __future__ import annotations

from troposphere import Ref, Sub, Template, codebuild, codepipeline, s3
from troposphere.events import Rule, Target
from troposphere.logs import LogGroup
from troposphere.sagemaker import ModelPackageGroup

from generator import encryption, endpoint_template, naming, parameters, tagging
from generator.buildspecs import (
    BUILD_ARTIFACT,
    BUILD_BUILDSPEC,
    DEPLOY_BUILD_NAMESPACE,
    DEPLOY_CONFIG_BUILDSPEC,
    DEPLOY_GATE_BUILDSPEC,
    ENDPOINT_TEMPLATE,
    MODEL_APPROVED_VARIABLE,
    SOURCE_ARTIFACT,
    STAGE_CONFIG,
    STAGING_OUTPUTS_ARTIFACT,
    STAGING_OUTPUTS_FILE,
    TEST_BUILDSPEC,
)
from generator.config import PROJECT_NAME_MAX, Config
from generator.parameters import ParameterSpec
from generator.project_context import ProjectContext
from generator.project_roles import add_roles
from generator.sources import SOURCE_ACTION, StartRule, project_names, source_for

# Amazon Linux 2023 standard 5.0: Python 3.11+ (the 3.0 image of the original ran Python 3.8).
CODEBUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"

# Deploy pipeline stages, in order (the invariant tests read this).
DEPLOY_STAGES = ("Source", "Build", "DeployStaging", "TestStaging", "ApproveDeployment", "DeployProd")
BUILD_STAGES = ("Source", "Build")

GROUP_PROJECT = "SageMaker project"
GROUP_TAGS = "Required tags"

BUILD_LOG_RETENTION_DAYS = 365
# The deploy gate runs no repository code: only buildspecs.DEPLOY_GATE_BUILDSPEC, on the deploy
# build's output artifact, in a container of its own.
BUILD_DESCRIPTIONS = {
    "build": "Runs the SageMaker model building pipeline",
    "deploy": "Writes the staging and prod endpoint configurations of the latest approved model",
    "gate": "Deploy gate: checks that the stage configurations name the newest approved model",
    "test": "Invokes the staging endpoint and checks its answers",
}
# Parts of an upload that never completed are invisible and billed: a week is longer than any
# upload the pipelines make.
ABORT_INCOMPLETE_UPLOAD_DAYS = 7
# A CodeBuild project's environment variables (name, value); artifact names of a pipeline action.
Env = list[tuple[str, object]]
Names = tuple[str, ...]
ACCESS_LOG_SKIP_REASON = (
    "No server access log bucket per project: it would itself be unlogged (checkov flags it the "
    "same way); object-level access is recorded by CloudTrail S3 data events, which the account "
    "or organisation configures"
)


def build(config: Config) -> Template:
    template = Template(
        Description=(
            f"SageMaker project (-{config.project_suffix}): KMS-encrypted artifact bucket, model "
            f"package group, {source_for(config).description}, model build and deploy pipelines"
        )
    )
    ctx = ProjectContext(config, template, project_names(config), encryption.project_key_arn(config))
    first = (add_parameters, add_roles, add_storage, add_registry, add_repositories)
    for step in (*first, add_builds, add_pipelines, add_triggers):
        step(ctx)
    return template


# ---- parameters -----------------------------------------------------------------------------


def add_parameters(ctx: ProjectContext) -> None:
    """The Studio form: the project (SageMaker fills it in), the source's, the required tags."""
    config = ctx.config
    ctx.params = parameters.add_parameters(
        ctx.template,
        [
            ParameterSpec(
                tagging.PROJECT_NAME_PARAM,
                "Name of the SageMaker project (SageMaker supplies it)",
                GROUP_PROJECT,
                "Project name",
                min_length=len(config.project_suffix) + 2,
                max_length=PROJECT_NAME_MAX,
                allowed_pattern=naming.project_name_pattern(config),
                constraint_description=(
                    f"at most {PROJECT_NAME_MAX} characters: a letter first, letters and digits joined "
                    f"by single hyphens, ending with -{config.project_suffix}"
                ),
            ),
            ParameterSpec(
                tagging.PROJECT_ID_PARAM,
                "Id of the SageMaker project (SageMaker supplies it)",
                GROUP_PROJECT,
                "Project id",
                min_length=naming.PROJECT_ID_LEN,
                max_length=naming.PROJECT_ID_LEN,
                allowed_pattern=naming.PROJECT_ID_PATTERN,
                constraint_description="p- followed by 12 lowercase letters and digits",
            ),
        ],
    )
    ctx.source = source_for(config).declare(ctx.template, config)
    ctx.tag_values = tagging.add_required_tag_parameters(ctx.template, config, GROUP_TAGS)


# ---- storage and registry -------------------------------------------------------------------


def add_storage(ctx: ProjectContext) -> None:
    """The artifact bucket (pipelines, builds, SageMaker jobs, endpoints) and its policy."""
    ctx.bucket = ctx.template.add_resource(
        s3.Bucket(
            "ArtifactBucket",
            Metadata={"checkov": {"skip": [{"id": "CKV_AWS_18", "comment": ACCESS_LOG_SKIP_REASON}]}},
            BucketName=ctx.names["artifact_bucket"].sub(),
            BucketEncryption=encryption.bucket_encryption(ctx.key_arn),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="ExpireOldVersionsAndAbortIncompleteUploads",
                        Status="Enabled",
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                            NoncurrentDays=ctx.config.noncurrent_version_expiration_days
                        ),
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=ABORT_INCOMPLETE_UPLOAD_DAYS
                        ),
                    )
                ]
            ),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            Tags=ctx.tags(),
            # Models, data and pipeline history outlive the project stack.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    ctx.template.add_resource(
        s3.BucketPolicy(
            "ArtifactBucketPolicy",
            Bucket=Ref(ctx.bucket),
            PolicyDocument=encryption.bucket_policy_document(ctx.bucket.title, ctx.key_arn, tagging.team(ctx.config)),
        )
    )


def add_registry(ctx: ProjectContext) -> None:
    """The project's model package group, where the model build registers versions."""
    ctx.group = ctx.template.add_resource(
        ModelPackageGroup(
            "ModelPackageGroup",
            ModelPackageGroupName=ctx.names["model_package_group"].sub(),
            ModelPackageGroupDescription=Sub("Models registered by SageMaker project ${SageMakerProjectName}"),
            Tags=ctx.tags(),
            # A group holding model versions cannot be deleted, and registered models are the
            # project's record: keep them when the project goes.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )


def add_repositories(ctx: ProjectContext) -> None:
    """What the source provider creates (seeded CodeCommit repositories, or nothing)."""
    ctx.repositories = ctx.source.add_repositories(ctx)


# ---- builds ---------------------------------------------------------------------------------


def add_builds(ctx: ProjectContext) -> None:
    """The model build, the deploy build, the deploy gate and the staging test."""
    config = ctx.config
    common_env: Env = [
        ("SAGEMAKER_PROJECT_NAME", ctx.params[tagging.PROJECT_NAME_PARAM]),
        ("SAGEMAKER_PROJECT_ID", ctx.params[tagging.PROJECT_ID_PARAM]),
        (
            "SAGEMAKER_PROJECT_ARN",
            Sub("arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:project/${SageMakerProjectName}"),
        ),
        ("ARTIFACT_BUCKET", Ref(ctx.bucket)),
        ("KMS_KEY_ARN", ctx.key_arn),
        ("REQUIRED_TAGS", tagging.required_tags_json(config)),
        ("MODEL_PACKAGE_GROUP_NAME", ctx.names["model_package_group"].sub()),
    ]
    sagemaker_role = ctx.role("sagemaker")
    build_env = common_env + [
        ("SAGEMAKER_PIPELINE_ROLE_ARN", sagemaker_role),
        ("PROCESSING_INSTANCE_TYPE", config.instance_types.processing),
        ("TRAINING_INSTANCE_TYPE", config.instance_types.training),
    ]
    deploy_env = common_env + [
        ("SAGEMAKER_EXECUTION_ROLE_ARN", sagemaker_role),
        ("ENDPOINT_KIND", config.endpoint_kind.value),
        ("ENDPOINT_INSTANCE_TYPE", config.instance_types.endpoint),
    ]
    # key -> (title, buildspec, environment, timeout in minutes); the name pattern is
    # "<key>_project". The model build waits for the SageMaker pipeline it starts (processing,
    # training, evaluation): hours, not minutes.
    projects = {
        "build": ("ModelBuildProject", BUILD_BUILDSPEC, build_env, 480),
        "deploy": ("ModelDeployBuildProject", DEPLOY_CONFIG_BUILDSPEC, deploy_env, 60),
        "gate": ("ModelDeployGateProject", DEPLOY_GATE_BUILDSPEC, common_env + [endpoint_template.digest(config)], 15),
        "test": ("ModelDeployTestProject", TEST_BUILDSPEC, common_env, 60),
    }
    ctx.projects = {key: _codebuild(ctx, key, *spec) for key, spec in projects.items()}


def _codebuild(ctx: ProjectContext, key: str, title: str, buildspec: str, env: Env, timeout: int) -> codebuild.Project:
    name, description = f"{key}_project", BUILD_DESCRIPTIONS[key]
    # Build logs can hold data (pipeline output, predictions): the log group CodeBuild would
    # create is not under the customer key, so the template creates it under the key.
    log_group = ctx.template.add_resource(
        LogGroup(
            f"{title}LogGroup",
            LogGroupName=naming.build_log_group(ctx.names[name]).sub(),
            KmsKeyId=ctx.key_arn,
            RetentionInDays=BUILD_LOG_RETENTION_DAYS,
            Tags=ctx.tags(),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    return ctx.template.add_resource(
        codebuild.Project(
            title,
            Name=ctx.names[name].sub(),
            Description=description,
            ServiceRole=ctx.role("codebuild"),
            EncryptionKey=ctx.key_arn,
            Source=codebuild.Source(Type="CODEPIPELINE", BuildSpec=buildspec),
            Artifacts=codebuild.Artifacts(Type="CODEPIPELINE"),
            Environment=codebuild.Environment(
                Type="LINUX_CONTAINER",
                ComputeType="BUILD_GENERAL1_SMALL",
                Image=CODEBUILD_IMAGE,
                EnvironmentVariables=[
                    codebuild.EnvironmentVariable(Name=key, Type="PLAINTEXT", Value=value) for key, value in env
                ],
            ),
            LogsConfig=codebuild.LogsConfig(
                CloudWatchLogs=codebuild.CloudWatchLogs(Status="ENABLED", GroupName=Ref(log_group))
            ),
            TimeoutInMinutes=timeout,
            Tags=ctx.tags(),
        )
    )


# ---- pipelines ------------------------------------------------------------------------------


def add_pipelines(ctx: ProjectContext) -> None:
    """The model-build pipeline, and the deploy pipeline: staging, its test, approval, prod.

    A pipeline starts one execution as soon as it is created (CodePipeline trigger type
    "CreatePipeline"): that run is the "on project creation, the pipeline will automatically
    execute" the README promises, with no Lambda custom resource.
    """
    build_stage = codepipeline.Stages(
        Name="Build",
        Actions=[_codebuild_action("BuildAndRunSageMakerPipeline", ctx.projects["build"], (SOURCE_ARTIFACT,))],
    )
    ctx.pipelines = {
        "build": _pipeline(ctx, "ModelBuildPipeline", "build", [build_stage]),
        # Its creation run lists the group's model packages: the group must exist by then.
        "deploy": _pipeline(ctx, "ModelDeployPipeline", "deploy", _deploy_stages(ctx), needs=(ctx.group.title,)),
    }


def _deploy_stages(ctx: ProjectContext) -> list[codepipeline.Stages]:
    # The deploy pipeline also runs once when created, before any model is approved. Its gate
    # then exports MODEL_APPROVED=false and every later stage is skipped (an entry condition
    # with result SKIP, which CodePipeline supports for VariableCheck rules) instead of failing.
    model_approved = codepipeline.RuleDeclaration(
        Name="ModelApproved",
        RuleTypeId=codepipeline.RuleTypeId(Category="Rule", Owner="AWS", Provider="VariableCheck", Version="1"),
        Configuration={
            "Variable": f"#{{{DEPLOY_BUILD_NAMESPACE}.{MODEL_APPROVED_VARIABLE}}}",
            "Value": "true",
            "Operator": "EQ",
        },
    )

    def gated(name: str, action: codepipeline.Actions) -> codepipeline.Stages:
        condition = codepipeline.Condition(Result="SKIP", Rules=[model_approved])
        return codepipeline.Stages(
            Name=name, BeforeEntry=codepipeline.BeforeEntryConditions(Conditions=[condition]), Actions=[action]
        )

    # The repository's code writes the configurations; then the gate, in a container of its own
    # and on the artifact alone (what the deploy stages read), checks them and exports MODEL_APPROVED.
    build = _codebuild_action("BuildDeploymentConfig", ctx.projects["deploy"], (SOURCE_ARTIFACT,), (BUILD_ARTIFACT,))
    gate_options = {"namespace": DEPLOY_BUILD_NAMESPACE, "run_order": 2}
    gate = _codebuild_action("VerifyDeploymentGate", ctx.projects["gate"], (BUILD_ARTIFACT,), **gate_options)
    custom_data = {"CustomData": "Approve to deploy the tested model to production"}
    approval = _action("ApproveProdDeployment", "Approval", "Manual", custom_data)
    return [
        codepipeline.Stages(Name="Build", Actions=[build, gate]),
        gated("DeployStaging", _deploy_action(ctx, "staging", (STAGING_OUTPUTS_ARTIFACT,))),
        # Test code and requirements from the build artifact (the whole deploy repository),
        # endpoint details from the staging stack's outputs.
        gated(
            "TestStaging",
            _codebuild_action("TestStagingEndpoint", ctx.projects["test"], (BUILD_ARTIFACT, STAGING_OUTPUTS_ARTIFACT)),
        ),
        gated("ApproveDeployment", approval),
        gated("DeployProd", _deploy_action(ctx, "prod")),
    ]


def _pipeline(
    ctx: ProjectContext, title: str, kind: str, stages: list[codepipeline.Stages], needs: tuple[str, ...] = ()
) -> codepipeline.Pipeline:
    # A repository the stack seeds exists before its pipeline, so the creation run finds code
    # on the branch; the repositories of a connection are pushed before the project exists.
    repository = ctx.repositories.get(kind)
    depends = [*([repository.title] if repository else []), *needs]
    triggers = ctx.source.pipeline_triggers()
    configuration = ctx.source.action_configuration(ctx, kind)
    source = _action(SOURCE_ACTION, "Source", ctx.source.action_provider, configuration, outputs=(SOURCE_ARTIFACT,))
    return ctx.template.add_resource(
        codepipeline.Pipeline(
            title,
            Name=ctx.names[f"{kind}_pipeline"].sub(),
            PipelineType="V2",
            RoleArn=ctx.role("codepipeline"),
            ArtifactStore=encryption.pipeline_artifact_store(Ref(ctx.bucket), ctx.key_arn),
            Stages=[codepipeline.Stages(Name="Source", Actions=[source]), *stages],
            Tags=ctx.tags(),
            **({"Triggers": triggers} if triggers else {}),
            **({"DependsOn": depends} if depends else {}),
        )
    )


def _codebuild_action(
    name: str, project: codebuild.Project, inputs: Names, outputs: Names = (), **options: str | int
) -> codepipeline.Actions:
    configuration = {"ProjectName": Ref(project)}
    if len(inputs) > 1:
        configuration["PrimarySource"] = inputs[0]
    return _action(name, "Build", "CodeBuild", configuration, inputs, outputs, **options)


def _deploy_action(ctx: ProjectContext, stage: str, outputs: tuple[str, ...] = ()) -> codepipeline.Actions:
    configuration = {
        "ActionMode": "CREATE_UPDATE",
        "StackName": ctx.names[f"{stage}_stack"].sub(),
        "RoleArn": ctx.role("cloudformation"),
        "TemplatePath": f"{BUILD_ARTIFACT}::{ENDPOINT_TEMPLATE}",
        "TemplateConfiguration": f"{BUILD_ARTIFACT}::{STAGE_CONFIG[stage]}",
    }
    if outputs:
        configuration["OutputFileName"] = STAGING_OUTPUTS_FILE
    name = f"Deploy{stage.capitalize()}Endpoint"
    return _action(name, "Deploy", "CloudFormation", configuration, inputs=(BUILD_ARTIFACT,), outputs=outputs)


def _action(
    name: str,
    category: str,
    provider: str,
    configuration: dict,
    inputs: Names = (),
    outputs: Names = (),
    namespace: str = "",
    run_order: int = 1,
) -> codepipeline.Actions:
    extra: dict = {"Namespace": namespace} if namespace else {}
    if inputs:
        extra["InputArtifacts"] = [codepipeline.InputArtifacts(Name=i) for i in inputs]
    if outputs:
        extra["OutputArtifacts"] = [codepipeline.OutputArtifacts(Name=o) for o in outputs]
    return codepipeline.Actions(
        Name=name,
        ActionTypeId=codepipeline.ActionTypeId(Category=category, Owner="AWS", Provider=provider, Version="1"),
        Configuration=configuration,
        RunOrder=run_order,
        **extra,
    )


# ---- triggers -------------------------------------------------------------------------------


def add_triggers(ctx: ProjectContext) -> None:
    """The source provider's push rules, and the rule that deploys an approved model."""
    # Only a change *to Approved* in this project's group deploys: registration as
    # PendingManualApproval and rejections do not start the deploy pipeline.
    approved = StartRule(
        "ModelApprovedRule",
        ctx.names["approved_rule"],
        "Starts the ModelDeployPipeline when a model package in the project's group is approved",
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {
                "ModelPackageGroupName": [ctx.names["model_package_group"].sub()],
                "ModelApprovalStatus": ["Approved"],
            },
        },
        "deploy",
        (ctx.pipelines["deploy"].title, ctx.group.title),
    )
    for rule in (*ctx.source.start_rules(ctx), approved):
        # Names and ARNs come from the same patterns as the resources' own names (not GetAtt),
        # with DependsOn so the rule only exists once what it filters on and starts exists.
        pipeline_arn = ctx.arn("codepipeline", ctx.names[f"{rule.pipeline}_pipeline"])
        ctx.template.add_resource(
            Rule(
                rule.title,
                Name=rule.name.sub(),
                Description=rule.description,
                EventPattern=rule.pattern,
                State="ENABLED",
                Targets=[Target(Id="Pipeline", Arn=pipeline_arn, RoleArn=ctx.role("events"))],
                Tags=ctx.tags(),
                DependsOn=list(rule.depends_on),
            )
        )

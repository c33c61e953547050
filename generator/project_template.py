"""The SageMaker project template (``MLOps-template-example.yml``): what Studio provisions.

One stack per SageMaker project: the KMS-encrypted artifact bucket, the project's model package
group, CodeCommit repositories seeded from this product's own zips, three CodeBuild projects,
the model-build and model-deploy pipelines, and the EventBridge rules that start them.

With ``source_provider: codeconnections`` the pipelines read the team's own GitHub, GitLab or
Bitbucket repositories through a CodeConnections connection instead: no CodeCommit repository,
the Studio form asks for the two repositories and the branch (the connection comes from the
product stack, through SSM like the key), and a pipeline trigger filtering pushes on that branch
replaces the CodeCommit push rules.

Roles are not parameters. The product stack creates one role per service with a fixed name
(``naming.role_name``) in the same account, so the project template can write their ARNs with
``${AWS::Partition}``/``${AWS::AccountId}`` and nobody copies an ARN into the Studio form;
parameters would only add a way to pass a role the guardrail was not designed for.
"""

from __future__ import annotations

import yaml
from troposphere import (
    Parameter,
    Ref,
    Sub,
    Tags,
    Template,
)
from troposphere.codebuild import (
    Artifacts,
    CloudWatchLogs,
    Environment,
    EnvironmentVariable,
    LogsConfig,
    Project,
    Source,
)
from troposphere.codecommit import S3, Code, Repository
from troposphere.codepipeline import (
    Actions,
    ActionTypeId,
    BeforeEntryConditions,
    Condition,
    GitBranchFilterCriteria,
    GitConfiguration,
    GitPushFilter,
    InputArtifacts,
    OutputArtifacts,
    Pipeline,
    PipelineTriggerDeclaration,
    RuleDeclaration,
    RuleTypeId,
    Stages,
)
from troposphere.events import Rule, Target
from troposphere.logs import LogGroup
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
    Bucket,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    NoncurrentVersionExpiration,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    VersioningConfiguration,
)
from troposphere.sagemaker import ModelPackageGroup

from generator import encryption, naming, tagging
from generator.config import PROJECT_NAME_MAX, Config

# Amazon Linux 2023 standard 5.0: Python 3.11+ (the 3.0 image of the original ran Python 3.8).
CODEBUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
SOURCE_BRANCH = "main"

# Buildspecs and artifact files the seed code provides (seed_code/model_build, model_deploy).
BUILD_BUILDSPEC = "codebuild-buildspec.yml"
# The deploy repository's own buildspec: for local runs and as documentation only. The pipeline
# runs DEPLOY_CONFIG_BUILDSPEC below, so the repository cannot decide what gets deployed.
SEED_DEPLOY_BUILDSPEC = "buildspec.yml"
SOURCE_ARTIFACT = "SourceArtifact"
SOURCE_ACTION = "ModelSource"
BUILD_ARTIFACT = "BuildArtifact"
# The staging deploy action writes the stack's outputs (endpoint name, async locations) here.
STAGING_OUTPUTS_ARTIFACT = "StagingOutputs"
STAGING_OUTPUTS_FILE = "staging-stack-outputs.json"
TEST_SCRIPT = "test/test.py"
# Inline so the test stage's wiring (which artifact holds what) lives next to the pipeline that
# creates it; the build artifact carries the deploy repository's files (test/, requirements.txt).
TEST_BUILDSPEC = yaml.safe_dump(
    {
        "version": 0.2,
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.12"},
                "commands": [
                    "python -m pip install --quiet --disable-pip-version-check -r requirements.txt"
                ],
            },
            "build": {
                "commands": [
                    f"python {TEST_SCRIPT} --stack-outputs "
                    f'"$CODEBUILD_SRC_DIR_{STAGING_OUTPUTS_ARTIFACT}/{STAGING_OUTPUTS_FILE}"'
                ]
            },
        },
    },
    sort_keys=True,
)
PACKAGED_TEMPLATE = "template-export.yml"
ENDPOINT_TEMPLATE = "endpoint-config-template.yml"
DEPLOY_CONFIG_SCRIPT = "build.py"
# The deploy build exports MODEL_APPROVED ("true"/"false") into this action namespace.
DEPLOY_BUILD_NAMESPACE = "DeployBuild"
MODEL_APPROVED_VARIABLE = "MODEL_APPROVED"
# The newest Approved model package of the project's group, or "none" (exported too).
MODEL_PACKAGE_ARN_VARIABLE = "MODEL_PACKAGE_ARN"
STAGE_CONFIG = {"staging": "staging-config-export.json", "prod": "prod-config-export.json"}

# ---- the deploy gate -------------------------------------------------------------------------
# Separation of duties: a data scientist controls the deploy repository, so nothing in it may
# decide whether (MODEL_APPROVED, read by the stage conditions) or what (the ModelPackageArn of
# the stage configurations) is deployed. The deploy build therefore runs this buildspec, not the
# repository's: the repository's build.py still writes the stage configurations (teams keep
# customising them), and commands written here ask the model registry for the newest Approved
# version of the project's group and accept the configurations only if each names exactly that
# version. Each gate command is a subshell with `set -euo pipefail` (CodeBuild runs all commands
# in one bash, so the options stay inside); a non-zero exit fails the build.
#
# The registry is asked first, before any repository code runs (installing the repository's
# requirements can run code). `--output json`: the CLI's text output applies --query to every
# page it fetched, and SageMaker can answer a filtered list with empty pages and a NextToken;
# JSON output queries the joined result, a quoted ARN or null.
DEPLOY_GATE_LOOKUP = f"""\
{MODEL_PACKAGE_ARN_VARIABLE}="$(
  set -euo pipefail
  newest="$(aws sagemaker list-model-packages \\
    --model-package-group-name "$MODEL_PACKAGE_GROUP_NAME" \\
    --model-approval-status Approved \\
    --sort-by CreationTime --sort-order Descending \\
    --max-items 1 \\
    --query 'ModelPackageSummaryList[0].ModelPackageArn' --output json | tr -d '"')"
  case "$newest" in
    null) echo none ;;
    *:sagemaker:*:model-package/"$MODEL_PACKAGE_GROUP_NAME"/[0-9]*) echo "$newest" ;;
    *) echo "deploy gate: unexpected answer from sagemaker list-model-packages: $newest" >&2; exit 1 ;;
  esac
)" && export {MODEL_PACKAGE_ARN_VARIABLE}"""

# Prints Parameters.ModelPackageArn of the stage configuration given as its argument. Standard
# library only: -I -S ignores PYTHON* variables, the user site and site-packages, where the
# repository's requirements were installed. A key given twice is refused: a reader keeping the
# first value and one keeping the last must not see different models.
CONFIG_ARN_READER = """\
import json, sys
def unique(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        sys.exit("a key is given twice")
    return dict(pairs)
try:
    with open(sys.argv[1], encoding="utf-8") as config:
        arn = json.load(config, object_pairs_hook=unique)["Parameters"]["ModelPackageArn"]
except (OSError, ValueError, LookupError, TypeError) as error:
    sys.exit(f"{error.__class__.__name__}: {error}")
print(arn if isinstance(arn, str) else "")"""

DEPLOY_GATE_CHECK = f"""\
{MODEL_APPROVED_VARIABLE}="$(
  set -euo pipefail
  group="$MODEL_PACKAGE_GROUP_NAME" approved="${MODEL_PACKAGE_ARN_VARIABLE}"
  if [ "$approved" = none ]; then
    echo "deploy gate: no Approved model package in group $group: {MODEL_APPROVED_VARIABLE}=false," \\
      "the deploy stages are skipped" >&2
    echo false
    exit 0
  fi
  for config in {" ".join(STAGE_CONFIG.values())}; do
    if ! named="$(python -I -S -c '{CONFIG_ARN_READER}' "$config")"; then
      echo "deploy gate: $config names no single ModelPackageArn in its Parameters: refusing to deploy" >&2
      exit 1
    fi
    if [ "$named" != "$approved" ]; then
      echo "deploy gate: $config deploys model package '$named', but the newest Approved model" \\
        "package of group $group is $approved: refusing to deploy" >&2
      exit 1
    fi
  done
  echo "deploy gate: every stage configuration deploys $approved: {MODEL_APPROVED_VARIABLE}=true" >&2
  echo true
)" && export {MODEL_APPROVED_VARIABLE}"""

DEPLOY_CONFIG_BUILDSPEC = yaml.safe_dump(
    {
        "version": 0.2,
        "env": {
            "shell": "bash",
            # Read by the stage conditions (VariableCheck on #{DeployBuild.MODEL_APPROVED}).
            "exported-variables": [MODEL_APPROVED_VARIABLE, MODEL_PACKAGE_ARN_VARIABLE],
        },
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.12"},
                "commands": [
                    DEPLOY_GATE_LOOKUP,
                    "python -m pip install --quiet --disable-pip-version-check -r requirements.txt",
                ],
            },
            "build": {
                "commands": [
                    # The repository's code: writes the stage configurations (nothing while no
                    # model is approved, exit 0 with --allow-no-model).
                    f"python {DEPLOY_CONFIG_SCRIPT} --allow-no-model",
                    DEPLOY_GATE_CHECK,
                    # --kms-key-id: the packaged artifacts are encrypted with the customer key,
                    # not the bucket's default or an AWS managed key.
                    f"aws cloudformation package --template-file {ENDPOINT_TEMPLATE}"
                    ' --s3-bucket "$ARTIFACT_BUCKET" --s3-prefix "deploy-build/$CODEBUILD_BUILD_NUMBER"'
                    f' --kms-key-id "$KMS_KEY_ARN" --output-template-file {PACKAGED_TEMPLATE}',
                ],
            },
        },
        # Everything: the staging test reads test/ and requirements.txt, and while no model is
        # approved the configuration exports do not exist (listing them would fail the upload).
        "artifacts": {"files": ["**/*"]},
    },
    sort_keys=True,
)

# Deploy pipeline stages, in order (the invariant tests read this).
DEPLOY_STAGES = ("Source", "Build", "DeployStaging", "TestStaging", "ApproveDeployment", "DeployProd")
BUILD_STAGES = ("Source", "Build")

GROUP_PROJECT = "SageMaker project"
GROUP_TAGS = "Required tags"
GROUP_GIT = "Git repositories (AWS CodeConnections)"

BUILD_LOG_RETENTION_DAYS = 365
# Parts of an upload that never completed are invisible and billed: a week is longer than any
# upload the pipelines make.
ABORT_INCOMPLETE_UPLOAD_DAYS = 7
ACCESS_LOG_SKIP_REASON = (
    "No server access log bucket per project: it would itself be unlogged (checkov flags it the "
    "same way); object-level access is recorded by CloudTrail S3 data events, which the account "
    "or organisation configures"
)


CONNECTION_PARAM = "CodeConnectionArn"
USE_PRODUCT_CONNECTION = "UseProductConnection"
REPOSITORY_PARAMS = {"build": "ModelBuildRepository", "deploy": "ModelDeployRepository"}
BRANCH_PARAM = "SourceBranch"
CONNECTION_PROVIDER = "CodeStarSourceConnection"
# Connections created before the 2024 rename keep codestar-connections ARNs; both work.
CONNECTION_ARN = (
    r"arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z]{2}(-[a-z]+)+-\d+:\d{12}:"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
CONNECTION_ARN_DESCRIPTION = (
    "the ARN of an AWS CodeConnections connection: arn:<partition>:codeconnections:"
    "<region>:<account>:connection/<id> (or codestar-connections)"
)
# A connection ARN, required (the product stack publishes it).
CONNECTION_ARN_PATTERN = rf"^{CONNECTION_ARN}$"
# A connection ARN or empty: empty means the product stack's connection (project stacks).
OPTIONAL_CONNECTION_ARN_PATTERN = rf"^({CONNECTION_ARN})?$"
# owner/name (GitHub, Bitbucket workspace/repository); GitLab subgroups add path segments.
# No segment starts with a dot (`.`, `..`) and a clone URL is refused (`:` is not allowed).
REPOSITORY_ID_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+$"
# Git's ref rules, narrowed: no leading `-` or `.`, no `..`, no `*`/`?`/`[` (the trigger's
# branch filter reads those as glob characters and would start on other branches).
BRANCH_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*(/[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)*$"


def _add_parameters(template: Template, config: Config) -> dict:
    name = template.add_parameter(
        Parameter(
            tagging.PROJECT_NAME_PARAM,
            Type="String",
            MinLength=len(config.project_suffix) + 2,
            MaxLength=PROJECT_NAME_MAX,
            AllowedPattern=naming.project_name_pattern(config),
            ConstraintDescription=(
                f"at most {PROJECT_NAME_MAX} characters: a letter first, letters and digits joined "
                f"by single hyphens, ending with -{config.project_suffix}"
            ),
            Description="Name of the SageMaker project (SageMaker supplies it)",
        )
    )
    project_id = template.add_parameter(
        Parameter(
            tagging.PROJECT_ID_PARAM,
            Type="String",
            MinLength=naming.PROJECT_ID_LEN,
            MaxLength=naming.PROJECT_ID_LEN,
            AllowedPattern=naming.PROJECT_ID_PATTERN,
            ConstraintDescription="p- followed by 12 lowercase letters and digits",
            Description="Id of the SageMaker project (SageMaker supplies it)",
        )
    )
    for parameter, label in ((name, "Project name"), (project_id, "Project id")):
        template.set_parameter_label(parameter, label)
        template.add_parameter_to_group(parameter, GROUP_PROJECT)

    if config.uses_codecommit:
        sources = _seed_code_location(config)
    else:
        sources = _add_git_parameters(template, config)
    tag_values = tagging.add_required_tag_parameters(template, config, GROUP_TAGS)
    return {"key_arn": encryption.project_key_arn(config), "tag_values": tag_values, **sources}


def _seed_code_location(config: Config) -> dict:
    # What the product stack published, read through SSM when the stack is created. Not a Studio
    # parameter: the launch role reads the product's own published prefix and nothing else, so
    # another bucket or prefix typed into the form could only fail late, at the repository.
    return {
        "seed_bucket": naming.seed_code_bucket_parameter(config).ssm_reference(),
        "seed_prefix": naming.seed_code_prefix_parameter(config).ssm_reference(),
    }


def _add_git_parameters(template: Template, config: Config) -> dict:
    """The connection, the team's two repositories and the branch the pipelines build."""
    # The connection is made once per account and region by the platform team (a console
    # handshake with the Git provider that CloudFormation cannot do), who gives its ARN to the
    # product stack; as with the key, empty reads that ARN from SSM at create time.
    connection = Parameter(
        CONNECTION_PARAM,
        Type="String",
        Default="",
        AllowedPattern=OPTIONAL_CONNECTION_ARN_PATTERN,
        ConstraintDescription=f"empty (the product's connection) or {CONNECTION_ARN_DESCRIPTION}",
        Description=(
            "CodeConnections connection to GitHub, GitLab or Bitbucket (status Available). Leave "
            "empty to use the connection the product stack was given."
        ),
    )
    repositories = {
        kind: Parameter(
            REPOSITORY_PARAMS[kind],
            Type="String",
            AllowedPattern=REPOSITORY_ID_PATTERN,
            ConstraintDescription="owner/name of the repository (GitLab: group/subgroup/name), not a URL",
            Description=f"Repository of the {what.replace('_', ' ')} code (first pushed from seed_code/{what})",
        )
        for kind, what in (("build", "model_build"), ("deploy", "model_deploy"))
    }
    branch = Parameter(
        BRANCH_PARAM,
        Type="String",
        Default=SOURCE_BRANCH,
        AllowedPattern=BRANCH_PATTERN,
        ConstraintDescription="a branch name: letters, digits, _ - . and /, no wildcards, no '..'",
        Description="Branch both pipelines build; a push to it starts the pipeline of that repository",
    )
    for parameter, label in (
        (connection, "CodeConnections connection ARN (optional)"),
        (repositories["build"], "Model build repository (owner/name)"),
        (repositories["deploy"], "Model deploy repository (owner/name)"),
        (branch, "Branch"),
    ):
        template.add_parameter(parameter)
        template.set_parameter_label(parameter, label)
        template.add_parameter_to_group(parameter, GROUP_GIT)
    return {
        "connection": naming.empty_means_published(
            template, connection, naming.code_connection_parameter(config), USE_PRODUCT_CONNECTION
        ),
        "repositories": {kind: Ref(parameter) for kind, parameter in repositories.items()},
        "branch": Ref(branch),
    }


def _role(config: Config, purpose: str) -> Sub:
    return Sub(naming.role_arn_pattern(config, purpose))


def _arn(service: str, resource: naming.DerivedName, kind: str = "") -> Sub:
    return Sub(
        f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{kind}{resource.pattern}"
    )


def _env(pairs: list[tuple[str, object]]) -> list[EnvironmentVariable]:
    return [EnvironmentVariable(Name=name, Type="PLAINTEXT", Value=value) for name, value in pairs]


def _action(name: str, category: str, provider: str, configuration: dict,
            inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = (), namespace: str = "") -> Actions:
    extra: dict = {"Namespace": namespace} if namespace else {}
    if inputs:
        extra["InputArtifacts"] = [InputArtifacts(Name=i) for i in inputs]
    if outputs:
        extra["OutputArtifacts"] = [OutputArtifacts(Name=o) for o in outputs]
    return Actions(
        Name=name,
        ActionTypeId=ActionTypeId(Category=category, Owner="AWS", Provider=provider, Version="1"),
        Configuration=configuration,
        RunOrder=1,
        **extra,
    )


def build(config: Config) -> Template:
    names = naming.project_template_names(config)
    sources = (
        "seeded CodeCommit repositories" if config.uses_codecommit
        else "Git repositories read through AWS CodeConnections"
    )
    template = Template(
        Description=(
            f"SageMaker project (-{config.project_suffix}): KMS-encrypted artifact bucket, model "
            f"package group, {sources}, model build and deploy pipelines"
        )
    )
    params = _add_parameters(template, config)
    key_arn = params["key_arn"]

    def tags(*extra: tuple[str, object]) -> Tags:
        return tagging.project_tags(config, params["tag_values"], *extra)

    # ---- storage ---------------------------------------------------------------------------
    bucket = template.add_resource(
        Bucket(
            "ArtifactBucket",
            Metadata={"checkov": {"skip": [{"id": "CKV_AWS_18", "comment": ACCESS_LOG_SKIP_REASON}]}},
            BucketName=names["artifact_bucket"].sub(),
            BucketEncryption=encryption.bucket_encryption(key_arn),
            VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
            LifecycleConfiguration=LifecycleConfiguration(
                Rules=[
                    LifecycleRule(
                        Id="ExpireOldVersionsAndAbortIncompleteUploads",
                        Status="Enabled",
                        NoncurrentVersionExpiration=NoncurrentVersionExpiration(
                            NoncurrentDays=config.noncurrent_version_expiration_days
                        ),
                        AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=ABORT_INCOMPLETE_UPLOAD_DAYS
                        ),
                    )
                ]
            ),
            PublicAccessBlockConfiguration=PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            OwnershipControls=OwnershipControls(
                Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            Tags=tags(),
            # Models, data and pipeline history outlive the project stack.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    template.add_resource(
        BucketPolicy(
            "ArtifactBucketPolicy",
            Bucket=Ref(bucket),
            PolicyDocument=encryption.bucket_policy_document(bucket.title, key_arn, tagging.team(config)),
        )
    )

    group = template.add_resource(
        ModelPackageGroup(
            "ModelPackageGroup",
            ModelPackageGroupName=names["model_package_group"].sub(),
            ModelPackageGroupDescription=Sub(
                "Models registered by SageMaker project ${SageMakerProjectName}"
            ),
            Tags=tags(),
            # A group holding model versions cannot be deleted, and registered models are the
            # project's record: keep them when the project goes.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )

    # ---- repositories ----------------------------------------------------------------------
    repositories = {}
    if config.uses_codecommit:  # a connection's repositories are the team's own
        for kind, title, what in (
            ("build", "ModelBuildRepository", "model_build"),
            ("deploy", "ModelDeployRepository", "model_deploy"),
        ):
            repositories[kind] = template.add_resource(
                Repository(
                    title,
                    RepositoryName=names[f"{kind}_repository"].sub(),
                    RepositoryDescription=Sub(
                        f"{what.replace('_', ' ').capitalize()} code of SageMaker project "
                        "${SageMakerProjectName}"
                    ),
                    # The product's own published zips, in this region's bucket: nothing is read
                    # from AWS-owned buckets, so it works in every supported region.
                    Code=Code(
                        BranchName=SOURCE_BRANCH,
                        S3=S3(
                            Bucket=params["seed_bucket"],
                            Key=Sub(
                                f"${{Prefix}}/{naming.SEED_CODE_KEYS[what]}",
                                Prefix=params["seed_prefix"],
                            ),
                        ),
                    ),
                    Tags=tags(),
                )
            )

    # ---- builds ----------------------------------------------------------------------------
    project_arn = Sub(
        "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:project/${SageMakerProjectName}"
    )
    common_env: list[tuple[str, object]] = [
        ("SAGEMAKER_PROJECT_NAME", Ref(tagging.PROJECT_NAME_PARAM)),
        ("SAGEMAKER_PROJECT_ID", Ref(tagging.PROJECT_ID_PARAM)),
        ("SAGEMAKER_PROJECT_ARN", project_arn),
        ("ARTIFACT_BUCKET", Ref(bucket)),
        ("KMS_KEY_ARN", key_arn),
        ("REQUIRED_TAGS", tagging.required_tags_json(config)),
        ("MODEL_PACKAGE_GROUP_NAME", names["model_package_group"].sub()),
    ]
    sagemaker_role = _role(config, "sagemaker")
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

    def codebuild(title: str, name: str, description: str, buildspec: str, env, timeout: int):
        # Build logs can hold data (pipeline output, predictions): CodeBuild's default log
        # group is unencrypted, so the template creates it under the customer key.
        log_group = template.add_resource(
            LogGroup(
                f"{title}LogGroup",
                LogGroupName=naming.build_log_group(names[name]).sub(),
                KmsKeyId=key_arn,
                RetentionInDays=BUILD_LOG_RETENTION_DAYS,
                Tags=tags(),
                DeletionPolicy="Retain",
                UpdateReplacePolicy="Retain",
            )
        )
        return template.add_resource(
            Project(
                title,
                Name=names[name].sub(),
                Description=description,
                ServiceRole=_role(config, "codebuild"),
                EncryptionKey=key_arn,
                Source=Source(Type="CODEPIPELINE", BuildSpec=buildspec),
                Artifacts=Artifacts(Type="CODEPIPELINE"),
                Environment=Environment(
                    Type="LINUX_CONTAINER",
                    ComputeType="BUILD_GENERAL1_SMALL",
                    Image=CODEBUILD_IMAGE,
                    EnvironmentVariables=_env(env),
                ),
                LogsConfig=LogsConfig(
                    CloudWatchLogs=CloudWatchLogs(Status="ENABLED", GroupName=Ref(log_group))
                ),
                TimeoutInMinutes=timeout,
                Tags=tags(),
            )
        )

    # The model build waits for the SageMaker pipeline it starts (processing, training,
    # evaluation): hours, not minutes.
    build_project = codebuild(
        "ModelBuildProject", "build_project",
        "Runs the SageMaker model building pipeline", BUILD_BUILDSPEC, build_env, 480,
    )
    deploy_project = codebuild(
        "ModelDeployBuildProject", "deploy_project",
        "Writes the staging and prod endpoint configurations of the latest approved model",
        DEPLOY_CONFIG_BUILDSPEC, deploy_env, 60,
    )
    test_project = codebuild(
        "ModelDeployTestProject", "test_project",
        "Invokes the staging endpoint and checks its answers", TEST_BUILDSPEC, common_env, 60,
    )

    # ---- pipelines -------------------------------------------------------------------------
    def source_stage(kind: str) -> Stages:
        if config.uses_codecommit:
            # EventBridge rules below start the pipelines; polling would double-start them.
            provider = "CodeCommit"
            configuration = {
                "RepositoryName": names[f"{kind}_repository"].sub(),
                "BranchName": SOURCE_BRANCH,
                "PollForSourceChanges": False,
            }
        else:
            # The pipeline's push trigger starts it; DetectChanges would start it a second time
            # on the same push (CodePipeline documents false for a filtered push trigger).
            provider = CONNECTION_PROVIDER
            configuration = {
                "ConnectionArn": params["connection"],
                "FullRepositoryId": params["repositories"][kind],
                "BranchName": params["branch"],
                "DetectChanges": False,
            }
        return Stages(
            Name="Source",
            Actions=[_action(SOURCE_ACTION, "Source", provider, configuration, outputs=(SOURCE_ARTIFACT,))],
        )

    def triggers() -> dict:
        if config.uses_codecommit:
            return {}  # CodePipeline triggers exist only for connection sources: rules below
        return {
            "Triggers": [
                PipelineTriggerDeclaration(
                    ProviderType=CONNECTION_PROVIDER,
                    GitConfiguration=GitConfiguration(
                        SourceActionName=SOURCE_ACTION,
                        Push=[GitPushFilter(Branches=GitBranchFilterCriteria(Includes=[params["branch"]]))],
                    ),
                )
            ]
        }

    def codebuild_action(name: str, project, inputs: tuple[str, ...], outputs=(), namespace="") -> Actions:
        configuration = {"ProjectName": Ref(project)}
        if len(inputs) > 1:
            configuration["PrimarySource"] = inputs[0]
        return _action(name, "Build", "CodeBuild", configuration, inputs, outputs, namespace)

    def deploy_action(stage: str, outputs: tuple[str, ...] = ()) -> Actions:
        configuration = {
            "ActionMode": "CREATE_UPDATE",
            "StackName": names[f"{stage}_stack"].sub(),
            "RoleArn": _role(config, "cloudformation"),
            "TemplatePath": f"{BUILD_ARTIFACT}::{PACKAGED_TEMPLATE}",
            "TemplateConfiguration": f"{BUILD_ARTIFACT}::{STAGE_CONFIG[stage]}",
        }
        if outputs:
            configuration["OutputFileName"] = STAGING_OUTPUTS_FILE
        return _action(
            f"Deploy{stage.capitalize()}Endpoint", "Deploy", "CloudFormation", configuration,
            inputs=(BUILD_ARTIFACT,), outputs=outputs,
        )

    artifact_store = encryption.pipeline_artifact_store(Ref(bucket), key_arn)

    def pipeline(title: str, kind: str, stages: list[Stages], needs: tuple[str, ...] = ()) -> Pipeline:
        # Seeded before the pipeline exists, so its creation run finds code on `main`. A
        # connection's repositories are pushed by the platform team before the project exists.
        depends = [*([repositories[kind].title] if repositories else []), *needs]
        seeded = {"DependsOn": depends} if depends else {}
        return template.add_resource(
            Pipeline(
                title,
                Name=names[f"{kind}_pipeline"].sub(),
                PipelineType="V2",
                RoleArn=_role(config, "codepipeline"),
                ArtifactStore=artifact_store,
                Stages=[source_stage(kind), *stages],
                Tags=tags(),
                **triggers(),
                **seeded,
            )
        )

    # A pipeline starts one execution as soon as it is created (CodePipeline trigger type
    # "CreatePipeline"): that run is the "on project creation, the pipeline will automatically
    # execute" the README promises, with no Lambda custom resource.
    build_pipeline = pipeline(
        "ModelBuildPipeline",
        "build",
        [
            Stages(
                Name="Build",
                Actions=[
                    codebuild_action("BuildAndRunSageMakerPipeline", build_project, (SOURCE_ARTIFACT,))
                ],
            )
        ],
    )
    # The deploy pipeline also runs once when created, before any model is approved. Its build
    # then exports MODEL_APPROVED=false and every later stage is skipped (an entry condition
    # with result SKIP, which CodePipeline supports for VariableCheck rules) instead of failing.
    def model_approved() -> BeforeEntryConditions:
        return BeforeEntryConditions(
            Conditions=[
                Condition(
                    Result="SKIP",
                    Rules=[
                        RuleDeclaration(
                            Name="ModelApproved",
                            RuleTypeId=RuleTypeId(
                                Category="Rule", Owner="AWS", Provider="VariableCheck", Version="1"
                            ),
                            Configuration={
                                "Variable": f"#{{{DEPLOY_BUILD_NAMESPACE}.{MODEL_APPROVED_VARIABLE}}}",
                                "Value": "true",
                                "Operator": "EQ",
                            },
                        )
                    ],
                )
            ]
        )

    deploy_pipeline = pipeline(
        "ModelDeployPipeline",
        "deploy",
        [
            Stages(
                Name="Build",
                Actions=[
                    codebuild_action(
                        "BuildDeploymentConfig", deploy_project, (SOURCE_ARTIFACT,), (BUILD_ARTIFACT,),
                        namespace=DEPLOY_BUILD_NAMESPACE,
                    )
                ],
            ),
            Stages(
                Name="DeployStaging",
                BeforeEntry=model_approved(),
                Actions=[deploy_action("staging", (STAGING_OUTPUTS_ARTIFACT,))],
            ),
            Stages(
                Name="TestStaging",
                BeforeEntry=model_approved(),
                Actions=[
                    # Test code and requirements from the build artifact (the whole deploy
                    # repository), endpoint details from the staging stack's outputs.
                    codebuild_action(
                        "TestStagingEndpoint", test_project, (BUILD_ARTIFACT, STAGING_OUTPUTS_ARTIFACT)
                    )
                ],
            ),
            Stages(
                Name="ApproveDeployment",
                BeforeEntry=model_approved(),
                Actions=[
                    _action(
                        "ApproveProdDeployment", "Approval", "Manual",
                        {"CustomData": "Approve to deploy the tested model to production"},
                    )
                ],
            ),
            Stages(Name="DeployProd", BeforeEntry=model_approved(), Actions=[deploy_action("prod")]),
        ],
        # Its creation run lists the group's model packages: the group must exist by then.
        needs=(group.title,),
    )

    # ---- triggers --------------------------------------------------------------------------
    # Names and ARNs come from the same patterns as the resources' own names (not GetAtt),
    # with DependsOn so the rule only exists once what it filters on and starts exists.
    def start_rule(title: str, name: str, description: str, pattern: dict, target, depends: list):
        template.add_resource(
            Rule(
                title,
                Name=names[name].sub(),
                Description=description,
                EventPattern=pattern,
                State="ENABLED",
                Targets=[
                    Target(
                        Id="Pipeline",
                        Arn=_arn("codepipeline", names[f"{target}_pipeline"]),
                        RoleArn=_role(config, "events"),
                    )
                ],
                Tags=tags(),
                DependsOn=depends,
            )
        )

    if config.uses_codecommit:  # connection sources start on their pipeline trigger
        for kind, title, started in (
            ("build", "ModelBuildPushRule", build_pipeline),
            ("deploy", "ModelDeployPushRule", deploy_pipeline),
        ):
            start_rule(
                title,
                f"{kind}_push_rule",
                f"Starts the {started.title} when {SOURCE_BRANCH} changes",
                {
                    "source": ["aws.codecommit"],
                    "detail-type": ["CodeCommit Repository State Change"],
                    "resources": [_arn("codecommit", names[f"{kind}_repository"])],
                    "detail": {
                        "event": ["referenceCreated", "referenceUpdated"],
                        "referenceType": ["branch"],
                        "referenceName": [SOURCE_BRANCH],
                    },
                },
                kind,
                [started.title, repositories[kind].title],
            )
    # Only a change *to Approved* in this project's group deploys: registration as
    # PendingManualApproval and rejections do not start the deploy pipeline.
    start_rule(
        "ModelApprovedRule",
        "approved_rule",
        "Starts the ModelDeployPipeline when a model package in the project's group is approved",
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {
                "ModelPackageGroupName": [names["model_package_group"].sub()],
                "ModelApprovalStatus": ["Approved"],
            },
        },
        "deploy",
        [deploy_pipeline.title, group.title],
    )
    return template


"""Every IAM statement the templates contain, with a Sid that says its intent.

Roles are one per service principal (Service Catalog launch, CodeBuild, CodePipeline,
EventBridge, CloudFormation, SageMaker), not one role trusted by ten services. Their resource
scopes come from ``generator.naming``: project resources are named
``<project name>-<project id>[-...]`` and project names end in ``-<suffix>``, so
``*-<suffix>-p-*`` covers this team's projects and nobody else's. Where SageMaker picks a
name we cannot predict (jobs started by SageMaker Pipelines are named ``pipelines-...``), the
scope is the request tag ``sagemaker:project-name`` instead.

The tag guardrail is a set of managed policies (split to fit IAM's size quota), attached to
every runtime role and exported so a platform team can attach them to Studio execution roles too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from awacs import (
    application_autoscaling,
    cloudformation,
    cloudwatch,
    codebuild,
    codecommit,
    codeconnections,
    codepipeline,
    codestar_connections,
    ecr,
    iam,
    kms,
    logs,
    s3,
    sagemaker,
    sns,
    ssm,
)
from awacs.aws import (
    Action,
    Allow,
    ArnNotLike,
    Bool,
    BoolIfExists,
    Condition,
    Deny,
    ForAllValuesStringNotEquals,
    ForAnyValueStringEqualsIgnoreCase,
    Null,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringEqualsIfExists,
    StringLike,
    StringNotEquals,
)

from generator import naming, tagging
from generator.config import Config
from generator.errors import UserError

PARTITION = "${AWS::Partition}"
REGION = "${AWS::Region}"
ACCOUNT = "${AWS::AccountId}"

# What the guardrail covers: every SageMaker action that creates something and takes tags
# (IAM's action catalogue lists aws:RequestTag for it). `Create*` also matches the few creates
# that cannot carry tags, which a guarded principal therefore cannot make at all
# (GUARDRAIL_BLOCKS_UNTAGGABLE). tests/test_iam_guardrail.py derives both from the catalogue, so
# an action AWS adds fails the tests until it is covered or written down here.
GUARDRAIL_CREATES = (Action("sagemaker", "Create*"), sagemaker.ImportHubContent, sagemaker.RegisterDevices)
GUARDRAIL_BLOCKS_UNTAGGABLE = {
    "sagemaker:CreateHubContentPresignedUrls": "a URL, not a resource",
    "sagemaker:CreatePartnerAppPresignedUrl": "a URL, not a resource",
    "sagemaker:CreatePresignedDomainUrl": "a URL, not a resource (the console user's call, not an execution role's)",
    "sagemaker:CreatePresignedMlflowAppUrl": "a URL, not a resource",
    "sagemaker:CreatePresignedMlflowTrackingServerUrl": "a URL, not a resource",
    "sagemaker:CreatePresignedNotebookInstanceUrl": "a URL, not a resource",
    "sagemaker:CreateImageVersion": "a version of an image, which carries the image's tags",
    "sagemaker:CreateLineageGroupPolicy": "a resource policy",
    "sagemaker:CreateModelCardExportJob": "an export of a model card",
    "sagemaker:CreateSharedModel": "shares a model with others",
}
# Tag-taking actions the guardrail leaves alone: updates of resources that keep their tags.
GUARDRAIL_SKIPS = {
    "sagemaker:UpdateMonitoringSchedule": "an update: the schedule keeps the tags it was created with",
    "sagemaker:UpdateProject": "an update: the project keeps the tags it was created with",
}
# Data at rest and in transit: creates (and the update) that name a volume or output key must
# name one of this account's keys; those that can isolate the container from the network must. The action lists
# are those IAM's catalogue gives the condition keys (checked in the tests); network isolation
# is required where the project runs a model (training, serving) and left to the team elsewhere
# (processing scripts may need the network).
VOLUME_KEY_ACTIONS = (
    "CreateAutoMLJob", "CreateAutoMLJobV2", "CreateDataQualityJobDefinition", "CreateDomain",
    "CreateEndpointConfig", "CreateHyperParameterTuningJob", "CreateLabelingJob",
    "CreateModelBiasJobDefinition", "CreateModelExplainabilityJobDefinition",
    "CreateModelQualityJobDefinition", "CreateMonitoringSchedule", "CreateNotebookInstance",
    "CreateProcessingJob", "CreateTrainingJob", "CreateTransformJob",
    # An update can name the key again: it must not drop it.
    "UpdateMonitoringSchedule",
)
OUTPUT_KEY_ACTIONS = (
    "CreateAutoMLJob", "CreateAutoMLJobV2", "CreateDataQualityJobDefinition",
    "CreateHyperParameterTuningJob", "CreateJob", "CreateLabelingJob",
    "CreateModelBiasJobDefinition", "CreateModelExplainabilityJobDefinition",
    "CreateModelQualityJobDefinition", "CreateMonitoringSchedule", "CreateProcessingJob",
    "CreateTrainingJob", "CreateTransformJob", "UpdateMonitoringSchedule",
)
NETWORK_ISOLATION_ACTIONS = ("CreateTrainingJob", "CreateModel")

# The creates the project's own roles make whose guarding the tests probe one by one.
GUARDED_CREATES = (
    sagemaker.CreateTrainingJob,
    sagemaker.CreateProcessingJob,
    sagemaker.CreateHyperParameterTuningJob,
    sagemaker.CreateTransformJob,
    sagemaker.CreateModel,
    sagemaker.CreateEndpointConfig,
    sagemaker.CreateEndpoint,
)

SERVICE_PRINCIPALS = {
    "launch": "servicecatalog.amazonaws.com",
    "codebuild": "codebuild.amazonaws.com",
    "codepipeline": "codepipeline.amazonaws.com",
    "events": "events.amazonaws.com",
    "cloudformation": "cloudformation.amazonaws.com",
    "sagemaker": "sagemaker.amazonaws.com",
}
RUNTIME_ROLES = ("codebuild", "codepipeline", "events", "cloudformation", "sagemaker")


def _sid(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace(":", "-").split("-"))


# ---- ARNs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """ARN patterns (Fn::Sub strings) of one team's project resources."""

    config: Config

    @property
    def glob(self) -> str:
        return naming.project_resource_glob(self.config)

    def sagemaker(self, kind: str, name: str | None = None) -> str:
        return f"arn:{PARTITION}:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name or self.glob}"

    def bucket(self) -> str:
        return naming.artifact_bucket_arn_pattern(self.config)

    def objects(self) -> str:
        return self.bucket() + "/*"

    def codecommit(self) -> str:
        return f"arn:{PARTITION}:codecommit:{REGION}:{ACCOUNT}:{self.glob}"

    def connections(self) -> list[str]:
        # The connection is chosen in the Studio form, so any of this account and region; ones
        # made before the service's 2024 rename keep codestar-connections ARNs.
        return [
            f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:connection/*"
            for service in ("codeconnections", "codestar-connections")
        ]

    def codebuild(self) -> str:
        return f"arn:{PARTITION}:codebuild:{REGION}:{ACCOUNT}:project/{self.glob}"

    def codepipeline(self) -> str:
        return f"arn:{PARTITION}:codepipeline:{REGION}:{ACCOUNT}:{self.glob}"

    def stack(self) -> str:
        return f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{self.glob}/*"

    def topic(self) -> str:
        return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{self.glob}"

    def alarm(self) -> str:
        return f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:{self.glob}"

    def log_groups(self, service: str) -> list[str]:
        # SageMaker jobs share account-wide groups; endpoints get a group per endpoint name.
        names = (
            [self.glob]
            if service == "codebuild"
            else ["ProcessingJobs", "TrainingJobs", f"Endpoints/{self.glob}"]
        )
        base = f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:/aws/{service}"
        return [f"{base}/{name}{streams}" for name in names for streams in ("", ":log-stream:*")]

    def event_rule(self) -> str:
        return f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{self.glob}"

    def role(self, purpose: str) -> str:
        return naming.role_arn_pattern(self.config, purpose)

    def parameters(self) -> str:
        prefix = naming.key_arn_parameter(self.config).pattern.rsplit("/", 1)[0]
        return f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter{prefix}/*"

    def project(self) -> str:
        return f"arn:{PARTITION}:sagemaker:{REGION}:{ACCOUNT}:project/*-{self.config.project_suffix}"


# AWS's accounts that publish SageMaker's built-in images, per region (the SDK's table).
IMAGE_ACCOUNTS_FILE = Path(__file__).with_name("data") / "sagemaker_image_accounts.json"


def image_repositories(config: Config) -> list[str]:
    """ECR repositories the execution role may pull from: this account's and AWS's image accounts
    of the configured regions, never `*` (an outsider's `sagemaker-*` repository)."""
    accounts = json.loads(IMAGE_ACCOUNTS_FILE.read_text(encoding="utf-8"))["accounts"]
    unknown = [region for region in config.regions if region not in accounts]
    if unknown:
        raise UserError(
            f"regions {', '.join(unknown)}: no SageMaker image account known in {IMAGE_ACCOUNTS_FILE.name}; "
            f"use regions from: {', '.join(sorted(accounts))}"
        )
    owners = [ACCOUNT, *sorted({accounts[region] for region in config.regions})]
    return [f"arn:{PARTITION}:ecr:{REGION}:{owner}:repository/sagemaker-*" for owner in owners]


# ---- trust ------------------------------------------------------------------------------------


# Condition keys a service documents sending when it assumes a role, each with the page that
# documents it. A condition on a key the service never sends locks the service out of its role;
# a missing one only costs some confused-deputy protection. So a trust policy carries a
# condition only where a page says the key is sent: CodeBuild, CodePipeline, CloudFormation and
# Service Catalog document none for their service roles, and trust their principal alone.
TRUST_CONDITIONS: dict[str, tuple[str, str]] = {
    # "Cross-service confused deputy prevention" shows aws:SourceAccount in the trust policy of
    # roles SageMaker assumes for jobs, endpoints and pipelines.
    "sagemaker": (
        "aws:SourceAccount",
        "https://docs.aws.amazon.com/sagemaker/latest/dg/security-confused-deputy-prevention.html",
    ),
    # EventBridge sends aws:SourceAccount (the account of the rule) with the calls it makes to
    # a target, the role assumption included.
    "events": (
        "aws:SourceAccount",
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html",
    ),
}


def trust_policy(purpose: str) -> PolicyDocument:
    statement = dict(
        Sid=f"Allow{_sid(purpose)}ServiceToAssumeRole",
        Effect=Allow,
        Principal=Principal("Service", [SERVICE_PRINCIPALS[purpose]]),
        Action=[Action("sts", "AssumeRole")],
    )
    if purpose in TRUST_CONDITIONS:
        key, _documented_at = TRUST_CONDITIONS[purpose]
        statement["Condition"] = Condition(StringEquals(key, ACCOUNT))
    return PolicyDocument(Version="2012-10-17", Statement=[Statement(**statement)])


# ---- the tag guardrail ------------------------------------------------------------------------


def tag_guardrail(config: Config) -> PolicyDocument:
    """Deny SageMaker creates that lack a required tag, and tampering with one afterwards.

    Request tags, not resource tags: on a create the resource does not exist yet, so a
    condition on ``aws:ResourceTag`` never fires (defect B1 of the original sample). One
    statement per key: keys inside one ``Null`` block are ANDed, so a request carrying one of
    two required tags would slip through.
    """
    def deny(sid: str, actions: list, *conditions) -> Statement:
        return Statement(Sid=sid, Effect=Deny, Action=actions, Resource=["*"],
                         Condition=Condition(list(conditions) if len(conditions) > 1 else conditions[0]))

    creates = list(GUARDRAIL_CREATES)
    # AddTags may add other tags, so it need not carry a required one; but it must not set one
    # empty or outside the allowed values on a resource that lacked it.
    creates_and_tagging = [*creates, sagemaker.AddTags]
    statements: list[Statement] = []
    for tag in config.required_tags:
        request_key = f"aws:RequestTag/{tag.key}"
        name = _sid(tag.key)
        statements += [
            deny(f"DenyCreateWithout{name}Tag", creates, Null(request_key, "true")),
            deny(f"DenyCreateWithEmpty{name}Tag", creates_and_tagging, StringEquals(request_key, "")),
            # IAM matches the key inside aws:RequestTag/<key> case-insensitively, cost reports
            # do not: demand the exact spelling through aws:TagKeys, which compares values.
            deny(f"DenyCreateWithout{name}TagSpelledExactly", creates,
                 ForAllValuesStringNotEquals("aws:TagKeys", [tag.key])),
        ]
        if tag.allowed_values:
            statements.append(
                deny(f"DenyCreateWith{name}TagOutsideAllowedValues", creates_and_tagging,
                     Null(request_key, "false"),
                     StringNotEquals(request_key, list(tag.allowed_values)))
            )
        # CloudFormation re-sends every tag when it updates a resource (a second deployment of
        # an endpoint stack): the same value again is no overwrite, a different one is. The
        # policy variable stands for the resource's current value (IAM user guide, "IAM policy
        # elements: Variables and tags": global condition keys can be used as variables).
        statements.append(
            deny(f"DenyOverwriting{name}TagOnExistingResources", [sagemaker.AddTags],
                 Null(f"aws:ResourceTag/{tag.key}", "false"),
                 ForAnyValueStringEqualsIgnoreCase("aws:TagKeys", [tag.key]),
                 StringNotEquals(request_key, f"${{aws:ResourceTag/{tag.key}}}"))
        )
    statements.append(
        deny("DenyRemovingRequiredTags", [sagemaker.DeleteTags],
             ForAnyValueStringEqualsIgnoreCase("aws:TagKeys", list(config.tag_keys)))
    )
    # A negated operator on an absent key matches: no key at all is refused like another
    # account's. The key is this account's, not named: the key policy names the roles this
    # policy is attached to, so naming the key here would close a dependency cycle.
    this_accounts_keys = f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/*"
    statements += [
        deny("DenyCreatesWithoutAVolumeKeyOfThisAccount", [Action("sagemaker", a) for a in VOLUME_KEY_ACTIONS],
             ArnNotLike("sagemaker:VolumeKmsKeyArn", this_accounts_keys)),
        deny("DenyCreatesWithoutAnOutputKeyOfThisAccount", [Action("sagemaker", a) for a in OUTPUT_KEY_ACTIONS],
             ArnNotLike("sagemaker:OutputKmsKeyArn", this_accounts_keys)),
        deny("DenyTrainingAndModelsWithNetworkAccess", [Action("sagemaker", a) for a in NETWORK_ISOLATION_ACTIONS],
             BoolIfExists("sagemaker:NetworkIsolation", "false")),
    ]
    return PolicyDocument(Version="2012-10-17", Statement=statements)


# IAM's limit on a managed policy document, in characters without white space. The resolved
# document can only be shorter than the template's: every `${...}` in the guardrail stands for
# a value no longer than its placeholder.
MANAGED_POLICY_MAX_CHARS = 6144


def policy_size(document: PolicyDocument) -> int:
    return len(json.dumps(json.loads(document.to_json()), separators=(",", ":")))


def tag_guardrail_documents(config: Config) -> list[PolicyDocument]:
    """The guardrail split into managed-policy-sized documents, statements kept whole.

    Each required key adds up to five statements; ten keys with allowed values need about
    18,000 characters, three times what one managed policy may hold.
    """
    documents: list[PolicyDocument] = []
    current: list[Statement] = []
    for statement in tag_guardrail(config).Statement:
        candidate = PolicyDocument(Version="2012-10-17", Statement=[*current, statement])
        if current and policy_size(candidate) > MANAGED_POLICY_MAX_CHARS:
            documents.append(PolicyDocument(Version="2012-10-17", Statement=current))
            current = [statement]
        else:
            current.append(statement)
    documents.append(PolicyDocument(Version="2012-10-17", Statement=current))
    return documents


# ---- shared pieces of the runtime roles ----------------------------------------------------------


def _pass_role(scope: Scope, purpose: str, service: str) -> Statement:
    return Statement(
        Sid=f"AllowPass{_sid(purpose)}RoleTo{_sid(service.split('.')[0])}",
        Effect=Allow,
        Action=[iam.PassRole],
        Resource=[scope.role(purpose)],
        Condition=Condition(StringEquals("iam:PassedToService", service)),
    )


# Using the key for data, and the services through which the roles do it.
KEY_USE_ACTIONS = (
    kms.Encrypt, kms.Decrypt, kms.ReEncryptFrom, kms.ReEncryptTo, kms.GenerateDataKey,
    kms.GenerateDataKeyWithoutPlaintext, kms.DescribeKey,
)
KEY_VIA_SERVICES = ("s3", "sagemaker", "sns", "codebuild", "codepipeline", "logs")
# What the key policy never delegates to the account's IAM policies: reading and writing data.
KEY_DATA_ACTIONS = (
    kms.Encrypt, kms.Decrypt, kms.ReEncryptFrom, kms.ReEncryptTo, kms.GenerateDataKey,
    kms.GenerateDataKeyWithoutPlaintext, kms.GenerateDataKeyPair,
    kms.GenerateDataKeyPairWithoutPlaintext, kms.CreateGrant,
)


def key_via_services(services: tuple[str, ...] = KEY_VIA_SERVICES) -> list[str]:
    return [f"{service}.{REGION}.amazonaws.com" for service in services]


def _key_use(key_arn_sub: str, *, grants: bool = False) -> list[Statement]:
    statements = [
        Statement(
            # Only as the storing service asks: a role's credentials used outside S3, SageMaker,
            # SNS, CodeBuild, CodePipeline or Logs (a build's own code calling KMS) decrypt nothing.
            Sid="AllowUseOfProjectKeyThroughProjectServices",
            Effect=Allow,
            Action=[a for a in KEY_USE_ACTIONS if a != kms.DescribeKey],
            Resource=[key_arn_sub],
            Condition=Condition(StringLike("kms:ViaService", key_via_services())),
        ),
        Statement(
            # Handlers check the key before they name it in a resource (no data access).
            Sid="AllowDescribingProjectKey",
            Effect=Allow,
            Action=[kms.DescribeKey],
            Resource=[key_arn_sub],
        ),
    ]
    if grants:
        # SageMaker attaches the key to job volumes and endpoint instances through grants
        # created with the caller's identity.
        statements.append(
            Statement(
                Sid="AllowGrantsOnProjectKeyForAwsResources",
                Effect=Allow,
                Action=[kms.CreateGrant],
                Resource=[key_arn_sub],
                Condition=Condition(Bool("kms:GrantIsForAWSResource", "true")),
            )
        )
    return statements


def in_this_account() -> Condition:
    """Bucket names are global: `<namespace>-p-...-<account>` can be created by anyone, in any
    account. The bucket's owner must be this account (a key S3 sends with every request)."""
    return Condition(StringEquals("s3:ResourceAccount", ACCOUNT))


def _bucket_read_write(scope: Scope) -> list[Statement]:
    return [
        Statement(
            Sid="AllowProjectBucketObjects",
            Effect=Allow,
            Action=[s3.GetObject, s3.GetObjectVersion, s3.PutObject, s3.DeleteObject,
                    s3.AbortMultipartUpload],
            Resource=[scope.objects()],
            Condition=in_this_account(),
        ),
        Statement(
            Sid="AllowListProjectBucket",
            Effect=Allow,
            Action=[s3.ListBucket, s3.GetBucketLocation, s3.GetBucketVersioning],
            Resource=[scope.bucket()],
            Condition=in_this_account(),
        ),
    ]


def _no_self_approval() -> Statement:
    """Separation of duties: approving a model version is a person's decision, never a role's.

    Approval starts the deploy pipeline; a build or job running a data scientist's code must
    not be able to register a version as Approved or move one there.
    """
    return Statement(
        Sid="DenyApprovingModelVersions",
        Effect=Deny,
        Action=[sagemaker.CreateModelPackage, sagemaker.UpdateModelPackage],
        Resource=["*"],
        Condition=Condition(StringEquals("sagemaker:ModelApprovalStatus", "Approved")),
    )


def _logs(scope: Scope, service: str) -> Statement:
    return Statement(
        Sid=f"AllowWriting{_sid(service)}Logs",
        Effect=Allow,
        Action=[logs.CreateLogGroup, logs.CreateLogStream, logs.PutLogEvents],
        Resource=scope.log_groups(service),
    )


def _project_tagged(config: Config) -> Condition:
    """Creates whose names SageMaker chooses are scoped by the project tag they carry."""
    return Condition(
        StringLike("aws:RequestTag/sagemaker:project-name", f"*-{config.project_suffix}")
    )


# ---- runtime role policies (key ARN is a Sub string referencing the product's key) -------------


def codebuild_policy(config: Config, key_arn_sub: str) -> PolicyDocument:
    scope = Scope(config)
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            _logs(scope, "codebuild"),
            *_bucket_read_write(scope),
            *_key_use(key_arn_sub),
            Statement(
                Sid="AllowReadingProjectTags",
                Effect=Allow,
                Action=[sagemaker.ListTags],
                Resource=[scope.project()],
            ),
            Statement(
                Sid="AllowUpsertAndStartProjectPipelines",
                Effect=Allow,
                Action=[sagemaker.CreatePipeline, sagemaker.UpdatePipeline,
                        sagemaker.DescribePipeline, sagemaker.StartPipelineExecution,
                        sagemaker.DescribePipelineExecution, sagemaker.ListPipelineExecutionSteps,
                        sagemaker.AddTags, sagemaker.ListTags],
                Resource=[scope.sagemaker("pipeline"), scope.sagemaker("pipeline", scope.glob + "/*")],
            ),
            Statement(
                Sid="AllowReadingProjectModelRegistry",
                Effect=Allow,
                Action=[sagemaker.DescribeModelPackage],
                Resource=[scope.sagemaker("model-package", scope.glob + "/*")],
            ),
            Statement(
                # ListModelPackages takes the group as a request parameter and has no
                # required resource type: a group ARN would never match the request.
                Sid="AllowListingModelPackages",
                Effect=Allow,
                Action=[sagemaker.ListModelPackages],
                Resource=["*"],
            ),
            Statement(
                Sid="AllowInvokingStagingEndpoints",
                Effect=Allow,
                Action=[sagemaker.InvokeEndpoint, sagemaker.InvokeEndpointAsync],
                Resource=[scope.sagemaker("endpoint", scope.glob + "-staging")],
            ),
            Statement(
                Sid="AllowReadingDeployStackOutputs",
                Effect=Allow,
                Action=[cloudformation.DescribeStacks],
                Resource=[scope.stack()],
            ),
            _pass_role(scope, "sagemaker", "sagemaker.amazonaws.com"),
            _no_self_approval(),
        ],
    )


def _source_access(config: Config, scope: Scope) -> Statement:
    """How the pipelines read their source: the project's CodeCommit repositories or a connection."""
    if config.uses_codecommit:
        return Statement(
            Sid="AllowReadingProjectRepositories",
            Effect=Allow,
            Action=[codecommit.GetBranch, codecommit.GetCommit, codecommit.GetRepository,
                    codecommit.UploadArchive, codecommit.GetUploadArchiveStatus,
                    codecommit.CancelUploadArchive],
            Resource=[scope.codecommit()],
        )
    return Statement(
        # The source action fetches the repository as the pipeline role. Since the 2024 rename
        # IAM knows the action under both prefixes; which one CodePipeline checks for a given
        # connection is not observable offline, so both are granted, on connections only.
        Sid="AllowUsingThisAccountsConnectionsForSources",
        Effect=Allow,
        Action=[codeconnections.UseConnection, codestar_connections.UseConnection],
        Resource=scope.connections(),
    )


def codepipeline_policy(config: Config, key_arn_sub: str) -> PolicyDocument:
    scope = Scope(config)
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            *_bucket_read_write(scope),
            *_key_use(key_arn_sub),
            _source_access(config, scope),
            Statement(
                Sid="AllowRunningProjectBuilds",
                Effect=Allow,
                Action=[codebuild.StartBuild, codebuild.BatchGetBuilds, codebuild.StopBuild],
                Resource=[scope.codebuild()],
            ),
            Statement(
                Sid="AllowDeployingProjectStacks",
                Effect=Allow,
                Action=[cloudformation.CreateStack, cloudformation.UpdateStack,
                        cloudformation.DeleteStack, cloudformation.DescribeStacks,
                        cloudformation.DescribeStackEvents, cloudformation.CreateChangeSet,
                        cloudformation.DescribeChangeSet, cloudformation.ExecuteChangeSet,
                        cloudformation.DeleteChangeSet, cloudformation.SetStackPolicy],
                Resource=[scope.stack()],
            ),
            Statement(
                # ValidateTemplate has no resource-level permissions.
                Sid="AllowValidatingTemplates",
                Effect=Allow,
                Action=[cloudformation.ValidateTemplate],
                Resource=["*"],
            ),
            _pass_role(scope, "cloudformation", "cloudformation.amazonaws.com"),
            _no_self_approval(),
        ],
    )


def _document(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version="2012-10-17", Statement=list(statements))


def events_policy(config: Config) -> PolicyDocument:
    return _document(
        Statement(
            Sid="AllowStartingProjectPipelines",
            Effect=Allow,
            Action=[codepipeline.StartPipelineExecution],
            Resource=[Scope(config).codepipeline()],
        )
    )


# What the deploy stage's CloudFormation role needs, per resource type of the endpoint template,
# picked from the types' provider-schema handler permissions, each with its reason.
# tests/test_iam_least_privilege.py checks the table against the schemas and simulates every
# entry against cloudformation_policy().
DEPLOY_PERMISSIONS: dict[str, dict[str, str]] = {
    "AWS::SageMaker::Model": {
        "sagemaker:CreateModel": "the model of the approved package",
        "sagemaker:AddTags": "project and required tags on create",
        "sagemaker:DeleteModel": "replaced models (a new ConfigHash) and stack deletion",
        "sagemaker:DeleteTags": "tag changes on update",
        "iam:PassRole": "the model runs as the SageMaker execution role",
    },
    "AWS::SageMaker::EndpointConfig": {
        "sagemaker:CreateEndpointConfig": "async config with the customer key",
        "sagemaker:AddTags": "tags on create",
        "sagemaker:DeleteEndpointConfig": "replaced configs and stack deletion",
        "sagemaker:DeleteTags": "tag changes on update",
        "kms:DescribeKey": "the handler checks the customer key",
        "iam:PassRole": "the create handler passes the SageMaker execution role",
    },
    "AWS::SageMaker::Endpoint": {
        "sagemaker:CreateEndpoint": "the endpoint",
        "sagemaker:DescribeEndpoint": "the handler waits for InService",
        "sagemaker:UpdateEndpoint": "a new endpoint config on every approved model",
        "sagemaker:DeleteEndpoint": "stack deletion",
        "sagemaker:AddTags": "tags on create and update",
        "sagemaker:DeleteTags": "a stage config tag removed on update (the endpoint keeps its name)",
    },
    "AWS::SNS::Topic": {
        "sns:CreateTopic": "async success and error topics",
        "sns:TagResource": "tags",
        "sns:GetTopicAttributes": "the handler reads the topic back",
        "sns:DeleteTopic": "stack deletion",
        "sns:UntagResource": "tag changes on update",
        "sns:ListTagsForResource": "the update handler reads tags",
        "sns:ListSubscriptionsByTopic": "the update handler reads the topic's subscriptions",
        "sns:GetDataProtectionPolicy": "the update handler reads the (absent) data protection policy",
    },
    "AWS::CloudWatch::Alarm": {
        "cloudwatch:PutMetricAlarm": "scale-from-zero alarm",
        "cloudwatch:DescribeAlarms": "the handler reads the alarm back",
        "cloudwatch:TagResource": "tags",
        "cloudwatch:ListTagsForResource": "the handler reads tags",
        "cloudwatch:UntagResource": "tag changes on update",
        "cloudwatch:DeleteAlarms": "stack deletion",
    },
    "AWS::ApplicationAutoScaling::ScalableTarget": {
        "application-autoscaling:RegisterScalableTarget": "the endpoint variant scales 0..max",
        "application-autoscaling:DescribeScalableTargets": "the handler reads the target back",
        "application-autoscaling:DeregisterScalableTarget": "stack deletion",
        "application-autoscaling:TagResource": "the target carries Tags",
        "application-autoscaling:ListTagsForResource": "the handler reads tags",
        "application-autoscaling:UntagResource": "tag changes on update",
        "application-autoscaling:DescribeScheduledActions": "the handler reads the (absent) scheduled actions",
        "iam:CreateServiceLinkedRole": "first scalable SageMaker target of the account",
        "cloudwatch:PutMetricAlarm": "the handler manages the target's alarms (the project's and target tracking's)",
        "cloudwatch:DeleteAlarms": "the same alarms on update",
        "cloudwatch:DescribeAlarms": "the handler reads those alarms back",
    },
    "AWS::ApplicationAutoScaling::ScalingPolicy": {
        "application-autoscaling:PutScalingPolicy": "backlog tracking and scale-from-zero policies",
        "application-autoscaling:DescribeScalingPolicies": "the handler reads the policy back",
        "application-autoscaling:DeleteScalingPolicy": "stack deletion",
        "cloudwatch:GetMetricData": "the handler reads the tracked metric",
    },
}
# Needed on the endpoint template's resources by a service other than the resource's own handler.
DEPLOY_EXTRA_PERMISSIONS = {
    "sagemaker:UpdateEndpointWeightsAndCapacities":
        "Application Auto Scaling checks that the caller registering a SageMaker variant may scale it",
    "sagemaker:DescribeModel": "read back by CloudFormation drift detection and the stack's read handler",
    "sagemaker:DescribeEndpointConfig": "read back by CloudFormation drift detection and the stack's read handler",
    "sagemaker:ListTags": "the handlers read tags back",
}


# Every action a provider schema's create, update or delete handler lists and neither role is
# granted, with the reason. Handlers read state back whatever the properties, so their read-only
# actions are granted; a write is granted only for a property the template sets. With this table
# the tests derive each role from the current schemas: an action AWS adds to a handler fails
# them until it is granted above or left out here with its reason.
_REPLICATION = "ReplicationConfiguration is not set"
_METADATA = "MetadataConfiguration / MetadataTableConfiguration are not set"
HANDLER_PERMISSIONS_LEFT_OUT: dict[str, dict[str, str]] = {
    "AWS::S3::Bucket": {
        "s3:PutBucketAbac": "AbacStatus is not set",
        "s3:PutAnalyticsConfiguration": "AnalyticsConfigurations is not set",
        "s3:DeleteBucketAnalyticsConfiguration": "AnalyticsConfigurations is not set",
        "s3:PutBucketCORS": "CorsConfiguration is not set",
        "s3:DeleteBucketCors": "CorsConfiguration is not set",
        "s3:PutInventoryConfiguration": "InventoryConfigurations is not set",
        "s3:PutMetricsConfiguration": "MetricsConfigurations is not set",
        "s3:DeleteBucketMetricsConfiguration": "MetricsConfigurations is not set",
        "s3:PutBucketNotification": "NotificationConfiguration is not set",
        "s3:PutBucketReplication": _REPLICATION,
        "s3:PutReplicationConfiguration": _REPLICATION,
        "s3:DeleteBucketReplication": _REPLICATION,
        "iam:PassRole": _REPLICATION + " (the replication role)",
        "s3:PutBucketWebsite": "WebsiteConfiguration is not set",
        "s3:DeleteBucketWebsite": "WebsiteConfiguration is not set",
        "s3:PutAccelerateConfiguration": "AccelerateConfiguration is not set",
        "s3:PutBucketAcl": "AccessControl is not set: BucketOwnerEnforced disables ACLs",
        "s3:PutObjectAcl": "AccessControl is not set: BucketOwnerEnforced disables ACLs",
        "s3:PutBucketObjectLockConfiguration": "ObjectLockConfiguration is not set",
        "s3:PutObjectLockConfiguration": "ObjectLockConfiguration is not set",
        "s3:DeleteObject": "no property the template sets writes objects; it would let the launch role delete project data",
        "s3:PutBucketLogging": "LoggingConfiguration is not set (CloudTrail data events instead)",
        "s3:PutIntelligentTieringConfiguration": "IntelligentTieringConfigurations is not set",
        "s3:CreateBucketMetadataTableConfiguration": _METADATA,
        "s3:DeleteBucketMetadataTableConfiguration": _METADATA,
        "s3:UpdateBucketMetadataJournalTableConfiguration": _METADATA,
        "s3:UpdateBucketMetadataInventoryTableConfiguration": _METADATA,
        "s3:UpdateBucketMetadataAnnotationTableConfiguration": _METADATA,
        **{f"s3tables:{action}": _METADATA + " (S3 Tables)" for action in (
            "CreateNamespace", "CreateTable", "CreateTableBucket", "GetTable", "PutTableBucketPolicy",
            "PutTableEncryption", "PutTablePolicy", "GetTableMetadataLocation", "UpdateTableMetadataLocation")},
        "s3:DeleteBucketEncryption": "BucketEncryption is always set",
        "s3:DeleteBucketLifecycle": "LifecycleConfiguration is always set",
    },
    "AWS::SageMaker::ModelPackageGroup": {
        "sagemaker:PutModelPackageGroupPolicy": "ModelPackageGroupPolicy is not set",
    },
    "AWS::CodeCommit::Repository": {
        "codecommit:PutRepositoryTriggers": "Triggers is not set (EventBridge rules start the pipelines)",
        "codecommit:UpdateRepositoryName": "the name derives from the project name and id, which never change",
        "codecommit:UpdateRepositoryEncryptionKey": "KmsKeyId is not set (CodeCommit keeps its AWS managed key)",
    },
    "AWS::CodePipeline::Pipeline": {
        "codepipeline:DisableStageTransition": "DisableInboundStageTransitions is not set",
        "codepipeline:EnableStageTransition": "DisableInboundStageTransitions is not set",
        "codepipeline:StartPipelineExecution": "RestartExecutionOnUpdate is not set",
    },
    "AWS::Logs::LogGroup": {
        "logs:PutDataProtectionPolicy": "DataProtectionPolicy is not set",
        "logs:CreateLogDelivery": "no log delivery is configured",
        "s3:REST.PUT.OBJECT": "no log delivery is configured",
        "firehose:TagDeliveryStream": "no log delivery is configured",
        "logs:PutResourcePolicy": "ResourcePolicyDocument is not set",
        "logs:DeleteResourcePolicy": "ResourcePolicyDocument is not set",
        "logs:PutIndexPolicy": "FieldIndexPolicies is not set",
        "logs:DeleteIndexPolicy": "FieldIndexPolicies is not set",
        "logs:PutBearerTokenAuthentication": "BearerTokenAuthenticationEnabled is not set",
        "logs:DisassociateKmsKey": "KmsKeyId is always set",
        "logs:DeleteRetentionPolicy": "RetentionInDays is always set",
        "logs:PutLogGroupDeletionProtection": "DeletionProtectionEnabled is not set",
    },
    "AWS::SNS::Topic": {
        "sns:Subscribe": "Subscription is not set: subscribers are the team's to add",
        "sns:Unsubscribe": "Subscription is not set",
        "sns:PutDataProtectionPolicy": "DataProtectionPolicy is not set",
        "sns:SetTopicAttributes": "its Policy attribute would open a topic to other accounts; the topics' attributes never change after creation",
        "iam:GetRole": "no delivery status logging roles are set",
        "iam:PassRole": "no delivery status logging roles are set",
    },
    "AWS::ApplicationAutoScaling::ScalableTarget": {
        "application-autoscaling:PutScheduledAction": "ScheduledActions is not set",
        "application-autoscaling:DeleteScheduledAction": "ScheduledActions is not set",
        "iam:PassRole": "RoleARN is not set: the service-linked role is used",
        "lambda:GetProvisionedConcurrencyConfig": "Lambda targets only",
        "lambda:PutProvisionedConcurrencyConfig": "Lambda targets only",
        "lambda:DeleteProvisionedConcurrencyConfig": "Lambda targets only",
    },
}


def cloudformation_policy(config: Config, key_arn_sub: str) -> PolicyDocument:
    """What the deploy stage's CloudFormation needs for the endpoint template."""
    scope = Scope(config)
    endpoint_resources = [
        scope.sagemaker("model"),
        scope.sagemaker("endpoint-config"),
        scope.sagemaker("endpoint"),
    ]
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            *_key_use(key_arn_sub, grants=True),
            Statement(
                Sid="AllowManagingProjectEndpoints",
                Effect=Allow,
                Action=[sagemaker.CreateModel, sagemaker.DescribeModel, sagemaker.DeleteModel,
                        sagemaker.CreateEndpointConfig, sagemaker.DescribeEndpointConfig,
                        sagemaker.DeleteEndpointConfig, sagemaker.CreateEndpoint,
                        sagemaker.DescribeEndpoint, sagemaker.UpdateEndpoint,
                        sagemaker.DeleteEndpoint, sagemaker.AddTags, sagemaker.DeleteTags,
                        sagemaker.ListTags],
                Resource=endpoint_resources,
            ),
            Statement(
                # Registering a variant as a scalable target checks that the caller itself
                # could change the variant's capacity.
                Sid="AllowScalingProjectEndpointVariants",
                Effect=Allow,
                Action=[sagemaker.UpdateEndpointWeightsAndCapacities],
                Resource=[scope.sagemaker("endpoint")],
            ),
            Statement(
                Sid="AllowReadingApprovedModelPackages",
                Effect=Allow,
                Action=[sagemaker.DescribeModelPackage],
                Resource=[scope.sagemaker("model-package", scope.glob + "/*")],
            ),
            Statement(
                Sid="AllowManagingProjectTopics",
                Effect=Allow,
                # Not SetTopicAttributes: its Policy attribute would let a template in the
                # deploy repository open a topic to another account; no condition key tells
                # the attributes apart, and the template never changes a topic after creating it.
                Action=[sns.CreateTopic, sns.DeleteTopic, sns.GetTopicAttributes,
                        sns.TagResource, sns.UntagResource,
                        sns.ListTagsForResource, sns.ListSubscriptionsByTopic,
                        sns.GetDataProtectionPolicy],
                Resource=[scope.topic()],
            ),
            Statement(
                # The scale-from-zero alarm is the project's; target tracking names its own
                # alarms TargetTracking-endpoint/<endpoint>/...
                Sid="AllowManagingProjectAlarms",
                Effect=Allow,
                Action=[cloudwatch.PutMetricAlarm, cloudwatch.DeleteAlarms,
                        cloudwatch.DescribeAlarms, cloudwatch.TagResource,
                        cloudwatch.UntagResource, cloudwatch.ListTagsForResource],
                Resource=[scope.alarm(),
                          f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:TargetTracking-endpoint/{scope.glob}"],
            ),
            Statement(
                # Scalable targets get random ids, so their ARNs cannot be scoped: the service
                # namespace keeps these writes to SageMaker variants, the team tag the targets
                # carry to this team's (a new target has no tags yet; SageMaker itself refuses
                # registering a variant the caller may not scale, which only the team's are).
                Sid="AllowRegisteringThisTeamsSageMakerVariants",
                Effect=Allow,
                Action=[application_autoscaling.RegisterScalableTarget],
                Resource=[f"arn:{PARTITION}:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/*"],
                Condition=Condition([
                    StringEquals("application-autoscaling:service-namespace", "sagemaker"),
                    StringEqualsIfExists(f"aws:ResourceTag/{tagging.TEAM_TAG}", tagging.team(config)),
                ]),
            ),
            Statement(
                Sid="AllowScalingThisTeamsSageMakerVariants",
                Effect=Allow,
                Action=[application_autoscaling.DeregisterScalableTarget,
                        application_autoscaling.PutScalingPolicy,
                        application_autoscaling.DeleteScalingPolicy],
                Resource=[f"arn:{PARTITION}:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/*"],
                Condition=Condition([
                    StringEquals("application-autoscaling:service-namespace", "sagemaker"),
                    StringEquals(f"aws:ResourceTag/{tagging.TEAM_TAG}", tagging.team(config)),
                ]),
            ),
            Statement(
                Sid="AllowTaggingScalableTargets",
                Effect=Allow,
                Action=[application_autoscaling.TagResource,
                        application_autoscaling.UntagResource,
                        application_autoscaling.ListTagsForResource],
                Resource=[f"arn:{PARTITION}:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/*"],
            ),
            Statement(
                # The scaling policy handler reads the tracked metric; GetMetricData has no
                # resource-level permissions for metrics.
                Sid="AllowReadingScalingMetrics",
                Effect=Allow,
                Action=[cloudwatch.GetMetricData],
                Resource=["*"],
            ),
            Statement(
                # Describe actions have no resource-level permissions.
                Sid="AllowDescribingScaling",
                Effect=Allow,
                Action=[application_autoscaling.DescribeScalableTargets,
                        application_autoscaling.DescribeScalingPolicies,
                        application_autoscaling.DescribeScheduledActions],
                Resource=["*"],
            ),
            Statement(
                Sid="AllowCreatingSageMakerScalingServiceLinkedRole",
                Effect=Allow,
                Action=[iam.CreateServiceLinkedRole],
                Resource=[
                    f"arn:{PARTITION}:iam::{ACCOUNT}:role/aws-service-role/"
                    "sagemaker.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                ],
                Condition=Condition(
                    StringEquals(
                        "iam:AWSServiceName", "sagemaker.application-autoscaling.amazonaws.com"
                    )
                ),
            ),
            _pass_role(scope, "sagemaker", "sagemaker.amazonaws.com"),
            _no_self_approval(),
        ],
    )


def sagemaker_policy(config: Config, key_arn_sub: str) -> PolicyDocument:
    """The pipeline's and the endpoints' execution role."""
    scope = Scope(config)
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            *_bucket_read_write(scope),
            *_key_use(key_arn_sub, grants=True),
            _logs(scope, "sagemaker"),
            Statement(
                Sid="AllowPipelineJobsTaggedWithAProject",
                Effect=Allow,
                Action=[sagemaker.CreateProcessingJob, sagemaker.CreateTrainingJob,
                        sagemaker.AddTags],
                Resource=[scope.sagemaker("processing-job", "*"),
                          scope.sagemaker("training-job", "*")],
                Condition=_project_tagged(config),
            ),
            Statement(
                # Pipeline job names do not carry the project: the project tag scopes them.
                Sid="AllowManagingThisTeamsPipelineJobs",
                Effect=Allow,
                Action=[sagemaker.DescribeProcessingJob, sagemaker.DescribeTrainingJob,
                        sagemaker.StopProcessingJob, sagemaker.StopTrainingJob],
                Resource=[scope.sagemaker("processing-job", "pipelines-*"),
                          scope.sagemaker("training-job", "pipelines-*")],
                Condition=Condition(
                    StringLike(
                        "aws:ResourceTag/sagemaker:project-name", f"*-{config.project_suffix}"
                    )
                ),
            ),
            Statement(
                Sid="AllowRegisteringModelsInProjectGroups",
                Effect=Allow,
                Action=[sagemaker.CreateModelPackage, sagemaker.DescribeModelPackage,
                        sagemaker.DescribeModelPackageGroup, sagemaker.AddTags],
                Resource=[scope.sagemaker("model-package-group"),
                          scope.sagemaker("model-package", scope.glob + "/*")],
            ),
            Statement(
                Sid="AllowPipelineRunsOfProjectPipelines",
                Effect=Allow,
                Action=[sagemaker.DescribePipeline, sagemaker.DescribePipelineExecution,
                        sagemaker.ListPipelineExecutionSteps],
                Resource=[scope.sagemaker("pipeline"), scope.sagemaker("pipeline", scope.glob + "/*")],
            ),
            Statement(
                Sid="AllowAsyncInferenceNotifications",
                Effect=Allow,
                Action=[sns.Publish],
                Resource=[scope.topic()],
            ),
            Statement(
                # Training containers publish metrics; PutMetricData has no resource scope.
                Sid="AllowSageMakerMetrics",
                Effect=Allow,
                Action=[cloudwatch.PutMetricData],
                Resource=["*"],
                Condition=Condition(StringLike("cloudwatch:namespace", "/aws/sagemaker/*")),
            ),
            Statement(
                # GetAuthorizationToken has no resource-level permissions.
                Sid="AllowEcrLogin",
                Effect=Allow,
                Action=[ecr.GetAuthorizationToken],
                Resource=["*"],
            ),
            Statement(
                Sid="AllowPullingSageMakerImages",
                Effect=Allow,
                Action=[ecr.BatchGetImage, ecr.GetDownloadUrlForLayer,
                        ecr.BatchCheckLayerAvailability],
                Resource=image_repositories(config),
            ),
            _pass_role(scope, "sagemaker", "sagemaker.amazonaws.com"),
            _no_self_approval(),
        ],
    )


# ---- the launch role --------------------------------------------------------------------------

# Per resource type of the project template: the actions CloudFormation needs to create, update
# (including the tags SageMaker propagates from the project to every resource) and delete it,
# picked from the handler permissions of the type's provider schema (bundled with cfn-lint).
# Each action says why. tests/test_product_template.py checks every entry is inside the schema's
# list, except the types that have no handler data (marked "no schema"). The table is the
# default configuration's; ``launch_permissions`` narrows it to what a configuration creates.
LAUNCH_PERMISSIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "AWS::S3::Bucket": (
        ("s3:CreateBucket", "create the artifact bucket"),
        ("s3:DeleteBucket", "delete it when the project is deleted and the bucket is empty"),
        ("s3:ListBucket", "handlers check the bucket's state"),
        ("s3:PutEncryptionConfiguration", "SSE-KMS with the customer key"),
        ("s3:PutBucketVersioning", "versioning on"),
        ("s3:PutBucketPublicAccessBlock", "block public access"),
        ("s3:PutBucketOwnershipControls", "BucketOwnerEnforced: no ACLs"),
        ("s3:PutBucketTagging", "project and required tags"),
        ("s3:TagResource", "the handlers tag through S3's resource tagging API as well"),
        ("s3:UntagResource", "tag changes on update"),
        ("s3:PutLifecycleConfiguration", "the rule expiring noncurrent versions and incomplete uploads"),
        ("s3:GetBucketAcl", "the create handler reads the bucket's ACL back"),
        ("s3:GetBucketMetadataTableConfiguration", "the handlers read the (absent) metadata configuration"),
    ),
    "AWS::S3::BucketPolicy": (
        ("s3:GetBucketPolicy", "read before write"),
        ("s3:PutBucketPolicy", "TLS-only, customer-key-only policy"),
        ("s3:DeleteBucketPolicy", "delete with the project"),
    ),
    "AWS::SageMaker::ModelPackageGroup": (
        ("sagemaker:CreateModelPackageGroup", "the project's model registry group"),
        ("sagemaker:DescribeModelPackageGroup", "handlers read the group back"),
        ("sagemaker:DeleteModelPackageGroup", "delete with the project"),
        ("sagemaker:GetModelPackageGroupPolicy", "handlers read the (absent) group policy"),
        ("sagemaker:DeleteModelPackageGroupPolicy", "the delete handler removes any group policy"),
        ("sagemaker:AddTags", "project tags on create and update"),
        ("sagemaker:DeleteTags", "tag changes on update"),
        ("sagemaker:ListTags", "handlers read tags back"),
    ),
    "AWS::CodeCommit::Repository": (
        ("codecommit:CreateRepository", "model build and deploy repositories"),
        ("codecommit:CreateCommit", "seed the repository from the seed-code zip"),
        ("codecommit:DeleteRepository", "delete with the project"),
        ("codecommit:TagResource", "project tags"),
        ("codecommit:UntagResource", "tag changes on update"),
        ("codecommit:UpdateRepositoryDescription", "description changes on update"),
        ("codecommit:ListRepositories", "the delete handler looks the repository up"),
    ),
    "AWS::CodeBuild::Project": (  # no schema: handler permissions are not published
        ("codebuild:CreateProject", "model build, deploy config and staging test builds"),
        ("codebuild:UpdateProject", "updates of the project template"),
        ("codebuild:DeleteProject", "delete with the project"),
        ("codebuild:BatchGetProjects", "CloudFormation reads the project back"),
    ),
    "AWS::CodePipeline::Pipeline": (
        ("codepipeline:CreatePipeline", "model build and deploy pipelines"),
        ("codepipeline:UpdatePipeline", "updates of the project template"),
        ("codepipeline:DeletePipeline", "delete with the project"),
        ("codepipeline:GetPipeline", "handlers read the pipeline back"),
        ("codepipeline:GetPipelineState", "handlers wait for the pipeline"),
        ("codepipeline:TagResource", "project tags"),
        ("codepipeline:UntagResource", "tag changes on update"),
        ("iam:GetRole", "the handler checks the pipeline role"),
    ),
    "AWS::Events::Rule": (
        ("events:PutRule", "repository push and model approval rules"),
        ("events:DescribeRule", "handlers read the rule back"),
        ("events:DeleteRule", "delete with the project"),
        ("events:PutTargets", "the pipelines as targets"),
        ("events:RemoveTargets", "target changes and delete"),
        ("events:ListTargetsByRule", "the delete handler lists targets"),
        ("events:TagResource", "project tags"),
        ("events:UntagResource", "tag changes on update"),
    ),
    "AWS::Logs::LogGroup": (
        ("logs:CreateLogGroup", "KMS-encrypted log groups for the builds"),
        ("logs:DescribeLogGroups", "handlers read the group back"),
        ("logs:DeleteLogGroup", "delete with the project"),
        ("logs:PutRetentionPolicy", "retention"),
        ("logs:TagResource", "project tags"),
        ("logs:UntagResource", "tag changes on update"),
        ("logs:ListTagsForResource", "the update handler reads tags"),
        ("logs:AssociateKmsKey", "the update handler sets the key"),
        ("logs:GetDataProtectionPolicy", "the handlers read the (absent) data protection policy"),
        ("logs:DeleteDataProtectionPolicy", "the delete handler removes any data protection policy"),
        ("logs:DescribeResourcePolicies", "the create handler reads resource policies"),
        ("logs:DescribeIndexPolicies", "the handlers read the (absent) field index policies"),
    ),
}

CODECOMMIT_REPOSITORY = "AWS::CodeCommit::Repository"


def launch_permissions(config: Config) -> dict[str, tuple[tuple[str, str], ...]]:
    """The per-type table for the resource types this configuration's project template creates.

    With CodeConnections there is no repository to create, and a launch role that could still
    create CodeCommit repositories would grant more than the product uses.
    """
    if config.uses_codecommit:
        return dict(LAUNCH_PERMISSIONS)
    return {kind: entries for kind, entries in LAUNCH_PERMISSIONS.items() if kind != CODECOMMIT_REPOSITORY}


# The pipeline handler passes a connection source's connection to the pipeline it creates or
# updates: an action on the connection, not on the pipeline, so outside the per-type table. The
# provider schema lists codestar-connections:PassConnection; the service's 2024 prefix names the
# same permission codeconnections:PassConnection (IAM's action catalogue lists both).
CONNECTION_LAUNCH_ACTIONS = {
    "codestar-connections:PassConnection": "the pipeline handler passes the source connection (provider schema)",
    "codeconnections:PassConnection": "the same permission under the service's current prefix",
}


# Resource ARNs each type's actions act on.
def launch_resources(config: Config, resource_type: str) -> list[str]:
    scope = Scope(config)
    return {
        "AWS::S3::Bucket": [scope.bucket()],
        "AWS::S3::BucketPolicy": [scope.bucket()],
        "AWS::SageMaker::ModelPackageGroup": [scope.sagemaker("model-package-group")],
        "AWS::CodeCommit::Repository": [scope.codecommit()],
        "AWS::CodeBuild::Project": [scope.codebuild()],
        "AWS::CodePipeline::Pipeline": [scope.codepipeline()],
        "AWS::Events::Rule": [scope.event_rule()],
        "AWS::Logs::LogGroup": [
            f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:/aws/codebuild/{scope.glob}",
            f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:/aws/codebuild/{scope.glob}:*",
        ],
    }[resource_type]


# Actions without resource-level permissions: granted on "*".
UNSCOPED_LAUNCH_ACTIONS = {
    "codecommit:ListRepositories": "list actions have no resource-level permissions",
    "logs:DescribeLogGroups": "describe actions have no resource-level permissions",
    "logs:DescribeResourcePolicies": "describe actions have no resource-level permissions",
    "logs:DescribeIndexPolicies": "describe actions have no resource-level permissions",
}
# Actions a handler calls on another resource than the one it provisions: resource to use.
FOREIGN_LAUNCH_ACTIONS = {
    "iam:GetRole": lambda scope: [scope.role("codepipeline")],  # the pipeline handler reads its role
}


# Service Catalog provisions from its own copy of the project template, in a bucket the service
# owns, read with the launch role; the copy carries this tag. Service Catalog administrator
# guide, "Launch constraints": the launch role needs s3:GetObject on "*" with exactly this condition.
SERVICE_CATALOG_COPY_TAG = "servicecatalog:provisioning"
SERVICE_CATALOG_COPY_URL = "https://docs.aws.amazon.com/servicecatalog/latest/adminguide/constraints-launch.html"


def launch_policy(config: Config, seed_code_objects_sub: str) -> PolicyDocument:
    """The Service Catalog launch constraint: provision, update and terminate projects."""
    scope = Scope(config)
    statements = [
        Statement(
            Sid="AllowServiceCatalogStackOperations",
            Effect=Allow,
            Action=[cloudformation.CreateStack, cloudformation.UpdateStack,
                    cloudformation.DeleteStack, cloudformation.DescribeStacks,
                    cloudformation.DescribeStackEvents, cloudformation.SetStackPolicy],
            Resource=[f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/SC-*"],
        ),
        Statement(
            # Neither action has resource-level permissions.
            Sid="AllowTemplateInspection",
            Effect=Allow,
            Action=[cloudformation.GetTemplateSummary, cloudformation.ValidateTemplate],
            Resource=["*"],
        ),
        Statement(
            Sid="AllowReadingServiceCatalogsCopyOfTheTemplate",
            Effect=Allow,
            Action=[s3.GetObject],
            Resource=["*"],
            Condition=Condition(StringEquals(f"s3:ExistingObjectTag/{SERVICE_CATALOG_COPY_TAG}", "true")),
        ),
        Statement(
            # CodeCommit reads the seed zips (Code.S3) with the credentials of the stack's caller.
            Sid="AllowReadingPublishedSeedCode",
            Effect=Allow,
            Action=[s3.GetObject, s3.GetObjectVersion],
            Resource=[seed_code_objects_sub],
        ),
        Statement(
            Sid="AllowResolvingProductParameters",
            Effect=Allow,
            Action=[ssm.GetParameters, ssm.GetParameter],
            Resource=[scope.parameters()],
        ),
    ]
    unscoped = []
    for resource_type, entries in launch_permissions(config).items():
        special = UNSCOPED_LAUNCH_ACTIONS.keys() | FOREIGN_LAUNCH_ACTIONS.keys()
        scoped = [a for a, _ in entries if a not in special]
        unscoped += [a for a, _ in entries if a in UNSCOPED_LAUNCH_ACTIONS]
        pinned = {"Condition": in_this_account()} if resource_type.startswith("AWS::S3::") else {}
        statements.append(
            Statement(
                Sid=f"AllowProvisioning{resource_type.split('::', 1)[1].replace('::', '')}",
                Effect=Allow,
                Action=[Action(*a.split(":")) for a in scoped],
                Resource=launch_resources(config, resource_type),
                **pinned,
            )
        )
    statements += [
        *[
            Statement(
                Sid=f"AllowHandlersTo{_sid(action.split(':')[1])}",
                Effect=Allow,
                Action=[Action(*action.split(":"))],
                Resource=resources(scope),
            )
            for action, resources in sorted(FOREIGN_LAUNCH_ACTIONS.items())
        ],
        *(
            []
            if config.uses_codecommit
            else [
                Statement(
                    Sid="AllowPassingThisAccountsConnectionsToPipelines",
                    Effect=Allow,
                    Action=[Action(*a.split(":")) for a in CONNECTION_LAUNCH_ACTIONS],
                    Resource=scope.connections(),
                )
            ]
        ),
        Statement(
            Sid="AllowListingForHandlers",
            Effect=Allow,
            Action=[Action(*a.split(":")) for a in sorted(set(unscoped))],
            Resource=["*"],
        ),
        _pass_role(scope, "codebuild", "codebuild.amazonaws.com"),
        _pass_role(scope, "codepipeline", "codepipeline.amazonaws.com"),
        _pass_role(scope, "events", "events.amazonaws.com"),
    ]
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def seed_code_key_policy(key_arn_sub: str) -> PolicyDocument:
    """Decrypting seed zips published with ``publish --kms-key-id``, only as S3 reads them."""
    return _document(
        Statement(
            Sid="AllowDecryptingSeedCodeThroughS3",
            Effect=Allow,
            Action=[kms.Decrypt],
            Resource=[key_arn_sub],
            Condition=Condition(StringEquals("kms:ViaService", f"s3.{REGION}.amazonaws.com")),
        )
    )


# ---- the team's people -----------------------------------------------------------------------

# Services whose resources carry the team tag: acting on another team's is refused.
TEAM_TAGGED_SERVICES = ("sagemaker", "codepipeline", "codebuild", "events", "logs")


def studio_user_policy(config: Config, key_arn_sub: str) -> PolicyDocument:
    """For the Studio execution roles of this team's people (output ``StudioUserPolicyArn``).

    With AWS's AmazonSageMakerFullAccess a Studio role may do almost anything in SageMaker and
    pass any role to it. This policy adds what that managed policy lacks for the team's own
    projects (their bucket and key) and refuses what it allows across the team boundary:
    passing another team's roles, acting on another team's tagged resources, approving model
    versions outside the team or without being a designated approver, re-labelling the team tag.
    """
    scope = Scope(config)
    team = tagging.team(config)
    other_team = Condition([
        Null(f"aws:ResourceTag/{tagging.TEAM_TAG}", "false"),
        StringNotEquals(f"aws:ResourceTag/{tagging.TEAM_TAG}", team),
    ])
    approving = StringEquals("sagemaker:ModelApprovalStatus", "Approved")
    return _document(
        Statement(
            Sid="AllowTeamProjectData",
            Effect=Allow,
            Action=[s3.GetObject, s3.GetObjectVersion, s3.PutObject, s3.DeleteObject,
                    s3.AbortMultipartUpload, s3.ListBucket, s3.GetBucketLocation],
            Resource=[scope.bucket(), scope.objects()],
            Condition=in_this_account(),
        ),
        Statement(
            # The key policy admits team-tagged principals through S3 and SageMaker only.
            Sid="AllowTeamKeyThroughS3AndSageMaker",
            Effect=Allow,
            Action=[a for a in KEY_USE_ACTIONS if a != kms.DescribeKey],
            Resource=[key_arn_sub],
            Condition=Condition(StringLike("kms:ViaService", key_via_services(("s3", "sagemaker")))),
        ),
        Statement(
            Sid="DenyPassingOtherTeamsRoles",
            Effect=Deny,
            Action=[iam.PassRole],
            Resource=["*"],
            Condition=Condition([
                Null(f"iam:ResourceTag/{tagging.TEAM_TAG}", "false"),
                StringNotEquals(f"iam:ResourceTag/{tagging.TEAM_TAG}", team),
            ]),
        ),
        Statement(
            Sid="DenyActingOnOtherTeamsResources",
            Effect=Deny,
            Action=[Action(service, "*") for service in
                    (*TEAM_TAGGED_SERVICES, *(["codecommit"] if config.uses_codecommit else []))],
            Resource=["*"],
            Condition=other_team,
        ),
        Statement(
            # Group names are the only thing a model version's ARN says about its team.
            Sid="DenyApprovingModelVersionsOutsideTheTeam",
            Effect=Deny,
            Action=[sagemaker.UpdateModelPackage, sagemaker.CreateModelPackage],
            NotResource=[scope.sagemaker("model-package", scope.glob + "/*")],
            Condition=Condition(approving),
        ),
        Statement(
            Sid="DenyApprovingUnlessADesignatedApprover",
            Effect=Deny,
            Action=[sagemaker.UpdateModelPackage, sagemaker.CreateModelPackage],
            Resource=["*"],
            Condition=Condition([approving, StringNotEquals(f"aws:PrincipalTag/{tagging.APPROVER_TAG}", "true")]),
        ),
        Statement(
            Sid="DenyRelabellingTheTeamTag",
            Effect=Deny,
            Action=[sagemaker.DeleteTags, iam.TagRole, iam.UntagRole, iam.TagUser, iam.UntagUser],
            Resource=["*"],
            Condition=Condition(ForAnyValueStringEqualsIgnoreCase("aws:TagKeys", [tagging.TEAM_TAG])),
        ),
        Statement(
            Sid="DenyRetaggingResourcesIntoAnotherTeam",
            Effect=Deny,
            Action=[sagemaker.AddTags],
            Resource=["*"],
            Condition=Condition([
                ForAnyValueStringEqualsIgnoreCase("aws:TagKeys", [tagging.TEAM_TAG]),
                StringNotEquals(f"aws:RequestTag/{tagging.TEAM_TAG}", team),
            ]),
        ),
    )


def runtime_policy(config: Config, purpose: str, key_arn_sub: str) -> PolicyDocument:
    builders = {
        "codebuild": codebuild_policy,
        "codepipeline": codepipeline_policy,
        "cloudformation": cloudformation_policy,
        "sagemaker": sagemaker_policy,
    }
    if purpose == "events":
        return events_policy(config)
    return builders[purpose](config, key_arn_sub)


# IAM policy variables (``${aws:ResourceTag/env}``): Fn::Sub would read them as its own.
_POLICY_VARIABLE = re.compile(r"\$\{(aws|sagemaker|s3|kms):")


def to_cfn(document: PolicyDocument) -> dict:
    """The policy as template data: every string naming a pseudo parameter becomes Fn::Sub.

    awacs builds plain strings; CloudFormation needs Fn::Sub around `${AWS::Partition}` and
    friends. An IAM policy variable inside such a string is escaped (`${!aws:...}`) so it
    reaches IAM as written; a string with policy variables only stays a plain string.
    """

    def convert(value):
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, str) and "${" in value:
            escaped = _POLICY_VARIABLE.sub(lambda m: "${!" + m.group(1) + ":", value)
            return {"Fn::Sub": escaped} if "${" in escaped.replace("${!", "") else value
        return value

    return convert(json.loads(document.to_json()))

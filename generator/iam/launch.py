"""The Service Catalog launch role: provision, update and terminate the team's projects.

Derived from data: ``generator/data/iam_launch.yaml`` picks, per resource type of the project
template, actions from the handler permissions of the type's provider schema, each with its
reason. The launch role carries no tag guardrail: it creates no guarded resource and must be able
to update tags on the model package group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from awacs import cloudformation, kms, s3, ssm
from awacs.aws import ArnEquals, Condition, PolicyDocument, Statement, StringEquals, StringEqualsIfExists

from generator import naming, tagging
from generator.config import Config
from generator.iam.guardrail import tag_guardrail_documents
from generator.iam.scopes import REGION, Scope, arn, in_this_account
from generator.iam.statements import ANYWHERE, actions, allow, document, sid
from generator.iam.tables import read, reasons, reasons_by_type
from generator.iam.trust import pass_role

if TYPE_CHECKING:  # generator.sources imports this package: the provider is passed in
    from generator.sources.base import Source

_TABLES = read("iam_launch.yaml")
_WHERE = "iam_launch.yaml"

# Per resource type of the project template: `(action, reason)` pairs in policy order.
LAUNCH_PERMISSIONS: dict[str, tuple[tuple[str, str], ...]] = {
    kind: tuple(entries.items()) for kind, entries in reasons_by_type(_TABLES["permissions"], _WHERE).items()
}
# Actions without resource-level permissions: granted on "*".
UNSCOPED_LAUNCH_ACTIONS: dict[str, str] = reasons(_TABLES["unscoped_actions"], _WHERE)
# Passing a connection source's connection to the pipeline (granted by sources.connections).
CONNECTION_LAUNCH_ACTIONS: dict[str, str] = reasons(_TABLES["connection_actions"], _WHERE)

# Actions a handler calls on another resource than the one it provisions: resource to use.
FOREIGN_LAUNCH_ACTIONS = {
    "iam:GetRole": lambda scope: [scope.role("codepipeline")],  # the pipeline handler reads its role
}

# Service Catalog provisions from its own copy of the project template, in a bucket the service
# owns, read with the launch role; the copy carries this tag. Service Catalog administrator
# guide, "Launch constraints": the launch role needs s3:GetObject on "*" with exactly this condition.
SERVICE_CATALOG_COPY_TAG = "servicecatalog:provisioning"
SERVICE_CATALOG_COPY_URL = "https://docs.aws.amazon.com/servicecatalog/latest/adminguide/constraints-launch.html"


def launch_resources(config: Config, source: type[Source]) -> dict[str, list[str]]:
    """The resource types the project stack creates, each with the ARNs its actions act on:
    those of every project, then the source provider's (``Source.launch_resources``)."""
    scope = Scope(config)
    return {
        "AWS::S3::Bucket": [scope.bucket()],
        "AWS::S3::BucketPolicy": [scope.bucket()],
        "AWS::SageMaker::ModelPackageGroup": [scope.sagemaker("model-package-group")],
        "AWS::CodeBuild::Project": [scope.codebuild()],
        "AWS::CodePipeline::Pipeline": [scope.codepipeline()],
        "AWS::Events::Rule": [scope.event_rule()],
        "AWS::Logs::LogGroup": [scope.build_log_group(), scope.build_log_group() + ":*"],
        "AWS::IAM::Role": [scope.role("*")],
        **source.launch_resources(scope),
    }


def launch_permissions(config: Config, source: type[Source]) -> dict[str, tuple[tuple[str, str], ...]]:
    """The per-type table for the resource types this configuration's project template creates.

    A launch role that could create a type the project does not (CodeCommit repositories with a
    CodeConnections source) would grant more than the product uses.
    """
    created = launch_resources(config, source)
    return {kind: entries for kind, entries in LAUNCH_PERMISSIONS.items() if kind in created}


def launch_policy(config: Config, seed_code_objects_sub: str, source: type[Source]) -> PolicyDocument:
    """The Service Catalog launch constraint: provision, update and terminate projects."""
    scope = Scope(config)
    return document(
        *_product_statements(scope, seed_code_objects_sub),
        *_provisioning_statements(config, source),
        *[
            allow(f"AllowHandlersTo{sid(action.split(':')[1])}", actions([action]), resources(scope))
            for action, resources in sorted(FOREIGN_LAUNCH_ACTIONS.items())
        ],
        *source.launch_grants(scope),
        allow("AllowListingForHandlers", actions(sorted(_unscoped_actions(config, source))), ANYWHERE),
        pass_role(scope, "codebuild"),
        pass_role(scope, "codepipeline"),
        pass_role(scope, "events"),
    )


def _product_statements(scope: Scope, seed_code_objects_sub: str) -> list[Statement]:
    """Running the product's stack and reading what it is made from."""
    return [
        allow(
            "AllowServiceCatalogStackOperations",
            [
                cloudformation.CreateStack,
                cloudformation.UpdateStack,
                cloudformation.DeleteStack,
                cloudformation.DescribeStacks,
                cloudformation.DescribeStackEvents,
                cloudformation.SetStackPolicy,
            ],
            [arn("cloudformation", "stack/SC-*")],
        ),
        # Neither action has resource-level permissions.
        allow(
            "AllowTemplateInspection", [cloudformation.GetTemplateSummary, cloudformation.ValidateTemplate], ANYWHERE
        ),
        allow(
            "AllowReadingServiceCatalogsCopyOfTheTemplate",
            [s3.GetObject],
            ANYWHERE,
            StringEquals(f"s3:ExistingObjectTag/{SERVICE_CATALOG_COPY_TAG}", "true"),
        ),
        # CodeCommit reads the seed zips (Code.S3) with the credentials of the stack's caller.
        allow("AllowReadingPublishedSeedCode", [s3.GetObject, s3.GetObjectVersion], [seed_code_objects_sub]),
        allow("AllowResolvingProductParameters", [ssm.GetParameters, ssm.GetParameter], [scope.parameters()]),
    ]


# Role writes that IAM lets a policy tie to the role's permissions boundary.
BOUNDED_ROLE_ACTIONS = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:DeleteRole",
)
_POLICY_ATTACHMENT = ("iam:AttachRolePolicy", "iam:DetachRolePolicy")


def _project_role_statements(config: Config, entries: tuple[tuple[str, str], ...]) -> list[Statement]:
    """The project stack creates its own roles: under the team's path, only with the team's
    boundary, the team tag's own value, and no managed policy but the product's guardrail."""
    roles = [Scope(config).role("*")]
    bounded = StringEquals("iam:PermissionsBoundary", naming.boundary_policy_arn(config))
    team_tag = f"aws:RequestTag/{tagging.TEAM_TAG}"
    guardrails = naming.guardrail_policy_arns(config, len(tag_guardrail_documents(config)))
    names = [action for action, _ in entries]
    return [
        allow(
            "AllowCreatingProjectRolesUnderTheTeamBoundary",
            actions(a for a in names if a in BOUNDED_ROLE_ACTIONS and a not in _POLICY_ATTACHMENT),
            roles,
            Condition([bounded, StringEqualsIfExists(team_tag, tagging.team(config))]),
        ),
        allow(
            "AllowAttachingOnlyTheTagGuardrailToProjectRoles",
            actions(a for a in names if a in _POLICY_ATTACHMENT),
            roles,
            Condition([bounded, ArnEquals("iam:PolicyARN", guardrails)]),
        ),
        allow(
            "AllowReadingAndTaggingProjectRoles",
            actions(a for a in names if a not in BOUNDED_ROLE_ACTIONS),
            roles,
            StringEqualsIfExists(team_tag, tagging.team(config)),
        ),
    ]


def _provisioning_statements(config: Config, source: type[Source]) -> list[Statement]:
    """One statement per resource type, on that type's ARNs; buckets pinned to this account."""
    special = UNSCOPED_LAUNCH_ACTIONS.keys() | FOREIGN_LAUNCH_ACTIONS.keys()
    resources = launch_resources(config, source)
    table = launch_permissions(config, source)
    roles = _project_role_statements(config, table.pop("AWS::IAM::Role", ()))
    return roles + [
        allow(
            f"AllowProvisioning{resource_type.split('::', 1)[1].replace('::', '')}",
            actions(a for a, _ in entries if a not in special),
            resources[resource_type],
            *([in_this_account()] if resource_type.startswith("AWS::S3::") else []),
        )
        for resource_type, entries in table.items()
    ]


def _unscoped_actions(config: Config, source: type[Source]) -> set[str]:
    table = launch_permissions(config, source)
    return {a for entries in table.values() for a, _ in entries if a in UNSCOPED_LAUNCH_ACTIONS}


def seed_code_key_policy(key_arn_sub: str) -> PolicyDocument:
    """Decrypting seed zips published with ``publish --kms-key-id``, only as S3 reads them."""
    return document(
        allow(
            "AllowDecryptingSeedCodeThroughS3",
            [kms.Decrypt],
            [key_arn_sub],
            StringEquals("kms:ViaService", f"s3.{REGION}.amazonaws.com"),
        )
    )

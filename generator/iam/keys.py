"""The team's customer-managed key: who administers it, who uses it and through which services.

The action lists are written here once; the key policy, the roles' policies and the Studio user
policy all take them from here.
"""

from __future__ import annotations

from awacs import kms
from awacs.aws import (
    Allow,
    ArnLike,
    Bool,
    BoolIfExists,
    Policy,
    Principal,
    Statement,
    StringEquals,
    StringLike,
)
from troposphere import Sub

from generator import naming, tagging
from generator.config import Config
from generator.iam.scopes import REGION, Scope
from generator.iam.statements import ANYWHERE, allow, deny
from generator.iam.trust import RUNTIME_ROLES

# Reading and writing data with the key.
KEY_CRYPTO_ACTIONS = (
    kms.Encrypt,
    kms.Decrypt,
    kms.ReEncryptFrom,
    kms.ReEncryptTo,
    kms.GenerateDataKey,
    kms.GenerateDataKeyWithoutPlaintext,
)
# Using the key: its data operations, and checking the key before naming it in a resource.
KEY_USE_ACTIONS = (*KEY_CRYPTO_ACTIONS, kms.DescribeKey)
# What the key policy never delegates to the account's IAM policies: reading and writing data.
KEY_DATA_ACTIONS = (
    *KEY_CRYPTO_ACTIONS,
    kms.GenerateDataKeyPair,
    kms.GenerateDataKeyPairWithoutPlaintext,
    kms.CreateGrant,
)
# Key administration without the ability to use the key for data.
KEY_ADMIN_ACTIONS = (
    kms.CreateAlias,
    kms.UpdateAlias,
    kms.DeleteAlias,
    kms.DescribeKey,
    kms.EnableKey,
    kms.DisableKey,
    kms.EnableKeyRotation,
    kms.DisableKeyRotation,
    kms.GetKeyPolicy,
    kms.GetKeyRotationStatus,
    kms.RotateKeyOnDemand,
    kms.ListKeyPolicies,
    kms.ListResourceTags,
    kms.ListGrants,
    kms.RevokeGrant,
    kms.TagResource,
    kms.UntagResource,
    kms.UpdateKeyDescription,
    kms.ScheduleKeyDeletion,
    kms.CancelKeyDeletion,
)
# The services through which the runtime roles use the key.
KEY_VIA_SERVICES = ("s3", "sagemaker", "sns", "codebuild", "codepipeline", "logs")
# The services through which the team's people use it (the key policy and the Studio user policy).
TEAM_VIA_SERVICES = ("s3", "sagemaker")


def key_via_services(services: tuple[str, ...] = KEY_VIA_SERVICES) -> list[str]:
    return [f"{service}.{REGION}.amazonaws.com" for service in services]


def for_aws_resources() -> Bool:
    """A grant that attaches the key to an AWS resource (a job volume, an endpoint instance)."""
    return Bool("kms:GrantIsForAWSResource", "true")


# ---- the roles' side ---------------------------------------------------------------------------


def key_use(key_arn_sub: str, *, grants: bool = False) -> list[Statement]:
    """A runtime role's use of the key (``key_arn_sub`` references the product's key)."""
    statements = [
        # Only as the storing service asks: a role's credentials used outside S3, SageMaker,
        # SNS, CodeBuild, CodePipeline or Logs (a build's own code calling KMS) decrypt nothing.
        allow(
            "AllowUseOfProjectKeyThroughProjectServices",
            KEY_CRYPTO_ACTIONS,
            [key_arn_sub],
            StringLike("kms:ViaService", key_via_services()),
        ),
        # Handlers check the key before they name it in a resource (no data access).
        allow("AllowDescribingProjectKey", [kms.DescribeKey], [key_arn_sub]),
    ]
    if grants:
        # SageMaker attaches the key to job volumes and endpoint instances through grants
        # created with the caller's identity.
        statements.append(
            allow("AllowGrantsOnProjectKeyForAwsResources", [kms.CreateGrant], [key_arn_sub], for_aws_resources())
        )
    return statements


# ---- the key policy --------------------------------------------------------------------------


def key_policy(config: Config, administrator: object) -> Policy:
    """The key policy of the product's key; ``administrator`` is the key administrator parameter.

    The project roles do not exist when the key is made (each project stack creates its own), so
    the policy names them by their IAM path: only the launch role can create roles there, and only
    under the team's permissions boundary.
    """
    return Policy(
        Version="2012-10-17",
        Statement=[
            *_account_statements(config),
            allow(
                "AllowKeyAdministrationWithoutDataAccess",
                KEY_ADMIN_ACTIONS,
                ANYWHERE,
                principal=Principal("AWS", administrator),
            ),
            *_role_statements(config),
            # Only grants that attach the key to an AWS resource (job volumes, endpoint
            # instances): a grant to a principal would be a way around this policy.
            deny(
                "DenyGrantsNotForAwsResources",
                [kms.CreateGrant],
                BoolIfExists("kms:GrantIsForAWSResource", "false"),
                principal=Principal("AWS", "*"),
            ),
            _logs_statement(Scope(config)),
        ],
    )


def _account_statements(config: Config) -> list[Statement]:
    account_root = Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"))
    team_principal = StringEquals(f"aws:PrincipalTag/{tagging.TEAM_TAG}", tagging.team(config))
    return [
        Statement(
            # Without it nobody could repair the key policy if the administrator is gone.
            # Administration only: data use is never delegated to the account's IAM
            # policies, so a principal of the account whose identity policy allows kms:*
            # (a job role with a broad managed policy) still cannot decrypt.
            Sid="EnableIamPoliciesOfThisAccountForAdministration",
            Effect=Allow,
            Principal=account_root,
            NotAction=list(KEY_DATA_ACTIONS),
            Resource=list(ANYWHERE),
        ),
        # The team's people (their Studio roles carry the team tag) read and write the
        # projects' data, as S3 and SageMaker do it for them; their identity policy
        # (the product's Studio user policy) must allow it too.
        allow(
            "AllowTeamPrincipalsThroughS3AndSageMaker",
            KEY_USE_ACTIONS,
            ANYWHERE,
            team_principal,
            StringLike("kms:ViaService", _subs(key_via_services(TEAM_VIA_SERVICES))),
            principal=account_root,
        ),
        allow(
            "AllowTeamPrincipalsToGrantKeyToAwsResources",
            [kms.CreateGrant],
            ANYWHERE,
            team_principal,
            for_aws_resources(),
            principal=account_root,
        ),
    ]


def _role_statements(config: Config) -> list[Statement]:
    account_root = Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"))

    def roles(*purposes: str) -> ArnLike:
        return ArnLike("aws:PrincipalArn", [Sub(naming.team_role_arn_pattern(config, p)) for p in purposes])

    # The events role starts pipelines and stores nothing: it never touches the key.
    return [
        allow(
            "AllowProjectRolesThroughProjectServices",
            KEY_USE_ACTIONS,
            ANYWHERE,
            roles(*(purpose for purpose in RUNTIME_ROLES if purpose != "events")),
            StringLike("kms:ViaService", _subs(key_via_services())),
            principal=account_root,
        ),
        # SageMaker attaches the key to job volumes and endpoint instances by grant.
        allow(
            "AllowProjectRolesToGrantKeyToAwsResources",
            [kms.CreateGrant, kms.ListGrants, kms.RevokeGrant],
            ANYWHERE,
            roles("cloudformation", "sagemaker"),
            for_aws_resources(),
            principal=account_root,
        ),
    ]


def _subs(patterns: list[str]) -> list[Sub]:
    # The key policy is a troposphere property, not an awacs document run through to_cfn.
    return [Sub(pattern) for pattern in patterns]


def _logs_statement(scope: Scope) -> Statement:
    # The statement CloudWatch Logs documents for encrypted log groups, limited to the
    # projects' build log groups ("Encrypt log data in CloudWatch Logs using AWS KMS":
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
    return allow(
        "AllowCloudWatchLogsForProjectBuildLogs",
        [kms.Action(pattern) for pattern in ("Encrypt*", "Decrypt*", "ReEncrypt*", "GenerateDataKey*", "Describe*")],
        ANYWHERE,
        ArnLike("kms:EncryptionContext:aws:logs:arn", Sub(scope.build_log_group())),
        principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
    )

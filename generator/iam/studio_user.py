"""The team's people: the policy for their Studio execution roles (output ``StudioUserPolicyArn``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from awacs import codebuild, iam, s3, sagemaker
from awacs.aws import (
    Action,
    Condition,
    Deny,
    ForAnyValueStringEqualsIgnoreCase,
    Null,
    PolicyDocument,
    Statement,
    StringEquals,
    StringLike,
    StringNotEquals,
)

from generator import tagging
from generator.config import Config
from generator.iam.keys import KEY_CRYPTO_ACTIONS, TEAM_VIA_SERVICES, key_via_services
from generator.iam.scopes import Scope, in_this_account
from generator.iam.statements import allow, deny, document

if TYPE_CHECKING:  # generator.sources imports this package: the provider is passed in
    from generator.sources.base import Source

# Services whose resources carry the team tag: acting on another team's is refused. The source
# provider adds its own (``Source.team_tagged_services``: CodeCommit's repositories).
TEAM_TAGGED_SERVICES = ("sagemaker", "codepipeline", "codebuild", "events", "logs")


def studio_user_policy(config: Config, key_arn_sub: str, source: type[Source]) -> PolicyDocument:
    """For the Studio execution roles of this team's people.

    With AWS's AmazonSageMakerFullAccess a Studio role may do almost anything in SageMaker and
    pass any role to it. This policy adds what that managed policy lacks for the team's own
    projects (their bucket and key) and refuses what it allows across the team boundary:
    passing another team's roles, acting on another team's tagged resources, approving model
    versions outside the team or without being a designated approver, re-labelling the team tag.
    """
    scope = Scope(config)
    return document(
        allow(
            "AllowTeamProjectData",
            [
                s3.GetObject,
                s3.GetObjectVersion,
                s3.PutObject,
                s3.DeleteObject,
                s3.AbortMultipartUpload,
                s3.ListBucket,
                s3.GetBucketLocation,
            ],
            [scope.bucket(), scope.objects()],
            in_this_account(),
        ),
        # The key policy admits team-tagged principals through S3 and SageMaker only.
        allow(
            "AllowTeamKeyThroughS3AndSageMaker",
            KEY_CRYPTO_ACTIONS,
            [key_arn_sub],
            StringLike("kms:ViaService", key_via_services(TEAM_VIA_SERVICES)),
        ),
        # The seed notebook reads the project's settings (role, bucket, key, instance types) from
        # its model build project's environment, as the pipeline runs with them.
        allow("AllowReadingTheTeamsBuildSettings", [codebuild.BatchGetProjects], [scope.codebuild()]),
        *_team_boundary(config, source),
        *_approval(scope),
        *_team_tag(config),
    )


def _team_boundary(config: Config, source: type[Source]) -> list[Statement]:
    """Nothing of another team's: neither its roles nor its tagged resources."""
    team = tagging.team(config)

    def tagged_by_another_team(key: str) -> tuple:
        return Null(f"{key}/{tagging.TEAM_TAG}", "false"), StringNotEquals(f"{key}/{tagging.TEAM_TAG}", team)

    services = (*TEAM_TAGGED_SERVICES, *source.team_tagged_services)
    return [
        deny("DenyPassingOtherTeamsRoles", [iam.PassRole], *tagged_by_another_team("iam:ResourceTag")),
        deny(
            "DenyActingOnOtherTeamsResources",
            [Action(service, "*") for service in services],
            *tagged_by_another_team("aws:ResourceTag"),
        ),
    ]


def _approval(scope: Scope) -> list[Statement]:
    """Approving a model version: only as a designated approver, only in the team's groups."""
    approving = StringEquals("sagemaker:ModelApprovalStatus", "Approved")
    approval_actions = [sagemaker.UpdateModelPackage, sagemaker.CreateModelPackage]
    return [
        Statement(
            # Group names are the only thing a model version's ARN says about its team.
            Sid="DenyApprovingModelVersionsOutsideTheTeam",
            Effect=Deny,
            Action=approval_actions,
            NotResource=[scope.model_packages()],
            Condition=Condition(approving),
        ),
        deny(
            "DenyApprovingUnlessADesignatedApprover",
            approval_actions,
            approving,
            StringNotEquals(f"aws:PrincipalTag/{tagging.APPROVER_TAG}", "true"),
        ),
    ]


def _team_tag(config: Config) -> list[Statement]:
    """The team tag stays what the platform team set."""
    team_tag_key = ForAnyValueStringEqualsIgnoreCase("aws:TagKeys", [tagging.TEAM_TAG])
    return [
        deny(
            "DenyRelabellingTheTeamTag",
            [sagemaker.DeleteTags, iam.TagRole, iam.UntagRole, iam.TagUser, iam.UntagUser],
            team_tag_key,
        ),
        deny(
            "DenyRetaggingResourcesIntoAnotherTeam",
            [sagemaker.AddTags],
            team_tag_key,
            StringNotEquals(f"aws:RequestTag/{tagging.TEAM_TAG}", tagging.team(config)),
        ),
    ]

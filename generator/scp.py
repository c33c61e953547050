"""The organisation's service control policy: the team boundary for principals we do not control.

The product's Studio user policy (``iam.studio_user_policy``) draws the team boundary for the
people whose Studio roles carry it. An organisation also has people whose roles do not (an older
execution role, a role made by hand, an administrator of the account), and AWS's
AmazonSageMakerFullAccess lets any of them pass any role to SageMaker and act on every SageMaker
resource of the account. This SCP draws the same boundary for every principal of every member
account it is attached to, for all teams at once: it compares the caller's team tag
(``aws:PrincipalTag/mlops:team``, set by the platform team) with the team tag of what it acts on,
through an IAM policy variable, so one document serves every team and names none.

What it refuses, each in a statement whose Sid says so:

- passing or re-tagging a role of another team (``iam:PassRole``, ``iam:TagRole``;
  ``iam:ResourceTag``);
- acting on another team's SageMaker, CodePipeline, CodeBuild and CodeCommit resources
  (``aws:ResourceTag``). Not S3: objects carry no team tag, and bucket tags are a condition key
  only on buckets with attribute-based access turned on; the project bucket's own policy
  (``encryption.bucket_policy_document``) admits only the team's principals;
- changing the team tag of a principal (IAM users, sessions, removing it from roles), which would
  move it into another team, and removing a resource's team tag (which would take it out of every
  team's boundary);
- tagging a role or resource into another team: a role is created (or tagged) only into the
  caller's own team, which is how each team's launch role creates its projects' roles.

A caller without the team tag compares as ``NO_TEAM``, a value no tag can have: it is refused on
every team-tagged resource and cannot set the team tag at all. (IAM already treats a policy
variable with no value as unequal to everything, so ``StringNotEquals`` matches; the default
value says so in the document and makes every reading of it agree, the test engine's included.)

Two kinds of principal are exempt, by ``aws:PrincipalArn``: the platform administrators
(``PLATFORM_ADMIN_ROLE_ARN``, who create the product stacks, tag the people's roles and tear
projects down) and AWS service-linked roles (SCPs do not restrict them; the exemption keeps the
document correct where a tool evaluates it as if they did). Because the first exemption goes by
role name, only a platform administrator may create, re-trust or re-permission a role matching
it (``DenyClaimingThePlatformAdminRoles``); the first such role is made from the management
account (which SCPs do not restrict) or before the SCP is attached. IAM reserves the
``/aws-service-role/`` path for AWS. Untagged resources are not touched.

The build checks the document's grammar and size (``validation.check_policy``: at most
5,120 characters, counted as written, since the CLI and SDKs do not strip whitespace).
"""

from __future__ import annotations

from collections.abc import Sequence

from awacs import codecommit, codepipeline, iam, sagemaker, sts
from awacs.aws import (
    Action,
    ArnNotLike,
    Condition,
    ConditionElement,
    Deny,
    ForAnyValueStringEqualsIgnoreCase,
    Null,
    PolicyDocument,
    Statement,
    StringNotEquals,
)

from generator import tagging
from generator.config import Config

# Default: roles named mlops-platform-admin... (no path) in any account of the organisation.
PLATFORM_ADMIN_ROLE_ARN = "arn:*:iam::*:role/mlops-platform-admin*"
SERVICE_LINKED_ROLE_ARN = "arn:*:iam::*:role/aws-service-role/*"

# The team value of a caller without the team tag: parentheses are not in the tag-value alphabet
# of IAM, SageMaker, CodePipeline or CodeCommit, so no resource can carry it.
NO_TEAM = "(none)"
CALLERS_TEAM = f"${{aws:PrincipalTag/{tagging.TEAM_TAG}, '{NO_TEAM}'}}"

# Services whose resources the project tags with the team and whose actions accept
# aws:ResourceTag. Not EventBridge and CloudWatch Logs (iam.TEAM_TAGGED_SERVICES has them for the
# team's own people): organisation-wide logging and monitoring roles act on every log group and
# rule, and refusing them would break those, not the team boundary.
SCP_TEAM_SERVICES = ("codebuild", "codecommit", "codepipeline", "sagemaker")


def _tag_keys_include_team() -> ConditionElement:
    return ForAnyValueStringEqualsIgnoreCase("aws:TagKeys", [tagging.TEAM_TAG])


def organisation_scp(config: Config, platform_admin_arns: Sequence[str] = (PLATFORM_ADMIN_ROLE_ARN,)) -> PolicyDocument:
    """The SCP document: deny statements only, the same for every team (``config`` names none).

    ``platform_admin_arns``: ``aws:PrincipalArn`` patterns (``ArnLike`` syntax) of the platform
    administrators' roles, exempt from every statement.
    """
    if not platform_admin_arns:
        raise ValueError("at least one platform administrator ARN pattern is needed (they tag people's roles)")
    exempt = ArnNotLike("aws:PrincipalArn", [*platform_admin_arns, SERVICE_LINKED_ROLE_ARN])
    team_key = tagging.TEAM_TAG

    def deny(sid: str, actions: list, *conditions: ConditionElement, resources: Sequence[str] = ("*",)) -> Statement:
        return Statement(
            Sid=sid, Effect=Deny, Action=actions, Resource=list(resources), Condition=Condition([*conditions, exempt])
        )

    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            deny(
                "DenyPassingOrRetaggingAnotherTeamsRoles",
                [iam.PassRole, iam.TagRole],
                Null(f"iam:ResourceTag/{team_key}", "false"),
                StringNotEquals(f"iam:ResourceTag/{team_key}", CALLERS_TEAM),
            ),
            deny(
                "DenyActingOnAnotherTeamsResources",
                [Action(service, "*") for service in SCP_TEAM_SERVICES],
                Null(f"aws:ResourceTag/{team_key}", "false"),
                StringNotEquals(f"aws:ResourceTag/{team_key}", CALLERS_TEAM),
            ),
            deny(
                # Creating a user with tags is also authorised as the create call.
                "DenyRelabellingPrincipalsAndRemovingTeamTags",
                [
                    iam.CreateUser,
                    iam.TagUser,
                    iam.UntagRole,
                    iam.UntagUser,
                    sts.TagSession,
                    codecommit.UntagResource,
                    codepipeline.UntagResource,
                    sagemaker.DeleteTags,
                ],
                _tag_keys_include_team(),
            ),
            deny(
                # Into the caller's own team only. Each project stack creates its roles, tagged
                # with its team, as the team's launch role (which carries that tag); IAM authorises
                # CreateRole's tags as iam:TagRole too, and SageMaker a create with tags as AddTags
                # (sagemaker:TaggingAction).
                "DenyTaggingIntoAnotherTeam",
                [iam.CreateRole, iam.TagRole, codecommit.TagResource, codepipeline.TagResource, sagemaker.AddTags],
                _tag_keys_include_team(),
                StringNotEquals(f"aws:RequestTag/{team_key}", CALLERS_TEAM),
            ),
            deny(
                # The exemption goes by role name: nobody else may create such a role, make it
                # trust them, or change what it may do.
                "DenyClaimingThePlatformAdminRoles",
                [
                    iam.AttachRolePolicy,
                    iam.CreateRole,
                    iam.DeleteRole,
                    iam.DeleteRolePermissionsBoundary,
                    iam.DeleteRolePolicy,
                    iam.DetachRolePolicy,
                    iam.PutRolePermissionsBoundary,
                    iam.PutRolePolicy,
                    iam.UpdateAssumeRolePolicy,
                ],
                resources=platform_admin_arns,
            ),
        ],
    )


def build(config: Config) -> PolicyDocument:
    """What ``render`` calls for the policy target (``render.POLICY_TARGETS``)."""
    return organisation_scp(config)

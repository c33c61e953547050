"""The CodePipeline role: the model build and deploy pipelines."""

from __future__ import annotations

from awacs import cloudformation, codebuild, codecommit, codeconnections, codestar_connections
from awacs.aws import PolicyDocument, Statement

from generator.config import Config
from generator.iam.keys import key_use
from generator.iam.scopes import Scope
from generator.iam.statements import ANYWHERE, allow, bucket_read_write, document, no_self_approval
from generator.iam.trust import pass_role


def codepipeline_policy(config: Config, key_arn_sub: str) -> PolicyDocument:
    scope = Scope(config)
    return document(
        *bucket_read_write(scope),
        *key_use(key_arn_sub),
        _source_access(config, scope),
        allow(
            "AllowRunningProjectBuilds",
            [codebuild.StartBuild, codebuild.BatchGetBuilds, codebuild.StopBuild],
            [scope.codebuild()],
        ),
        allow(
            "AllowDeployingProjectStacks",
            [
                cloudformation.CreateStack,
                cloudformation.UpdateStack,
                cloudformation.DeleteStack,
                cloudformation.DescribeStacks,
                cloudformation.DescribeStackEvents,
                cloudformation.CreateChangeSet,
                cloudformation.DescribeChangeSet,
                cloudformation.ExecuteChangeSet,
                cloudformation.DeleteChangeSet,
                cloudformation.SetStackPolicy,
            ],
            [scope.stack()],
        ),
        # ValidateTemplate has no resource-level permissions.
        allow("AllowValidatingTemplates", [cloudformation.ValidateTemplate], ANYWHERE),
        pass_role(scope, "cloudformation"),
        no_self_approval(),
    )


def _source_access(config: Config, scope: Scope) -> Statement:
    """How the pipelines read their source: the project's CodeCommit repositories or a connection."""
    if config.uses_codecommit:
        return allow(
            "AllowReadingProjectRepositories",
            [
                codecommit.GetBranch,
                codecommit.GetCommit,
                codecommit.GetRepository,
                codecommit.UploadArchive,
                codecommit.GetUploadArchiveStatus,
                codecommit.CancelUploadArchive,
            ],
            [scope.codecommit()],
        )
    # The source action fetches the repository as the pipeline role. Since the 2024 rename IAM
    # knows the action under both prefixes; which one CodePipeline checks for a given connection
    # is not observable offline, so both are granted, on connections only.
    return allow(
        "AllowUsingThisAccountsConnectionsForSources",
        [codeconnections.UseConnection, codestar_connections.UseConnection],
        scope.connections(),
    )

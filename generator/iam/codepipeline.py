"""The CodePipeline role: the model build and deploy pipelines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from awacs import cloudformation, codebuild
from awacs.aws import PolicyDocument

from generator.iam.keys import key_use
from generator.iam.scopes import Scope
from generator.iam.statements import ANYWHERE, allow, bucket_read_write, document, no_self_approval
from generator.iam.trust import pass_role

if TYPE_CHECKING:  # generator.sources imports this package: the provider is passed in
    from generator.sources.base import Source


def codepipeline_policy(scope: Scope, key_arn_sub: str, source: type[Source]) -> PolicyDocument:
    """``source`` reads the code: the provider says how (``Source.pipeline_source_statement``)."""
    return document(
        *bucket_read_write(scope),
        *key_use(key_arn_sub),
        source.pipeline_source_statement(scope),
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

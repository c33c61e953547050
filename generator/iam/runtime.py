"""The runtime roles' policies by purpose (the roles that carry the tag guardrail)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from awacs.aws import PolicyDocument

from generator.iam.codebuild import codebuild_policy
from generator.iam.codepipeline import codepipeline_policy
from generator.iam.deploy import cloudformation_policy
from generator.iam.events import events_policy
from generator.iam.sagemaker import sagemaker_policy
from generator.iam.scopes import Scope

if TYPE_CHECKING:  # generator.sources imports this package: the provider is passed in
    from generator.sources.base import Source

_BUILDERS = {
    "codebuild": codebuild_policy,
    "cloudformation": cloudformation_policy,
    "sagemaker": sagemaker_policy,
}


def runtime_policy(scope: Scope, purpose: str, key_arn_sub: str, source: type[Source]) -> PolicyDocument:
    """``scope`` is one project's (its role's policy) or the team's (the boundary);
    ``key_arn_sub`` a Sub string naming the team's key; ``source`` the source provider."""
    if purpose == "events":
        # Starts pipelines and stores nothing: it never uses the key.
        return events_policy(scope)
    if purpose == "codepipeline":
        # The pipelines read the code, from wherever the provider keeps it.
        return codepipeline_policy(scope, key_arn_sub, source)
    return _BUILDERS[purpose](scope, key_arn_sub)

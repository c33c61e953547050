"""The runtime roles' policies by purpose (the roles that carry the tag guardrail)."""

from __future__ import annotations

from awacs.aws import PolicyDocument

from generator.config import Config
from generator.iam.codebuild import codebuild_policy
from generator.iam.codepipeline import codepipeline_policy
from generator.iam.deploy import cloudformation_policy
from generator.iam.events import events_policy
from generator.iam.sagemaker import sagemaker_policy

_BUILDERS = {
    "codebuild": codebuild_policy,
    "codepipeline": codepipeline_policy,
    "cloudformation": cloudformation_policy,
    "sagemaker": sagemaker_policy,
}


def runtime_policy(config: Config, purpose: str, key_arn_sub: str) -> PolicyDocument:
    """``key_arn_sub`` is a Sub string referencing the product's key."""
    if purpose == "events":
        # Starts pipelines and stores nothing: it never uses the key.
        return events_policy(config)
    return _BUILDERS[purpose](config, key_arn_sub)

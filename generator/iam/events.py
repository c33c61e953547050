"""The EventBridge role: the push and approval rules start the project's pipelines."""

from __future__ import annotations

from awacs import codepipeline
from awacs.aws import PolicyDocument

from generator.config import Config
from generator.iam.scopes import Scope
from generator.iam.statements import allow, document


def events_policy(config: Config) -> PolicyDocument:
    # The role stores nothing: no key, no bucket.
    return document(
        allow("AllowStartingProjectPipelines", [codepipeline.StartPipelineExecution], [Scope(config).codepipeline()])
    )

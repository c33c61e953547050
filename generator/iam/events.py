"""The EventBridge role: the push and approval rules start the project's pipelines."""

from __future__ import annotations

from awacs import codepipeline
from awacs.aws import PolicyDocument

from generator.iam.scopes import Scope
from generator.iam.statements import allow, document


def events_policy(scope: Scope) -> PolicyDocument:
    # The role stores nothing: no key, no bucket.
    return document(
        allow("AllowStartingProjectPipelines", [codepipeline.StartPipelineExecution], [scope.codepipeline()])
    )

"""Who may assume each role, and to which service a role may be handed.

Roles are one per service principal (Service Catalog launch, CodeBuild, CodePipeline,
EventBridge, CloudFormation, SageMaker), not one role trusted by ten services.
"""

from __future__ import annotations

from awacs import iam
from awacs.aws import Action, Allow, Condition, PolicyDocument, Principal, Statement, StringEquals

from generator.iam.scopes import ACCOUNT, Scope
from generator.iam.statements import allow, document, sid

SERVICE_PRINCIPALS = {
    "launch": "servicecatalog.amazonaws.com",
    "codebuild": "codebuild.amazonaws.com",
    "codepipeline": "codepipeline.amazonaws.com",
    "events": "events.amazonaws.com",
    "cloudformation": "cloudformation.amazonaws.com",
    "sagemaker": "sagemaker.amazonaws.com",
}
RUNTIME_ROLES = ("codebuild", "codepipeline", "events", "cloudformation", "sagemaker")

# Condition keys a service documents sending when it assumes a role, each with the page that
# documents it. A condition on a key the service never sends locks the service out of its role;
# a missing one only costs some confused-deputy protection. So a trust policy carries a
# condition only where a page says the key is sent: CodeBuild, CodePipeline, CloudFormation and
# Service Catalog document none for their service roles, and trust their principal alone.
TRUST_CONDITIONS: dict[str, tuple[str, str]] = {
    # "Cross-service confused deputy prevention" shows aws:SourceAccount in the trust policy of
    # roles SageMaker assumes for jobs, endpoints and pipelines.
    "sagemaker": (
        "aws:SourceAccount",
        "https://docs.aws.amazon.com/sagemaker/latest/dg/security-confused-deputy-prevention.html",
    ),
    # EventBridge sends aws:SourceAccount (the account of the rule) with the calls it makes to
    # a target, the role assumption included.
    "events": (
        "aws:SourceAccount",
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html",
    ),
}


def trust_policy(purpose: str) -> PolicyDocument:
    statement = dict(
        Sid=f"Allow{sid(purpose)}ServiceToAssumeRole",
        Effect=Allow,
        Principal=Principal("Service", [SERVICE_PRINCIPALS[purpose]]),
        Action=[Action("sts", "AssumeRole")],
    )
    if purpose in TRUST_CONDITIONS:
        key, _documented_at = TRUST_CONDITIONS[purpose]
        statement["Condition"] = Condition(StringEquals(key, ACCOUNT))
    return document(Statement(**statement))


def pass_role(scope: Scope, purpose: str) -> Statement:
    """Handing the team's `purpose` role to the one service that assumes it, and no other."""
    service = SERVICE_PRINCIPALS[purpose]
    return allow(
        f"AllowPass{sid(purpose)}RoleTo{sid(service.split('.')[0])}",
        [iam.PassRole],
        [scope.role(purpose)],
        StringEquals("iam:PassedToService", service),
    )

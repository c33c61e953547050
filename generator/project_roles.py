"""The project stack's own roles: one per service principal, for this project only.

Each SageMaker project gets its roles (``naming.PROJECT_ROLE_PURPOSES``) from its own stack, under
the team's IAM path, so what one project's build, pipeline or job can reach is that project's
resources by their exact names (``iam.Scope(config, one_project=True)``), never a sibling's. The
product stack owns what caps them: the permissions boundary (the team's ceiling, which the launch
role must attach to every role it creates) and the tag guardrail, both by their fixed names.
"""

from __future__ import annotations

from troposphere import Sub
from troposphere.iam import Policy, Role

from generator import iam, naming
from generator.project_context import ProjectContext

ROLE_TITLES = {
    "codebuild": "CodeBuildRole",
    "codepipeline": "CodePipelineRole",
    "events": "EventsRole",
    "cloudformation": "CloudFormationRole",
    "sagemaker": "SageMakerExecutionRole",
}


def add_roles(ctx: ProjectContext) -> None:
    """The project's roles, each with its least-privilege policy, the boundary and the guardrail."""
    config = ctx.config
    scope = iam.Scope(config, one_project=True)
    guardrails = [Sub(arn) for arn in naming.guardrail_policy_arns(config, len(iam.tag_guardrail_documents(config)))]
    ctx.roles = {}
    for purpose, title in ROLE_TITLES.items():
        ctx.roles[purpose] = ctx.template.add_resource(
            Role(
                title,
                RoleName=naming.role_name(config, purpose).sub(),
                Path=Sub(naming.role_path(config)),
                Description=Sub(f"SageMaker project ${{SageMakerProjectName}} ({config.project_suffix}): {purpose}"),
                AssumeRolePolicyDocument=iam.to_cfn(iam.trust_policy(purpose)),
                PermissionsBoundary=Sub(naming.boundary_policy_arn(config)),
                ManagedPolicyArns=guardrails,
                MaxSessionDuration=3600,
                Policies=[
                    Policy(
                        PolicyName=f"{purpose}-least-privilege",
                        PolicyDocument=iam.to_cfn(iam.runtime_policy(scope, purpose, ctx.key_arn, ctx.source)),
                    )
                ],
                Tags=ctx.tags(),
            )
        )

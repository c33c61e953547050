"""Every name the templates derive from the configuration, and the service limit it must fit.

A name is an ``Fn::Sub`` pattern over the values CloudFormation knows at deploy time. The
same pattern renders into the template and, with each variable at its longest, proves the
name fits its service's limit (``tests/test_naming.py``); ``names_too_long`` makes the
configuration refuse a namespace and suffix whose names would not fit.

Names that are not here: the names of policies inside a role and of stack exports
(``product_template``), of the endpoint's scaling policies (``endpoint_template``, built on
``PROJECT_PREFIX``), and the platform administrators' role pattern the organisation SCP exempts
(``scp.PLATFORM_ADMIN_ROLE_ARN``: a name the organisation gives, not one a template creates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from troposphere import Equals, If, Parameter, Ref, Sub, Template

from generator.config import PROJECT_NAME_MAX, Config, whole_check

# SageMaker project ids are `p-` followed by 12 lowercase alphanumerics; the project template
# pins that format, which is what makes the budgets below provable.
PROJECT_ID_LEN = 14
PROJECT_ID_PATTERN = r"^p-[a-z0-9]{12}$"

# Longest value each Sub variable can take.
MAX_VALUE_LENGTH = {
    "SageMakerProjectName": PROJECT_NAME_MAX,
    "SageMakerProjectId": PROJECT_ID_LEN,
    "AWS::AccountId": 12,
    "AWS::Region": 14,  # ap-southeast-2, ap-northeast-1 ...
    "AWS::Partition": 10,  # aws-us-gov
    "StageName": 7,  # staging | prod (endpoint template)
    "ConfigHash": 7,  # endpoint template: short hash that renames immutable resources
}

# Service limits (characters).
LIMITS = {
    "s3-bucket": 63,
    "iam-role": 64,
    "iam-policy": 128,
    "kms-alias": 256,
    "ssm-parameter": 1011,
    "codecommit-repository": 100,
    "codebuild-project": 255,
    "codepipeline": 100,
    "events-rule": 64,
    "sagemaker-model-package-group": 63,
    "sagemaker-pipeline": 256,
    "sagemaker-endpoint": 63,
    "sagemaker-endpoint-config": 63,
    "sagemaker-model": 63,
    "cloudformation-stack": 128,
    "sns-topic": 256,
    "servicecatalog-product": 8191,
    "cloudwatch-alarm": 255,
    "logs-log-group": 512,
}

_VAR = re.compile(r"\$\{([A-Za-z0-9:]+)\}")


def resolve(pattern: str, values: dict[str, str]) -> str:
    """A Sub pattern with each variable replaced by its value in ``values``."""
    return _VAR.sub(lambda m: values[m.group(1)], pattern)


@dataclass(frozen=True)
class DerivedName:
    """A resource name as a Sub pattern, with the limit of the service that owns it."""

    pattern: str
    limit_of: str

    @property
    def limit(self) -> int:
        return LIMITS[self.limit_of]

    def sub(self) -> Sub | str:
        """The CloudFormation value: a plain string when the pattern has no variables."""
        return Sub(self.pattern) if _VAR.search(self.pattern) else self.pattern

    def longest(self) -> str:
        """The name with every variable at its longest possible value."""
        return _VAR.sub(lambda m: "x" * MAX_VALUE_LENGTH[m.group(1)], self.pattern)

    def fits(self) -> bool:
        return len(self.longest()) <= self.limit

    def resolve(self, values: dict[str, str]) -> str:
        """The name with each variable replaced by its value in ``values`` (a deployed project's)."""
        return resolve(self.pattern, values)

    def ssm_reference(self) -> str:
        """The value of the SSM parameter of this name, read by CloudFormation at deploy time."""
        return "{{resolve:ssm:" + self.pattern + "}}"

    def or_parameter(self, condition: str, parameter: str) -> If:
        """This SSM parameter's value when `condition` (the parameter is empty) holds, else the parameter."""
        return If(condition, self.ssm_reference(), Ref(parameter))


def empty_means_published(template: Template, parameter: Parameter, published: DerivedName, condition: str) -> If:
    """A project parameter whose empty default means "what the product stack published in SSM".

    Studio users then never copy an ARN or a bucket name; a value they do type wins.
    """
    template.add_condition(condition, Equals(Ref(parameter), ""))
    return published.or_parameter(condition, parameter.title)


# ---- product stack (one per team/namespace) -------------------------------------------------

ROLE_PURPOSES = ("launch",)
# The roles each project stack creates for itself, one per service principal.
PROJECT_ROLE_PURPOSES = ("codebuild", "codepipeline", "events", "cloudformation", "sagemaker")


def role_name(config: Config, purpose: str) -> DerivedName:
    """The product stack's launch role, or one project's role for ``purpose``."""
    if purpose in PROJECT_ROLE_PURPOSES:
        # 32 + 1 + 14 + 1 + 14: the project name and id leave room for every purpose in IAM's 64.
        return DerivedName(f"{PROJECT_PREFIX}-{purpose}", "iam-role")
    if purpose not in ROLE_PURPOSES:
        raise KeyError(purpose)
    # IAM is global: the region keeps the same configuration's product stack deployable in a
    # second region of the account (every other name it creates is regional already).
    return DerivedName(f"{config.namespace}-{config.project_suffix}-${{AWS::Region}}-{purpose}", "iam-role")


def role_path(config: Config) -> str:
    """The IAM path of the team's project roles in one region: the launch role may create roles
    there only, and what may use the key or pass a role names the path, not a name pattern, so
    teams whose names overlap (suffixes `project`/`custom-project`) stay apart."""
    return f"/{config.namespace}/{config.project_suffix}/${{AWS::Region}}/"


def role_arn_pattern(config: Config, purpose: str) -> str:
    """One role's ARN (in the project template the project's own; the launch role's anywhere)."""
    path = role_path(config) if purpose in PROJECT_ROLE_PURPOSES else "/"
    return f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{path}{role_name(config, purpose).pattern}"


def team_role_arn_pattern(config: Config, purpose: str = "*") -> str:
    """Every project role of the team (for ``purpose``, or all) in this region."""
    ending = "*" if purpose == "*" else f"*-{config.project_suffix}-p-*-{purpose}"
    return f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{role_path(config)}{ending}"


def boundary_policy_name(config: Config) -> DerivedName:
    """The permissions boundary every project role carries (the product stack owns it)."""
    return DerivedName(f"{config.namespace}-{config.project_suffix}-${{AWS::Region}}-project-roles", "iam-policy")


def guardrail_policy_name(config: Config, index: int) -> DerivedName:
    """The tag guardrail's managed policies (the product stack's; project roles attach them)."""
    part = f"-{index + 1}" if index else ""
    return DerivedName(f"{config.namespace}-{config.project_suffix}-${{AWS::Region}}-tag-guardrail{part}", "iam-policy")


def guardrail_policy_arns(config: Config, count: int) -> list[str]:
    base = "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/"
    return [base + guardrail_policy_name(config, index).pattern for index in range(count)]


def boundary_policy_arn(config: Config) -> str:
    return f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{boundary_policy_name(config).pattern}"


def key_alias(config: Config) -> DerivedName:
    return DerivedName(f"alias/{config.namespace}-{config.project_suffix}", "kms-alias")


def key_arn_parameter(config: Config) -> DerivedName:
    """SSM parameter through which project stacks find the product stack's key."""
    return DerivedName(f"/{config.namespace}/{config.project_suffix}/kms-key-arn", "ssm-parameter")


def code_connection_parameter(config: Config) -> DerivedName:
    """SSM parameter through which project stacks find the team's CodeConnections connection."""
    return DerivedName(f"/{config.namespace}/{config.project_suffix}/code-connection-arn", "ssm-parameter")


def product_names(config: Config) -> list[DerivedName]:
    """Every fixed name the product stack creates whatever its source provider.

    The provider's own (``Source.product_names``) are added by ``sources.product_names``, and
    checked by ``sources.source_names_too_long``.
    """
    return [role_name(config, p) for p in ROLE_PURPOSES] + [
        boundary_policy_name(config),
        key_alias(config),
        key_arn_parameter(config),
    ]


def product_name_default(config: Config) -> str:
    return f"{config.namespace}-{config.project_suffix}-{config.endpoint_kind.value}-endpoint"


def product_stack(config: Config) -> DerivedName:
    """The product stack's name `publish` proposes in its quick-create link."""
    return DerivedName(f"{config.namespace}-{config.project_suffix}-product", "cloudformation-stack")


@whole_check
def names_too_long(config: Config) -> str | None:
    """The first fixed name of the product stack that overflows its limit, as a config problem."""
    return first_too_long([*product_names(config), product_stack(config)])


def first_too_long(names: list[DerivedName]) -> str | None:
    """The first of these names that can overflow its limit, as a config problem."""
    for name in names:
        if not name.fits():
            return (
                f"namespace and project_suffix together are too long: {name.longest()!r} "
                f"exceeds the {name.limit}-character {name.limit_of} limit"
            )
    return None


# ---- project stack (one per SageMaker project) ----------------------------------------------


def project_name_pattern(config: Config) -> str:
    """SageMaker's rule (letter first, letters/digits joined by single hyphens) ending in the suffix.

    Both ends anchored: the roles only act on names carrying ``-<suffix>``, so a name that
    merely starts with something else or continues after the suffix is refused at the form,
    not at the first AccessDenied. Length is MaxLength's job (CloudFormation checks both).
    """
    return rf"^[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*-{re.escape(config.project_suffix)}$"


# `<project name>-<project id>`: the seed code's pipeline, model package group and job prefix.
PROJECT_PREFIX = "${SageMakerProjectName}-${SageMakerProjectId}"


def project_prefix() -> DerivedName:
    return DerivedName(PROJECT_PREFIX, "sagemaker-model-package-group")


def artifact_bucket(config: Config) -> DerivedName:
    # Bucket names are global and lowercase: namespace + project id + account, never the
    # (mixed-case) project name.
    return DerivedName(f"{config.namespace}-${{SageMakerProjectId}}-${{AWS::AccountId}}", "s3-bucket")


def artifact_bucket_arn_pattern(config: Config) -> str:
    """Every artifact bucket of this namespace, for the roles' resource scopes."""
    return f"arn:${{AWS::Partition}}:s3:::{config.namespace}-p-*-${{AWS::AccountId}}"


def project_resource(kind: str, limit_of: str) -> DerivedName:
    return DerivedName(f"{PROJECT_PREFIX}-{kind}", limit_of)


def project_resource_glob(config: Config) -> str:
    """Matches every `<project name>-<project id>[-...]` name of a project with this suffix."""
    return f"*-{config.project_suffix}-p-*"


# ---- project template names -----------------------------------------------------------------

# Where `publish` uploads the seed code under the release prefix (``<prefix>/seed_code/*.zip``).
# The product stack writes that bucket and prefix into the SSM parameters below and project
# stacks read them from there, so nobody types them in Studio.
SEED_CODE_KEYS = {
    "model_build": "seed_code/model_build.zip",
    "model_deploy": "seed_code/model_deploy.zip",
}


def seed_code_bucket_parameter(config: Config) -> DerivedName:
    return DerivedName(f"/{config.namespace}/{config.project_suffix}/seed-code-bucket", "ssm-parameter")


def seed_code_prefix_parameter(config: Config) -> DerivedName:
    return DerivedName(f"/{config.namespace}/{config.project_suffix}/seed-code-prefix", "ssm-parameter")


def deploy_stack(stage: str) -> DerivedName:
    """Stack the deploy pipeline creates for an endpoint stage (staging, prod)."""
    return project_resource(f"deploy-{stage}", "cloudformation-stack")


def project_template_names(config: Config) -> dict[str, DerivedName]:
    """Every name the project template derives whatever its source provider, keyed by what it names.

    The provider adds its own (``Source.names``: CodeCommit's repositories and push rules, the
    connection's SSM parameter); ``sources.project_names`` is the whole set.
    """
    return {
        "artifact_bucket": artifact_bucket(config),
        "model_package_group": project_prefix(),
        "sagemaker_pipeline": DerivedName(PROJECT_PREFIX, "sagemaker-pipeline"),
        "build_project": project_resource("model-build", "codebuild-project"),
        "deploy_project": project_resource("deploy-config", "codebuild-project"),
        "gate_project": project_resource("deploy-gate", "codebuild-project"),
        "test_project": project_resource("staging-test", "codebuild-project"),
        "build_pipeline": project_resource("model-build", "codepipeline"),
        "deploy_pipeline": project_resource("model-deploy", "codepipeline"),
        "approved_rule": project_resource("model-approved", "events-rule"),
        "staging_stack": deploy_stack("staging"),
        "prod_stack": deploy_stack("prod"),
        "seed_code_bucket_parameter": seed_code_bucket_parameter(config),
        "seed_code_prefix_parameter": seed_code_prefix_parameter(config),
    }


def build_log_group(project: DerivedName) -> DerivedName:
    """CodeBuild's own log group name for a build project, created by the template to encrypt it."""
    return DerivedName(f"/aws/codebuild/{project.pattern}", "logs-log-group")

"""CodeConnections: the pipelines read the team's own GitHub, GitLab or Bitbucket repositories.

For accounts where CodeCommit no longer creates repositories. The Studio form asks for the two
repositories and the branch; the connection comes from the product stack, through SSM like the
key. A V2 pipeline trigger filtering pushes on that branch starts each pipeline. The platform
team pushes the seed code to the repositories first: CloudFormation cannot seed them. The product
stack asks for the connection and publishes it; the launch role passes it to the pipelines,
which use it with the CodePipeline role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from awacs import codeconnections, codestar_connections
from awacs.aws import Statement
from troposphere import If, Ref, Template
from troposphere.codepipeline import (
    GitBranchFilterCriteria,
    GitConfiguration,
    GitPushFilter,
    PipelineTriggerDeclaration,
)

from generator import naming
from generator.config import Config
from generator.iam.launch import CONNECTION_LAUNCH_ACTIONS
from generator.iam.statements import actions, allow
from generator.parameters import ParameterSpec, add_parameters
from generator.sources.base import (
    SEED_CODE,
    SOURCE_ACTION,
    SOURCE_BRANCH,
    PublishedValue,
    Source,
    seed_code_title,
)

if TYPE_CHECKING:
    from generator.iam.scopes import Scope
    from generator.project_context import ProjectContext

GROUP_GIT = "Git repositories (AWS CodeConnections)"
CONNECTION_PARAM = "CodeConnectionArn"
USE_PRODUCT_CONNECTION = "UseProductConnection"
REPOSITORY_PARAMS = {"build": "ModelBuildRepository", "deploy": "ModelDeployRepository"}
BRANCH_PARAM = "SourceBranch"
CONNECTION_PROVIDER = "CodeStarSourceConnection"
# Connections created before the 2024 rename keep codestar-connections ARNs; both work.
CONNECTION_ARN = (
    r"arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z]{2}(-[a-z]+)+-\d+:\d{12}:"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
CONNECTION_ARN_DESCRIPTION = (
    "the ARN of an AWS CodeConnections connection: arn:<partition>:codeconnections:"
    "<region>:<account>:connection/<id> (or codestar-connections)"
)
# A connection ARN, required (the product stack publishes it).
CONNECTION_ARN_PATTERN = rf"^{CONNECTION_ARN}$"
# A connection ARN or empty: empty means the product stack's connection (project stacks).
OPTIONAL_CONNECTION_ARN_PATTERN = rf"^({CONNECTION_ARN})?$"
# owner/name (GitHub, Bitbucket workspace/repository); GitLab subgroups add path segments.
# No segment starts with a dot (`.`, `..`) and a clone URL is refused (`:` is not allowed).
REPOSITORY_ID_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+$"
# Git's ref rules, narrowed: no leading `-` or `.`, no `..`, no `*`/`?`/`[` (the trigger's
# branch filter reads those as glob characters and would start on other branches).
BRANCH_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*(/[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)*$"


def _parameter_specs() -> list[ParameterSpec]:
    # The connection is made once per account and region by the platform team (a console
    # handshake with the Git provider that CloudFormation cannot do), who gives its ARN to the
    # product stack; as with the key, empty reads that ARN from SSM at create time.
    connection = ParameterSpec(
        CONNECTION_PARAM,
        "CodeConnections connection to GitHub, GitLab or Bitbucket (status Available). Leave "
        "empty to use the connection the product stack was given.",
        GROUP_GIT,
        "CodeConnections connection ARN (optional)",
        default="",
        allowed_pattern=OPTIONAL_CONNECTION_ARN_PATTERN,
        constraint_description=f"empty (the product's connection) or {CONNECTION_ARN_DESCRIPTION}",
    )
    repositories = [
        ParameterSpec(
            REPOSITORY_PARAMS[kind],
            f"Repository of the {seed_code_title(kind)} code (first pushed from seed_code/{SEED_CODE[kind]})",
            GROUP_GIT,
            f"{seed_code_title(kind).capitalize()} repository (owner/name)",
            allowed_pattern=REPOSITORY_ID_PATTERN,
            constraint_description="owner/name of the repository (GitLab: group/subgroup/name), not a URL",
        )
        for kind in SEED_CODE
    ]
    branch = ParameterSpec(
        BRANCH_PARAM,
        "Branch both pipelines build; a push to it starts the pipeline of that repository",
        GROUP_GIT,
        "Branch",
        default=SOURCE_BRANCH,
        allowed_pattern=BRANCH_PATTERN,
        constraint_description="a branch name: letters, digits, _ - . and /, no wildcards, no '..'",
    )
    return [connection, *repositories, branch]


@dataclass(frozen=True)
class Connections(Source):
    connection: If
    repositories: dict[str, Ref]
    branch: Ref

    description = "Git repositories read through AWS CodeConnections"
    action_provider = CONNECTION_PROVIDER

    @classmethod
    def names(cls, config: Config) -> dict[str, naming.DerivedName]:
        return {"code_connection_parameter": naming.code_connection_parameter(config)}

    @classmethod
    def product_parameter_specs(cls) -> list[ParameterSpec]:
        # Made once per account and region by a console handshake no stack can do; the product
        # stack publishes it (SSM) so nobody types it into the Studio form.
        return [
            ParameterSpec(
                CONNECTION_PARAM,
                "Connection (status Available) through which project pipelines read "
                "the team's GitHub, GitLab or Bitbucket repositories",
                GROUP_GIT,
                "CodeConnections connection ARN",
                allowed_pattern=CONNECTION_ARN_PATTERN,
                constraint_description=CONNECTION_ARN_DESCRIPTION,
            )
        ]

    @classmethod
    def product_ssm_values(cls, config: Config) -> list[PublishedValue]:
        return [
            PublishedValue(
                "CodeConnectionParameter",
                naming.code_connection_parameter(config),
                Ref(CONNECTION_PARAM),
                "ARN of the CodeConnections connection the project pipelines read through",
            )
        ]

    @classmethod
    def launch_grants(cls, scope: Scope) -> list[Statement]:
        return [
            allow(
                "AllowPassingThisAccountsConnectionsToPipelines",
                actions(CONNECTION_LAUNCH_ACTIONS),
                scope.connections(),
            )
        ]

    @classmethod
    def pipeline_source_statement(cls, scope: Scope) -> Statement:
        # The source action fetches the repository as the pipeline role. Since the 2024 rename
        # IAM knows the action under both prefixes; which one CodePipeline checks for a given
        # connection is not observable offline, so both are granted, on connections only.
        return allow(
            "AllowUsingThisAccountsConnectionsForSources",
            [codeconnections.UseConnection, codestar_connections.UseConnection],
            scope.connections(),
        )

    @classmethod
    def declare(cls, template: Template, config: Config) -> Connections:
        refs = add_parameters(template, _parameter_specs())
        return cls(
            connection=naming.empty_means_published(
                template,
                template.parameters[CONNECTION_PARAM],
                cls.names(config)["code_connection_parameter"],
                USE_PRODUCT_CONNECTION,
            ),
            repositories={kind: refs[name] for kind, name in REPOSITORY_PARAMS.items()},
            branch=refs[BRANCH_PARAM],
        )

    def action_configuration(self, ctx: ProjectContext, kind: str) -> dict:
        return {
            "ConnectionArn": self.connection,
            "FullRepositoryId": self.repositories[kind],
            "BranchName": self.branch,
            # The pipeline's push trigger starts it; DetectChanges would start it a second time
            # on the same push (CodePipeline documents false for a filtered push trigger).
            "DetectChanges": False,
        }

    def pipeline_triggers(self) -> list[PipelineTriggerDeclaration]:
        return [
            PipelineTriggerDeclaration(
                ProviderType=CONNECTION_PROVIDER,
                GitConfiguration=GitConfiguration(
                    SourceActionName=SOURCE_ACTION,
                    Push=[GitPushFilter(Branches=GitBranchFilterCriteria(Includes=[self.branch]))],
                ),
            )
        ]

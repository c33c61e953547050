"""The interface every source provider implements, and what providers share.

See ``generator/sources/__init__.py`` for the registry and what a provider is for. The
class-level hooks (names, product stack, roles) are asked through ``source_for(config)`` by the
modules that build the product stack and its policies; the instance hooks, by the project
template after ``declare``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from troposphere import Template
from troposphere.codecommit import Repository
from troposphere.codepipeline import PipelineTriggerDeclaration

from generator.config import Config

if TYPE_CHECKING:  # the context and the iam modules import this module: annotations only
    from awacs.aws import Statement

    from generator.iam.scopes import Scope
    from generator.naming import DerivedName
    from generator.parameters import ParameterSpec
    from generator.project_context import ProjectContext

SOURCE_BRANCH = "main"
# The pipelines' source action; a CodePipeline trigger names the action it filters pushes for.
SOURCE_ACTION = "ModelSource"
# The project's two repositories (and the pipeline each starts), by kind: the seed code
# directory each starts from (seed_code/<dir>, published as naming.SEED_CODE_KEYS[<dir>]).
SEED_CODE = {"build": "model_build", "deploy": "model_deploy"}


def seed_code_title(kind: str) -> str:
    """`build` -> `model build`, as descriptions name the code."""
    return SEED_CODE[kind].replace("_", " ")


@dataclass(frozen=True)
class StartRule:
    """An EventBridge rule that starts one of the project's pipelines."""

    title: str
    name: DerivedName
    description: str
    pattern: dict
    pipeline: str  # kind of the pipeline it starts: "build" or "deploy"
    # Resources the rule filters on or starts: it exists only once they do.
    depends_on: tuple[str, ...]


class PublishedValue(NamedTuple):
    """An SSM parameter the product stack writes for project stacks to read."""

    logical_id: str
    name: DerivedName
    value: Any  # a Ref or GetAtt of the product stack
    description: str


class Source(ABC):
    """One way of getting code into the pipelines (the interface every provider implements)."""

    # Completes the template's description: "..., model package group, <description>, ...".
    description: ClassVar[str]
    # CodePipeline's provider of the source action (``ActionTypeId.Provider``).
    action_provider: ClassVar[str]
    # Services of the resources the provider adds to a project, which carry the team tag: the
    # Studio user policy refuses acting on another team's (``iam.studio_user_policy``).
    team_tagged_services: ClassVar[tuple[str, ...]] = ()

    # ---- names and the product stack (class-level: asked through ``source_for(config)``) ----

    @classmethod
    def names(cls, config: Config) -> dict[str, DerivedName]:
        """The names this provider adds to the project's names (``sources.project_names``)."""
        return {}

    @classmethod
    def product_parameter_specs(cls) -> list[ParameterSpec]:
        """Parameters the provider adds to the product stack's form, after the others."""
        return []

    @classmethod
    def product_ssm_values(cls, config: Config) -> list[PublishedValue]:
        """SSM parameters the product stack publishes for the provider, after the others."""
        return []

    @classmethod
    def product_names(cls, config: Config) -> list[DerivedName]:
        """The fixed names the provider adds to the product stack (``sources.product_names``)."""
        return [published.name for published in cls.product_ssm_values(config)]

    # ---- the roles' policies (class-level; ``generator.iam`` calls them) ----------------------

    @classmethod
    def launch_resources(cls, scope: Scope) -> dict[str, list[str]]:
        """Resource types the provider adds to a project stack, each with the ARNs the launch
        role provisions it on (its actions come from ``iam.LAUNCH_PERMISSIONS``)."""
        return {}

    @classmethod
    def launch_grants(cls, scope: Scope) -> list[Statement]:
        """Statements the launch role needs for the provider besides provisioning its types."""
        return []

    @classmethod
    @abstractmethod
    def pipeline_source_statement(cls, scope: Scope) -> Statement:
        """How the CodePipeline role reads the source (the pipelines' source action)."""

    # ---- the project template (instance-level: after ``declare``) -----------------------------

    @classmethod
    @abstractmethod
    def declare(cls, template: Template, config: Config) -> Source:
        """Adds the provider's Studio parameters; returns the provider holding its inputs."""

    def add_repositories(self, ctx: ProjectContext) -> dict[str, Repository]:
        """Repositories the project stack creates, by kind (none: the repositories exist)."""
        return {}

    @abstractmethod
    def action_configuration(self, ctx: ProjectContext, kind: str) -> dict:
        """``Configuration`` of the source action of the pipeline of that kind."""

    def pipeline_triggers(self) -> list[PipelineTriggerDeclaration]:
        """CodePipeline V2 triggers of both pipelines (none: something else starts them)."""
        return []

    def start_rules(self, ctx: ProjectContext) -> list[StartRule]:
        """EventBridge rules that start the pipelines on a push (after the pipelines exist)."""
        return []

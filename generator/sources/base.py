"""The interface every source provider implements, and what providers share.

See ``generator/sources/__init__.py`` for the registry and what a provider is for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from troposphere import Template
from troposphere.codecommit import Repository
from troposphere.codepipeline import PipelineTriggerDeclaration

from generator.config import Config

if TYPE_CHECKING:  # the context imports this module: annotations only
    from generator.naming import DerivedName
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


class Source(ABC):
    """One way of getting code into the pipelines (the interface every provider implements)."""

    # Completes the template's description: "..., model package group, <description>, ...".
    description: ClassVar[str]
    # CodePipeline's provider of the source action (``ActionTypeId.Provider``).
    action_provider: ClassVar[str]

    @classmethod
    def names(cls, config: Config) -> dict[str, DerivedName]:
        """The names this provider adds to the project's names (``naming.project_template_names``)."""
        return {}

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

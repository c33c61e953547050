"""Where the project's pipelines read their code: one module per ``Config.source_provider``.

A source provider gives the project template everything that depends on where the code lives:
its Studio parameters and build-time inputs (``declare``), the repositories the stack creates,
each pipeline's source action, the CodePipeline triggers and EventBridge rules that start the
pipelines on a push, and the names it adds to the project's names. It gives the product stack
its parameters and published SSM values, and the roles what they need for it (the launch role's
resource types and grants, the CodePipeline role's source access, the team-tagged services of
the Studio user policy). Nothing else asks the setting itself: the templates ask
``source_for(config)`` and pass the provider to ``generator.iam``; ``project_names`` and
``product_names`` are ``generator.naming``'s names with the provider's. So a third provider is
one module here and one line in ``PROVIDERS``; the interface is ``base.Source``.

This package imports ``generator.naming`` and ``generator.iam``, never the reverse (those
modules name ``Source`` for type checking only), so the imports form no cycle.

Providers are frozen dataclasses: ``declare`` adds the provider's parameters to the template and
returns the provider holding the references later steps use (a parameter's ``Ref``, an SSM
dynamic reference), which keeps each provider's inputs typed and in one place.
"""

from __future__ import annotations

from generator import iam, naming
from generator.config import Config, SourceProvider, whole_check
from generator.sources.base import SEED_CODE, SOURCE_ACTION, SOURCE_BRANCH, PublishedValue, Source, StartRule
from generator.sources.codecommit import CodeCommit
from generator.sources.connections import Connections

__all__ = [
    "PROVIDERS",
    "SEED_CODE",
    "SOURCE_ACTION",
    "SOURCE_BRANCH",
    "PublishedValue",
    "Source",
    "StartRule",
    "product_names",
    "project_names",
    "source_for",
]

PROVIDERS: dict[SourceProvider, type[Source]] = {
    SourceProvider.CODECOMMIT: CodeCommit,
    SourceProvider.CODECONNECTIONS: Connections,
}


def source_for(config: Config) -> type[Source]:
    """The provider of the configuration's ``source_provider``."""
    return PROVIDERS[config.source_provider]


def project_names(config: Config) -> dict[str, naming.DerivedName]:
    """Every name the project template derives: ``naming.project_template_names`` and the provider's."""
    return {**naming.project_template_names(config), **source_for(config).names(config)}


def product_names(config: Config) -> list[naming.DerivedName]:
    """Every fixed name the product stack creates: ``naming.product_names`` and the provider's."""
    return [*naming.product_names(config), *source_for(config).product_names(config)]


@whole_check
def source_names_too_long(config: Config) -> str | None:
    """``naming.names_too_long`` for the fixed names the provider adds to the product stack."""
    return naming.first_too_long(source_for(config).product_names(config))


@whole_check
def boundary_too_large(config: Config) -> str | None:
    """The project roles' boundary is one managed policy: it names each region's SageMaker image
    account, so a long region list can overflow IAM's limit."""
    size = iam.boundary_size(config, source_for(config))
    if size <= iam.MANAGED_POLICY_MAX_CHARS:
        return None
    return (
        f"regions: {len(config.regions)} regions make the project roles' permissions boundary {size} characters, "
        f"over IAM's {iam.MANAGED_POLICY_MAX_CHARS} for a managed policy; list only the regions this product is "
        "deployed in"
    )

"""Where the project's pipelines read their code: one module per ``Config.source_provider``.

A source provider gives the project template everything that depends on where the code lives:
its Studio parameters and build-time inputs (``declare``), the repositories the stack creates,
each pipeline's source action, the CodePipeline triggers and EventBridge rules that start the
pipelines on a push, and the names it adds to the project's names. The project template asks
its provider and never the setting itself, so a third provider is one module here and one line
in ``PROVIDERS``; the interface is ``base.Source``.

Providers are frozen dataclasses: ``declare`` adds the provider's parameters to the template and
returns the provider holding the references later steps use (a parameter's ``Ref``, an SSM
dynamic reference), which keeps each provider's inputs typed and in one place.
"""

from __future__ import annotations

from generator.config import Config, SourceProvider
from generator.sources.base import SEED_CODE, SOURCE_ACTION, SOURCE_BRANCH, Source, StartRule
from generator.sources.codecommit import CodeCommit
from generator.sources.connections import Connections

__all__ = ["SEED_CODE", "SOURCE_ACTION", "SOURCE_BRANCH", "PROVIDERS", "Source", "StartRule", "source_for"]

PROVIDERS: dict[SourceProvider, type[Source]] = {
    SourceProvider.CODECOMMIT: CodeCommit,
    SourceProvider.CODECONNECTIONS: Connections,
}


def source_for(config: Config) -> type[Source]:
    """The provider of the configuration's ``source_provider``."""
    return PROVIDERS[config.source_provider]

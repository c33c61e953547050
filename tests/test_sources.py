"""The source providers (generator/sources) and the parameter specs (generator/parameters).

The rendered templates are checked by the golden files and by test_project_template.py /
test_source_connections.py; these tests hold the seams: every configurable provider is
registered, implements the interface, and names what naming.py says the project creates.
"""

from __future__ import annotations

import inspect

import pytest
from troposphere import Template

from generator import naming, parameters, project_template
from generator.config import SourceProvider, build_config
from generator.sources import PROVIDERS, Source, source_for

CONFIGS = {provider: build_config({"source_provider": provider.value}) for provider in SourceProvider}


def test_every_configurable_provider_is_registered():
    assert set(PROVIDERS) == set(SourceProvider), "a source_provider value without its module in generator/sources"
    for provider, cls in PROVIDERS.items():
        assert issubclass(cls, Source) and not inspect.isabstract(cls), f"{provider.value}: {cls} is incomplete"
        assert source_for(CONFIGS[provider]) is cls


@pytest.mark.parametrize("provider", list(SourceProvider), ids=lambda p: p.value)
def test_provider_names_are_the_project_names_it_adds(provider):
    config = CONFIGS[provider]
    names = naming.project_template_names(config)
    own = source_for(config).names(config)
    for key, name in own.items():
        assert names.get(key) == name, f"{provider.value}: naming.project_template_names has {key}={names.get(key)}"
    others = {key for cls in PROVIDERS.values() if cls is not source_for(config) for key in cls.names(config)}
    assert not (others - set(own)) & set(names), f"{provider.value}: names of another provider: {others & set(names)}"


@pytest.mark.parametrize("provider", list(SourceProvider), ids=lambda p: p.value)
def test_template_description_names_the_source(provider):
    template = project_template.build(CONFIGS[provider])
    assert source_for(CONFIGS[provider]).description in template.description


def test_parameter_spec_writes_only_what_is_set_and_keeps_an_empty_default():
    spec = parameters.ParameterSpec("Thing", "A thing", default="", allowed_values=("a", "b"))
    assert spec.parameter().to_dict() == {
        "Type": "String",
        "Description": "A thing",
        "Default": "",
        "AllowedValues": ["a", "b"],
    }


def test_add_parameters_keeps_the_order_of_groups_and_of_parameters_within_them():
    template = Template()
    refs = parameters.add_parameters(
        template,
        [
            parameters.ParameterSpec("B", "b", "First", "Bee"),
            parameters.ParameterSpec("A", "a", "Second", "Ay"),
            parameters.ParameterSpec("C", "c", "First"),
            parameters.ParameterSpec("D", "d"),
        ],
    )
    assert list(refs) == ["B", "A", "C", "D"]
    assert refs["A"].to_dict() == {"Ref": "A"}
    interface = template.metadata["AWS::CloudFormation::Interface"]
    assert [(g["Label"]["default"], g["Parameters"]) for g in interface["ParameterGroups"]] == [
        ("First", ["B", "C"]),
        ("Second", ["A"]),
    ]
    assert interface["ParameterLabels"] == {"B": {"default": "Bee"}, "A": {"default": "Ay"}}


def test_endpoint_template_asks_for_the_artifact_bucket_by_the_shared_pattern():
    from generator import endpoint_template  # noqa: PLC0415

    bucket = endpoint_template.build(build_config()).parameters["ArtifactBucket"]
    assert bucket.properties["AllowedPattern"] == parameters.BUCKET_NAME_PATTERN

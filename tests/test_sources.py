"""The source providers (generator/sources) and the parameter specs (generator/parameters).

The rendered templates are checked by the golden files and by test_project_template.py /
test_source_connections.py; these tests hold the seams: every configurable provider is
registered, implements the interface, and names what the project creates; a provider that is
registered and nothing else changes every template; no other module decides by the setting.
"""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest
from awacs import codeconnections
from awacs.aws import Statement
from troposphere import Ref, Template

from generator import naming, parameters, project_template, render, sources
from generator.config import SourceProvider, build_config
from generator.iam.scopes import Scope
from generator.iam.statements import allow
from generator.parameters import ParameterSpec
from generator.sources import PROVIDERS, PublishedValue, Source, source_for
from generator.sources.connections import Connections

ROOT = Path(__file__).resolve().parent.parent

CONFIGS = {provider: build_config({"source_provider": provider.value}) for provider in SourceProvider}


def test_every_configurable_provider_is_registered():
    assert set(PROVIDERS) == set(SourceProvider), "a source_provider value without its module in generator/sources"
    for provider, cls in PROVIDERS.items():
        assert issubclass(cls, Source) and not inspect.isabstract(cls), f"{provider.value}: {cls} is incomplete"
        assert source_for(CONFIGS[provider]) is cls


@pytest.mark.parametrize("provider", list(SourceProvider), ids=lambda p: p.value)
def test_provider_names_are_the_project_names_it_adds(provider):
    config = CONFIGS[provider]
    names = sources.project_names(config)
    own = source_for(config).names(config)
    assert not set(own) & set(naming.project_template_names(config)), f"{provider.value}: a name given twice"
    for key, name in own.items():
        assert names.get(key) == name, f"{provider.value}: sources.project_names has {key}={names.get(key)}"
    others = {key for cls in PROVIDERS.values() if cls is not source_for(config) for key in cls.names(config)}
    assert not (others - set(own)) & set(names), f"{provider.value}: names of another provider: {others & set(names)}"


@pytest.mark.parametrize("provider", list(SourceProvider), ids=lambda p: p.value)
def test_template_description_names_the_source(provider):
    template = project_template.build(CONFIGS[provider])
    assert source_for(CONFIGS[provider]).description in template.description


# ---- a third provider is one module and one registry line ---------------------------------------


class ThirdProvider(Connections):
    """What a third provider's module would hold (here a variant of the connections provider).

    Every hook differs observably from both real providers, so the templates show whether the
    builders asked the registered provider or decided by the configuration themselves.
    """

    description = "repositories of a third source provider"
    team_tagged_services = ("codeconnections",)

    @classmethod
    def names(cls, config):
        third = naming.DerivedName(f"/{config.namespace}/{config.project_suffix}/third", "ssm-parameter")
        return {**super().names(config), "third_parameter": third}

    @classmethod
    def product_parameter_specs(cls) -> list[ParameterSpec]:
        return [ParameterSpec("ThirdThing", "What the third provider needs", "Third source", "Third thing")]

    @classmethod
    def product_ssm_values(cls, config) -> list[PublishedValue]:
        return [PublishedValue("ThirdParameter", cls.names(config)["third_parameter"], Ref("ThirdThing"), "Third")]

    @classmethod
    def launch_grants(cls, scope: Scope) -> list[Statement]:
        return [allow("AllowTheThirdProvidersLaunchGrant", [codeconnections.GetConnection], scope.connections())]

    @classmethod
    def pipeline_source_statement(cls, scope: Scope) -> Statement:
        return allow("AllowReadingTheThirdProvidersSource", [codeconnections.UseConnection], scope.connections())


def _policy(resources: dict, logical_id: str) -> dict:
    return resources[logical_id]["Properties"]["PolicyDocument"]


def test_a_registered_provider_is_all_a_third_provider_needs(monkeypatch):
    """Registered under the CodeCommit key (the configuration's enum allows no third value),
    the provider alone decides: nothing of CodeCommit is left in either template, so no builder
    decided by ``source_provider`` itself."""
    monkeypatch.setitem(PROVIDERS, SourceProvider.CODECOMMIT, ThirdProvider)
    config = build_config()
    assert config.uses_codecommit and source_for(config) is ThirdProvider
    texts = {target.name: render.render(target, config) for target in render.TARGETS}
    assert not any("odeCommit" in text or "codecommit" in text for text in texts.values()), "CodeCommit leaked"

    product = json.loads(json.dumps(render.target("product").build(config).to_dict()))
    resources = product["Resources"]
    assert product["Parameters"]["ThirdThing"]["Description"] == "What the third provider needs"
    third = ThirdProvider.names(config)["third_parameter"]
    assert resources["ThirdParameter"]["Properties"]["Name"] == third.pattern  # no variable: written as is
    assert third in sources.product_names(config) and third == sources.project_names(config)["third_parameter"]
    launch = [s["Sid"] for s in _policy(resources, "LaunchRolePolicy")["Statement"]]
    assert "AllowTheThirdProvidersLaunchGrant" in launch and "AllowProvisioningCodeCommitRepository" not in launch
    project_resources = json.loads(json.dumps(project_template.build(config).to_dict()))["Resources"]
    (pipeline_policy,) = project_resources["CodePipelineRole"]["Properties"]["Policies"]
    pipeline = [s["Sid"] for s in pipeline_policy["PolicyDocument"]["Statement"]]
    assert "AllowReadingTheThirdProvidersSource" in pipeline, pipeline
    (boundary,) = [
        s for s in _policy(resources, "StudioUserPolicy")["Statement"] if s["Sid"] == "DenyActingOnOtherTeamsResources"
    ]
    assert "codeconnections:*" in boundary["Action"], boundary["Action"]

    project = project_template.build(config)
    assert ThirdProvider.description in project.description
    assert "CodeConnectionArn" in project.parameters and "ModelBuildRepository" in project.parameters


# Where a module outside generator/sources would decide by the setting instead of asking its
# provider: reading the setting, its enum, the CodeCommit shortcut, or a provider module itself.
DECIDING_NAMES = {"source_provider", "SourceProvider", "uses_codecommit", "CodeCommit", "Connections"}
PROVIDER_MODULES = {"generator.sources.codecommit", "generator.sources.connections"}


def test_no_module_outside_the_providers_decides_by_the_source_provider():
    """The enum check: only config.py (which defines the setting) and generator/sources read it."""
    found = []
    for path in sorted((ROOT / "generator").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative == "generator/config.py" or relative.startswith("generator/sources/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in DECIDING_NAMES:
                found.append(f"{relative}:{node.lineno} .{node.attr}")
            elif isinstance(node, ast.Name) and node.id in DECIDING_NAMES:
                found.append(f"{relative}:{node.lineno} {node.id}")
            elif isinstance(node, ast.ImportFrom) and (
                node.module in PROVIDER_MODULES
                or (node.module == "generator.sources" and {a.name for a in node.names} & {"codecommit", "connections"})
            ):
                found.append(f"{relative}:{node.lineno} imports {node.module}")
    assert not found, "decided outside generator/sources (ask source_for(config) instead):\n" + "\n".join(found)


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

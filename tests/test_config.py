"""The configuration object: defaults, a file, and one-line refusals naming the field."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from generator.config import Config, EndpointKind, SourceProvider, build_config, load_config
from generator.errors import UserError


def test_defaults_match_the_readme():
    config = build_config()
    assert config.project_suffix == "custom-project"
    assert config.tag_keys == ("project", "env")
    assert config.endpoint_kind is EndpointKind.ASYNC
    assert config.source_provider is SourceProvider.CODECOMMIT and config.uses_codecommit
    assert "us-east-1" in config.regions


def test_a_file_overrides_fields(tmp_path):
    path = tmp_path / "org.yaml"
    path.write_text(
        "project_suffix: risk-project\nnamespace: riskteam\nendpoint_kind: realtime\n"
        "required_tags:\n  - {key: cost-center}\n  - {key: env, allowed_values: [dev, prod], default: dev}\n"
    )
    config = load_config(path)
    assert (config.project_suffix, config.namespace) == ("risk-project", "riskteam")
    assert config.tag_keys == ("cost-center", "env")
    assert config.endpoint_kind is EndpointKind.REALTIME


@pytest.mark.parametrize("content", ["", "\n# nothing set yet\n", "{}\n", "---\n"])
def test_a_file_that_sets_nothing_is_refused_unless_allowed(tmp_path, content):
    path = tmp_path / "org.yaml"
    path.write_text(content)
    with pytest.raises(UserError) as error:
        load_config(path)
    assert str(error.value) == (
        f"config file {path}: sets nothing (it is empty, only comments or {{}}); "
        "pass --allow-empty to build the defaults from it on purpose"
    )
    assert load_config(path, allow_empty=True) == build_config()


@pytest.mark.parametrize(
    "values, field",
    [
        ({"project_suffix": "Custom"}, "project_suffix"),
        ({"project_suffix": "-x"}, "project_suffix"),
        ({"project_suffix": "x" * 31}, "project_suffix"),
        ({"namespace": "1abc"}, "namespace"),
        ({"regions": ["us-east-1", "us-east-1"]}, "regions"),
        ({"regions": []}, "regions"),
        ({"required_tags": [{"key": "env"}, {"key": "ENV"}]}, "required_tags"),
        ({"required_tags": [{"key": "env", "allowed_values": ["a"], "default": "b"}]}, "required_tags.0"),
        ({"required_tags": [{"key": "sagemaker:x"}]}, "required_tags.0.key"),
        ({"required_tags": [{"key": "ok", "default": 'bad"quote'}]}, "required_tags.0.default"),
        ({"instance_types": {"endpoint": "large"}}, "instance_types.endpoint"),
        ({"product_version": "1.0"}, "product_version"),
        ({"endpoint_kind": "batch"}, "endpoint_kind"),
        ({"source_provider": "bitbucket"}, "source_provider"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(values, field):
    with pytest.raises(UserError) as error:
        build_config(values)
    message = str(error.value)
    assert message.startswith(f"config field {field}:"), message
    assert "\n" not in message


def test_source_provider_is_read_from_a_file_and_a_bad_one_lists_the_allowed_values(tmp_path):
    path = tmp_path / "org.yaml"
    path.write_text("source_provider: codeconnections\n")
    config = load_config(path)
    assert config.source_provider is SourceProvider.CODECONNECTIONS and not config.uses_codecommit
    path.write_text("source_provider: bitbucket\n")
    with pytest.raises(UserError) as error:
        load_config(path)
    assert str(error.value) == (
        "config field source_provider: must be one of codecommit, codeconnections, got the text 'bitbucket'"
    ), str(error.value)


def test_config_is_immutable():
    with pytest.raises(ValidationError):
        build_config().namespace = "other"  # type: ignore[misc]
    assert Config.model_config["frozen"] is True


# ---- day one in a real account ---------------------------------------------------------------


def test_noncurrent_version_expiration_defaults_to_30_days_and_takes_the_bounds():
    assert build_config().noncurrent_version_expiration_days == 30
    for days in (1, 365, 3650):
        assert build_config({"noncurrent_version_expiration_days": days}).noncurrent_version_expiration_days == days


@pytest.mark.parametrize(
    "value",
    [
        0,
        3651,
        "x",
        # YAML `true` and a quoted number: refused before pydantic would coerce them to 1 and 30.
        True,
        "30",
        -1,
        1.5,
        None,
    ],
    ids=["0", "3651", "x", "true", "quoted", "-1", "1.5", "null"],
)
def test_noncurrent_version_expiration_days_outside_1_to_3650_is_refused(value):
    with pytest.raises(UserError) as error:
        build_config({"noncurrent_version_expiration_days": value})
    message = str(error.value)
    assert message.startswith("config field noncurrent_version_expiration_days:"), message
    assert "\n" not in message, message


@pytest.mark.parametrize(
    "namespace, suffix, accepted",
    [("n" * 20, "s" * 21, True), ("n" * 20, "s" * 22, False), ("n" * 11, "s" * 30, True), ("n" * 12, "s" * 30, False)],
)
def test_namespace_and_suffix_together_leave_room_for_the_region_in_role_names(namespace, suffix, accepted):
    """<namespace>-<suffix>-<region, up to 14>-launch must fit IAM's 64: 41 characters together."""
    values = {"namespace": namespace, "project_suffix": suffix}
    if accepted:
        build_config(values)
        return
    with pytest.raises(UserError) as error:
        build_config(values)
    message = str(error.value)
    assert message.startswith("config: namespace and project_suffix together are too long"), message
    assert "\n" not in message and "iam-role" in message, message


@pytest.mark.parametrize("field", ["processing", "training", "endpoint"])
@pytest.mark.parametrize(
    "instance_type", ["ml.m5d.xlarge", "ml.g4dn.xlarge", "ml.g5.2xlarge", "ml.p4d.24xlarge", "ml.r6id.large"]
)
def test_instance_types_with_local_storage_are_refused(field, instance_type):
    """They cannot take a volume key, which the guardrail requires on every job and endpoint config."""
    with pytest.raises(UserError) as error:
        build_config({"instance_types": {field: instance_type}})
    message = str(error.value)
    assert (
        message.startswith(f"config field instance_types.{field}:") and "local NVMe" in message and "\n" not in message
    ), message


@pytest.mark.parametrize(
    "instance_type", ["ml.m5.large", "ml.c5.xlarge", "ml.p3.2xlarge", "ml.m6i.large", "ml.inf1.xlarge"]
)
def test_instance_types_without_local_storage_are_accepted(instance_type):
    assert build_config({"instance_types": {"endpoint": instance_type}}).instance_types.endpoint == instance_type


# ---- mistakes in the CLI's own words ----------------------------------------------------------


def test_a_directory_is_not_a_config_file(tmp_path):
    with pytest.raises(UserError) as error:
        load_config(tmp_path)
    assert (
        str(error.value)
        == f"config file {tmp_path}: is a directory; give the YAML file (for example {tmp_path / 'org.yaml'})"
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        # The parser notices at the end of the file (line 5); the bracket was opened on line 2.
        (
            "namespace: riskteam\nregions: [us-east-1,\n  eu-west-1\n\n",
            "line 2, column 10: expected ',' or ']', but got the end of the file "
            "(while parsing a flow sequence that starts at line 2)",
        ),
        ("namespace: riskteam\nproject_suffix: 'risk\n", "line 2, column 17: the file ends before it is closed"),
        ("namespace: a\nregions: b: c\n", "line 2, column 11: mapping values are not allowed here"),
        ("required_tags:\n  - key: a\n - key: b\n", "line 3, column 2: the indentation does not line up"),
        ("namespace: a\n\tregions: []\n", "line 2, column 1: a tab character: YAML indents with spaces"),
    ],
    ids=["unclosed-bracket", "unclosed-quote", "colon", "indentation", "tab"],
)
def test_yaml_errors_name_the_real_line_and_what_is_wrong(tmp_path, text, expected):
    path = tmp_path / "org.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"config file {path}: not valid YAML at {expected}"), message
    assert "\n" not in message


@pytest.mark.parametrize(
    "values, message",
    [
        ({"regions": "us-east-1"}, "config field regions: expected a list of region names, got the text 'us-east-1'"),
        ({"regions": {"us-east-1": 1}}, "config field regions: expected a list of region names, got a mapping"),
        ({"regions": ["us-east-1", 7]}, "config field regions.1: expected a region name, got the number 7"),
        ({"namespace": 12}, "config field namespace: expected text, got the number 12"),
        ({"namespace": None}, "config field namespace: expected text, got nothing (an empty value)"),
        ({"product_version": True}, "config field product_version: expected text, got true (a yes/no value)"),
        (
            {"instance_types": "ml.m5.large"},
            "config field instance_types: expected a mapping with processing, training, endpoint, got the text "
            "'ml.m5.large'",
        ),
        (
            {"required_tags": ["env"]},
            "config field required_tags.0: expected a mapping with key, allowed_values, default, got the text 'env'",
        ),
        (
            {"required_tags": [{"key": "env", "allowed_values": "dev"}]},
            "config field required_tags.0.allowed_values: expected a list of tag values, got the text 'dev'",
        ),
        ({"required_tags": [{"default": "dev"}]}, "config field required_tags.0.key: is required"),
        (
            {"endpoint_kind": "batch"},
            "config field endpoint_kind: must be one of async, realtime, got the text 'batch'",
        ),
        (
            {"instance_types": {"gpu": "ml.g5.xlarge"}},
            "config field instance_types.gpu: is not a known setting (allowed: processing, training, endpoint)",
        ),
    ],
    ids=lambda value: "" if isinstance(value, str) else next(iter(value)),
)
def test_type_errors_say_what_the_field_takes_and_what_it_got(values, message):
    with pytest.raises(UserError) as error:
        build_config(values)
    assert str(error.value) == message


@pytest.mark.parametrize(
    "region, closest",
    [("us-est-1", "us-east-1"), ("US-EAST-1", "us-east-1"), ("eu-west-1a", "eu-west-1"), ("euwest1", "eu-west-1")],
)
def test_an_unknown_region_suggests_the_closest_few(region, closest):
    from cfnlint.helpers import REGIONS

    with pytest.raises(UserError) as error:
        build_config({"regions": [region]})
    message = str(error.value)
    assert message.startswith(f"config field regions: {region!r} is not a region the gate knows; did you mean "), (
        message
    )
    named = set(re.findall(r"[a-z]{2}(?:-[a-z]+)+-\d", message.split("did you mean")[1]))
    assert closest in named and 1 <= len(named) <= 3 and named <= set(REGIONS), message


def test_a_region_like_nothing_known_gets_the_shape_not_a_list():
    with pytest.raises(UserError) as error:
        build_config({"regions": ["localhost"]})
    message = str(error.value)
    assert "regions look like us-east-1 or eu-west-1" in message and "ap-southeast-2" not in message, message


@pytest.mark.parametrize(
    "instance_type", ["ml.trn2.48xlarge", "ml.p6-b200.48xlarge", "ML.G5.xlarge", "ml.gr6.4xlarge", "ml.m6gd.large"]
)
def test_endpoint_types_with_local_storage_are_refused_whatever_their_spelling(instance_type):
    with pytest.raises(UserError) as error:
        build_config({"instance_types": {"endpoint": instance_type}})
    message = str(error.value)
    assert message.startswith(f"config field instance_types.endpoint: {instance_type} has local NVMe"), message


def test_every_region_a_project_may_use_is_one_the_gate_lints():
    """The config accepts the regions of SageMaker's image table; cfn-lint must know each."""
    from cfnlint.helpers import REGIONS

    from generator.config import sagemaker_regions

    assert sagemaker_regions(), "no region in the SageMaker image table"
    unknown = sorted(set(sagemaker_regions()) - set(REGIONS))
    assert not unknown, f"regions the config accepts but cfn-lint does not know: {unknown}"

"""The configuration object: defaults, a file, and one-line refusals naming the field."""

from __future__ import annotations

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


def test_empty_file_gives_defaults(tmp_path):
    path = tmp_path / "org.yaml"
    path.write_text("")
    assert load_config(path) == build_config()


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
    assert str(error.value) == ("config field source_provider: Input should be 'codecommit' or 'codeconnections'"), str(
        error.value
    )


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
    [("n" * 20, "s" * 13, True), ("n" * 20, "s" * 14, False), ("n" * 3, "s" * 30, True), ("n" * 4, "s" * 30, False)],
)
def test_namespace_and_suffix_together_leave_room_for_the_region_in_role_names(namespace, suffix, accepted):
    """<namespace>-<suffix>-<region, up to 14>-cloudformation must fit IAM's 64: 33 characters together."""
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

"""The tags every resource carries, and the parameters that supply the required tags' values.

Two kinds of tags travel together:
- project tags (`sagemaker:project-name`, `sagemaker:project-id`), which SageMaker Studio uses
  to show resources under their project;
- the organisation's required tags (``Config.required_tags``), which the roles' guardrail
  demands on every SageMaker create that takes tags (see ``generator.iam``).

And one tag draws the team boundary: ``mlops:team`` (``<namespace>/<suffix>``) on the product's
roles and the project's resources, and on the Studio execution roles of the team's people (the
platform team sets it). The bucket and key policies admit only principals carrying this team's
value, and the Studio user policy refuses acting on what carries another team's value: names
can overlap between teams (a shared namespace, prefixes of each other), the tag cannot.
"""

from __future__ import annotations

import re

from troposphere import Ref, Sub, Tags, Template

from generator.config import TAG_VALUE_RE, Config
from generator.parameters import ParameterSpec, add_parameters

PROJECT_NAME_TAG = "sagemaker:project-name"
PROJECT_ID_TAG = "sagemaker:project-id"
STUDIO_VISIBILITY_TAG = "sagemaker:studio-visibility"
TEAM_TAG = "mlops:team"
# Set to "true" on the Studio execution roles of the people who may approve model versions.
APPROVER_TAG = "mlops:model-approver"
PROJECT_NAME_PARAM = "SageMakerProjectName"
PROJECT_ID_PARAM = "SageMakerProjectId"

# CloudFormation's AllowedPattern for a tag value parameter; the same alphabet the config allows.
TAG_VALUE_PATTERN = TAG_VALUE_RE.pattern


def tag_parameter_name(key: str) -> str:
    """`cost-center` -> `TagCostCenter`: parameter logical ids are alphanumeric."""
    words = re.split(r"[^A-Za-z0-9]+", key)
    return "Tag" + "".join(word[:1].upper() + word[1:] for word in words if word)


def required_tag_specs(config: Config, group: str = "Required tags") -> list[ParameterSpec]:
    """One parameter per required tag: its allowed values if the config lists them, otherwise
    the tag value alphabet."""
    return [
        ParameterSpec(
            tag_parameter_name(tag.key),
            f"Value of the required tag '{tag.key}' on everything this project creates",
            group=group,
            label=f"Tag: {tag.key}",
            default=tag.default,
            allowed_values=tag.allowed_values or None,
            allowed_pattern=None if tag.allowed_values else TAG_VALUE_PATTERN,
            constraint_description=None if tag.allowed_values else "1-256 letters, digits, spaces and _.:/=+@-",
        )
        for tag in config.required_tags
    ]


def add_required_tag_parameters(template: Template, config: Config, group: str = "Required tags") -> dict[str, Ref]:
    """One parameter per required tag; returns key -> Ref of its value."""
    refs = add_parameters(template, required_tag_specs(config, group))
    return {tag.key: refs[tag_parameter_name(tag.key)] for tag in config.required_tags}


def required_tag_pairs(config: Config, values: dict) -> list[tuple[str, object]]:
    return [(tag.key, values[tag.key]) for tag in config.required_tags]


def team(config: Config) -> str:
    """The team's value of ``TEAM_TAG``: one product stack, one team."""
    return f"{config.namespace}/{config.project_suffix}"


def project_tags(config: Config, values: dict, *extra: tuple[str, object]) -> Tags:
    """Project tags + the team tag + required tags (+ any extra pairs), sorted by key."""
    pairs: list[tuple[str, object]] = [
        (PROJECT_NAME_TAG, Ref(PROJECT_NAME_PARAM)),
        (PROJECT_ID_TAG, Ref(PROJECT_ID_PARAM)),
        (TEAM_TAG, team(config)),
        *required_tag_pairs(config, values),
        *extra,
    ]
    return Tags(dict(pairs))


def required_tags_json(config: Config) -> Sub:
    """`REQUIRED_TAGS` for the seed code: a JSON object built by Fn::Sub from the parameters.

    Tag values cannot contain quotes or backslashes (TAG_VALUE_PATTERN), so the JSON is safe.
    """
    body = ", ".join(f'"{tag.key}": "${{{tag_parameter_name(tag.key)}}}"' for tag in config.required_tags)
    return Sub("{" + body + "}")

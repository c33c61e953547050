"""How a troposphere Template becomes YAML text: deterministic, short-form intrinsics.

``render`` adds the generated-by header; the project template hashes the endpoint template's
text (``project_template``: the deploy gate accepts only the platform's endpoint template).
"""

from __future__ import annotations

import yaml
from troposphere import Template


class _Intrinsic:
    """A CloudFormation function written in its short YAML form (`!Sub`, `!Ref`, ...)."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value):
        self.tag = tag
        self.value = value


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """libyaml's emitter: cfn-flip's pure-Python one costs most of the generation time."""


def _represent_intrinsic(dumper: yaml.SafeDumper, node: _Intrinsic):
    value = node.value
    if isinstance(value, dict):
        return dumper.represent_mapping(node.tag, value)
    if isinstance(value, list):
        return dumper.represent_sequence(node.tag, value)
    return dumper.represent_scalar(node.tag, str(value), style="'" if isinstance(value, str) else None)


_Dumper.add_representer(_Intrinsic, _represent_intrinsic)


def _short_form(value):
    """Template data with every intrinsic as an _Intrinsic, recursively."""
    if isinstance(value, list):
        return [_short_form(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key == "Ref":
            return _Intrinsic("!Ref", inner)
        if key == "Fn::GetAtt" and isinstance(inner, list) and all(isinstance(p, str) for p in inner):
            return _Intrinsic("!GetAtt", ".".join(inner))
        if key.startswith("Fn::"):
            return _Intrinsic("!" + key[4:], _short_form(inner))
    return {key: _short_form(item) for key, item in value.items()}


def to_yaml(template: Template) -> str:
    """Deterministic YAML: sorted keys, short-form intrinsics, no line wrapping."""
    data = _short_form(template.to_dict())
    return yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=10_000, allow_unicode=False)

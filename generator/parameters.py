"""One way to declare a CloudFormation parameter: a spec per parameter, added in order.

Templates list their parameters as ``ParameterSpec`` values and call ``add_parameters``, which
adds each parameter, its console label and its group (``AWS::CloudFormation::Interface``).
Groups appear in the console in the order their first parameter was added, and parameters
within a group in the order added: the order of the specs is the form's order.

Patterns more than one template checks live here, so each is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from troposphere import Parameter, Ref, Template

# S3's naming rule for buckets (3-63 characters, lowercase letters, digits, dots and hyphens,
# a letter or digit at both ends). The finer rules (no `..`, no IP address) are S3's to refuse.
BUCKET_NAME_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


@dataclass(frozen=True)
class ParameterSpec:
    """A CloudFormation parameter with the console label and group it is shown under.

    ``None`` leaves the property out of the template (an empty string is a value: ``default=""``
    makes a parameter optional).
    """

    name: str
    description: str
    group: str | None = None
    label: str | None = None
    type: str = "String"
    default: str | None = None
    allowed_pattern: str | None = None
    allowed_values: tuple[str, ...] | None = None
    constraint_description: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None

    def parameter(self) -> Parameter:
        properties = {
            "Type": self.type,
            "Description": self.description,
            "Default": self.default,
            "AllowedPattern": self.allowed_pattern,
            "AllowedValues": None if self.allowed_values is None else list(self.allowed_values),
            "ConstraintDescription": self.constraint_description,
            "MinLength": self.min_length,
            "MaxLength": self.max_length,
            "MinValue": self.min_value,
            "MaxValue": self.max_value,
        }
        return Parameter(self.name, **{key: value for key, value in properties.items() if value is not None})


def add_parameters(template: Template, specs: Iterable[ParameterSpec]) -> dict[str, Ref]:
    """Adds each spec's parameter, label and group, in order; returns name -> Ref."""
    refs: dict[str, Ref] = {}
    for spec in specs:
        parameter = template.add_parameter(spec.parameter())
        if spec.label is not None:
            template.set_parameter_label(parameter, spec.label)
        if spec.group is not None:
            template.add_parameter_to_group(parameter, spec.group)
        refs[spec.name] = Ref(parameter)
    return refs

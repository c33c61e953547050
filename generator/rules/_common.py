"""Helpers the project rules share: walking policy documents and telling present from absent.

Every check is deliberately literal: a security property hidden behind an intrinsic the rule
cannot read (an ``Fn::If`` around a whole block, a policy built by ``Fn::Join``) is reported as
unreadable rather than assumed safe. ``Fn::If`` on a single value is read branch by branch.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

NO_VALUE = {"Ref": "AWS::NoValue"}
# The only principal a key policy may give every KMS action: the account itself, so that IAM
# policies (not the key policy) decide who uses the key.
ACCOUNT_ROOT = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"


class ProjectRule(CloudFormationLintRule):
    """Base of every project rule (import the module, not this class; see __init__)."""

    tags = ["security", "project"]


def match(path: list, message: str) -> RuleMatch:
    return RuleMatch(list(path), message)


def resources(cfn, *types: str) -> Iterator[tuple[str, dict, list]]:
    """(logical id, Properties, path of Properties) of every resource of the given types."""
    for name, resource in sorted((cfn.template.get("Resources") or {}).items()):
        if isinstance(resource, dict) and resource.get("Type") in types:
            properties = resource.get("Properties")
            if isinstance(properties, dict):
                yield name, properties, ["Resources", name, "Properties"]
            else:
                yield name, {}, ["Resources", name]


def branches(value: Any) -> list:
    """The values an ``Fn::If`` can take (recursively); any other value is its own branch."""
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        args = value["Fn::If"]
        if isinstance(args, list) and len(args) == 3:
            return branches(args[1]) + branches(args[2])
    return [value]


def is_present(value: Any) -> bool:
    """Set to something on every branch: not missing, empty or ``AWS::NoValue``."""
    return all(v not in (None, "", [], {}) and v != NO_VALUE for v in branches(value))


def is_customer_key(value: Any) -> bool:
    """A key reference that is not an AWS-managed key (``alias/aws/...``)."""
    if not is_present(value):
        return False
    return not any(isinstance(v, str) and "alias/aws/" in v for v in branches(value))


def is_true(value: Any) -> bool:
    return all(v is True or (isinstance(v, str) and v.lower() == "true") for v in branches(value))


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def get(mapping: Any, *keys: str) -> Any:
    """mapping[k1][k2]... or None when any step is missing or not a mapping."""
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def missing_path(base: list, mapping: Any, *keys: str) -> list:
    """Path to report for a missing nested key: the deepest part that exists."""
    path = list(base)
    for key in keys:
        if not isinstance(mapping, dict) or key not in mapping:
            return path
        mapping = mapping[key]
        path.append(key)
    return path


# --- policy documents --------------------------------------------------------------------

# Resource types whose properties carry IAM identity policies, and where.
IDENTITY_POLICY_TYPES = {
    "AWS::IAM::Policy": "document",
    "AWS::IAM::ManagedPolicy": "document",
    "AWS::IAM::RolePolicy": "document",
    "AWS::IAM::UserPolicy": "document",
    "AWS::IAM::GroupPolicy": "document",
    "AWS::IAM::Role": "inline",
    "AWS::IAM::User": "inline",
    "AWS::IAM::Group": "inline",
}


def load_document(document: Any) -> Any:
    """A policy document given as a JSON string (allowed by CloudFormation) becomes a mapping."""
    if isinstance(document, str):
        try:
            return json.loads(document)
        except ValueError:
            return None
    return document


def identity_policies(cfn) -> Iterator[tuple[str, Any, list]]:
    """(logical id, document, path) of every IAM identity policy document in the template."""
    for name, properties, path in resources(cfn, *IDENTITY_POLICY_TYPES):
        kind = IDENTITY_POLICY_TYPES[cfn.template["Resources"][name]["Type"]]
        if kind == "document":
            yield name, load_document(properties.get("PolicyDocument")), path + ["PolicyDocument"]
        else:
            for index, policy in enumerate(as_list(properties.get("Policies"))):
                yield (
                    name,
                    load_document(get(policy, "PolicyDocument")),
                    path + ["Policies", index, "PolicyDocument"],
                )


def statements(document: Any, path: list) -> Iterator[tuple[dict | None, list]]:
    """(statement, path) of a document; None for a statement the rule cannot read."""
    if not isinstance(document, dict):
        yield None, path
        return
    body = document.get("Statement")
    if isinstance(body, dict):
        yield body, path + ["Statement"]
        return
    if not isinstance(body, list):
        yield None, path
        return
    for index, statement in enumerate(body):
        yield (statement if isinstance(statement, dict) else None), path + ["Statement", index]


def effect(statement: dict) -> str:
    value = statement.get("Effect")
    return value if isinstance(value, str) else ""


def actions(statement: dict) -> list[str]:
    """Action entries as written; compare them lowercased (IAM ignores case in actions)."""
    return [a for a in as_list(statement.get("Action")) if isinstance(a, str)]


def grants(pattern: str, action: str) -> bool:
    """Whether an Action entry (with IAM's * and ? wildcards) covers a concrete action."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def condition_keys(statement: dict) -> set[str]:
    """Every condition key of a statement, lowercase, whatever its operator."""
    keys: set[str] = set()
    condition = statement.get("Condition")
    if isinstance(condition, dict):
        for block in condition.values():
            if isinstance(block, dict):
                keys.update(key.lower() for key in block if isinstance(key, str))
    return keys


def walk_strings(node: Any, path: list) -> Iterator[tuple[str, list]]:
    """Every string in a template, keys included, with the path where it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield key, path + [key]
            yield from walk_strings(value, path + [key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_strings(value, path + [index])
    elif isinstance(node, str):
        yield node, path


def allow_statements(cfn) -> Iterator[tuple[str, dict, list]]:
    """(logical id, statement, path) of every readable Allow statement of an identity policy."""
    for name, document, path in identity_policies(cfn):
        for statement, where in statements(document, path):
            if statement is not None and effect(statement) == "Allow":
                yield name, statement, where

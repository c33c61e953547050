"""The tag guardrail: SageMaker creates must carry the required tags, which nobody may tamper with.

A set of managed policies (split to fit IAM's size quota), attached to every runtime role and
exported so a platform team can attach them to Studio execution roles too. Which actions it
covers besides ``sagemaker:Create*`` is data: ``generator/data/iam_guardrail.yaml``.
"""

from __future__ import annotations

import json

from awacs import sagemaker
from awacs.aws import (
    Action,
    ArnNotLike,
    BoolIfExists,
    ForAllValuesStringNotEquals,
    ForAnyValueStringEqualsIgnoreCase,
    Null,
    PolicyDocument,
    Statement,
    StringEquals,
    StringNotEquals,
)

from generator.config import Config, RequiredTag
from generator.iam.scopes import arn
from generator.iam.statements import deny, document, sid
from generator.iam.tables import action_names, read, reasons

_TABLES = read("iam_guardrail.yaml")
_WHERE = "iam_guardrail.yaml"

# What the guardrail covers: every SageMaker action that creates something and takes tags
# (IAM's action catalogue lists aws:RequestTag for it). tests/test_iam_guardrail.py derives
# GUARDRAIL_BLOCKS_UNTAGGABLE and GUARDRAIL_SKIPS from the catalogue.
GUARDRAIL_CREATES = (Action("sagemaker", "Create*"), sagemaker.ImportHubContent, sagemaker.RegisterDevices)
GUARDRAIL_BLOCKS_UNTAGGABLE: dict[str, str] = reasons(_TABLES["blocks_untaggable"], _WHERE)
GUARDRAIL_SKIPS: dict[str, str] = reasons(_TABLES["skips"], _WHERE)
# SageMaker actions (without the prefix) whose volume key, output key or network isolation
# the guardrail requires.
VOLUME_KEY_ACTIONS: tuple[str, ...] = action_names(_TABLES["volume_key_actions"], _WHERE)
OUTPUT_KEY_ACTIONS: tuple[str, ...] = action_names(_TABLES["output_key_actions"], _WHERE)
NETWORK_ISOLATION_ACTIONS: tuple[str, ...] = action_names(_TABLES["network_isolation_actions"], _WHERE)

# The creates the project's own roles make whose guarding the tests probe one by one.
GUARDED_CREATES = (
    sagemaker.CreateTrainingJob,
    sagemaker.CreateProcessingJob,
    sagemaker.CreateHyperParameterTuningJob,
    sagemaker.CreateTransformJob,
    sagemaker.CreateModel,
    sagemaker.CreateEndpointConfig,
    sagemaker.CreateEndpoint,
)


def tag_guardrail(config: Config) -> PolicyDocument:
    """Deny SageMaker creates that lack a required tag, and tampering with one afterwards.

    Request tags, not resource tags: on a create the resource does not exist yet, so a
    condition on ``aws:ResourceTag`` never fires (defect B1 of the original sample). One
    statement per key: keys inside one ``Null`` block are ANDed, so a request carrying one of
    two required tags would slip through.
    """
    statements = [statement for tag in config.required_tags for statement in _required_tag(tag)]
    statements.append(
        deny(
            "DenyRemovingRequiredTags",
            [sagemaker.DeleteTags],
            ForAnyValueStringEqualsIgnoreCase("aws:TagKeys", list(config.tag_keys)),
        )
    )
    return document(*statements, *_data_protection())


def _required_tag(tag: RequiredTag) -> list[Statement]:
    creates = list(GUARDRAIL_CREATES)
    # AddTags may add other tags, so it need not carry a required one; but it must not set one
    # empty or outside the allowed values on a resource that lacked it.
    creates_and_tagging = [*creates, sagemaker.AddTags]
    request_key = f"aws:RequestTag/{tag.key}"
    name = sid(tag.key)
    statements = [
        deny(f"DenyCreateWithout{name}Tag", creates, Null(request_key, "true")),
        deny(f"DenyCreateWithEmpty{name}Tag", creates_and_tagging, StringEquals(request_key, "")),
        # IAM matches the key inside aws:RequestTag/<key> case-insensitively, cost reports
        # do not: demand the exact spelling through aws:TagKeys, which compares values.
        deny(
            f"DenyCreateWithout{name}TagSpelledExactly", creates, ForAllValuesStringNotEquals("aws:TagKeys", [tag.key])
        ),
    ]
    if tag.allowed_values:
        statements.append(
            deny(
                f"DenyCreateWith{name}TagOutsideAllowedValues",
                creates_and_tagging,
                Null(request_key, "false"),
                StringNotEquals(request_key, list(tag.allowed_values)),
            )
        )
    # CloudFormation re-sends every tag when it updates a resource (a second deployment of
    # an endpoint stack): the same value again is no overwrite, a different one is. The
    # policy variable stands for the resource's current value (IAM user guide, "IAM policy
    # elements: Variables and tags": global condition keys can be used as variables).
    statements.append(
        deny(
            f"DenyOverwriting{name}TagOnExistingResources",
            [sagemaker.AddTags],
            Null(f"aws:ResourceTag/{tag.key}", "false"),
            ForAnyValueStringEqualsIgnoreCase("aws:TagKeys", [tag.key]),
            StringNotEquals(request_key, f"${{aws:ResourceTag/{tag.key}}}"),
        )
    )
    return statements


def _data_protection() -> list[Statement]:
    # A negated operator on an absent key matches: no key at all is refused like another
    # account's. The key is this account's, not named: the key policy names the roles this
    # policy is attached to, so naming the key here would close a dependency cycle.
    this_accounts_keys = arn("kms", "key/*")

    def on(names: tuple[str, ...]) -> list[Action]:
        return [Action("sagemaker", name) for name in names]

    return [
        deny(
            "DenyCreatesWithoutAVolumeKeyOfThisAccount",
            on(VOLUME_KEY_ACTIONS),
            ArnNotLike("sagemaker:VolumeKmsKeyArn", this_accounts_keys),
        ),
        deny(
            "DenyCreatesWithoutAnOutputKeyOfThisAccount",
            on(OUTPUT_KEY_ACTIONS),
            ArnNotLike("sagemaker:OutputKmsKeyArn", this_accounts_keys),
        ),
        deny(
            "DenyTrainingAndModelsWithNetworkAccess",
            on(NETWORK_ISOLATION_ACTIONS),
            BoolIfExists("sagemaker:NetworkIsolation", "false"),
        ),
    ]


# IAM's limit on a managed policy document, in characters without white space. The resolved
# document can only be shorter than the template's: every `${...}` in the guardrail stands for
# a value no longer than its placeholder.
MANAGED_POLICY_MAX_CHARS = 6144


def policy_size(policy: PolicyDocument) -> int:
    return len(json.dumps(json.loads(policy.to_json()), separators=(",", ":")))


def tag_guardrail_documents(config: Config) -> list[PolicyDocument]:
    """The guardrail split into managed-policy-sized documents, statements kept whole.

    Each required key adds up to five statements; ten keys with allowed values need about
    18,000 characters, three times what one managed policy may hold.
    """
    documents: list[PolicyDocument] = []
    current: list[Statement] = []
    for statement in tag_guardrail(config).Statement:
        if current and policy_size(document(*current, statement)) > MANAGED_POLICY_MAX_CHARS:
            documents.append(document(*current))
            current = [statement]
        else:
            current.append(statement)
    documents.append(document(*current))
    return documents

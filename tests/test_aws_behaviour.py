"""What AWS services do with our roles, simulated: the catalogue in ``tests/aws_behaviour.yaml``.

Every entry is a request an AWS service makes with one of the product's roles, or as itself
against one of our resource policies (trust, key, bucket), with the page that documents it. Each
is simulated by iam-simulate against the rendered templates and must come out as the entry says
(Allowed unless it says otherwise); each negative twin (another tag, account, team or service)
must not be Allowed.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import iam
from iam_project import (
    ACCOUNT,
    DEFAULT,
    REGION,
    ROLE_IDS,
    Team,
    existing_resource,
    run,
    team,
    team_resource_policy,
)
from iamsim_client import Case, Request, engine_ready, explain

pytestmark = pytest.mark.skipif(engine_ready() is not None, reason=str(engine_ready()))

CATALOGUE = Path(__file__).with_name("aws_behaviour.yaml")
OTHER_ACCOUNT = "444455556666"
OTHER = team(
    "riskteam", "risk-project", "credit-risk-project", "p-mnopqrstuvwx", "0f0e0d0c-0b0a-4909-8807-060504030201"
)
SEED_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/5e5e5e5e-1111-2222-3333-444455556666"
TEAMS = {"default": DEFAULT, "with-seed-key": Team(DEFAULT.config, seed_code_key_arn=SEED_KEY)}
NOT_ALLOWED = {"ImplicitlyDenied", "ExplicitlyDenied"}
FIELDS = {
    "id",
    "actor",
    "as",
    "action",
    "resource",
    "context",
    "tags",
    "team",
    "source",
    "expect",
    "refused",
    "engine_gap",
}
TWIN_FIELDS = {"why", "as", "action", "resource", "context", "tags", "team"}


@functools.cache
def catalogue() -> list[dict[str, Any]]:
    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


def placeholders() -> dict[str, str]:
    t, o = DEFAULT, OTHER
    values = {
        "account": ACCOUNT,
        "other_account": OTHER_ACCOUNT,
        "region": REGION,
        "key_arn": t.key_arn,
        "other_key_arn": o.key_arn,
        "seed_key_arn": SEED_KEY,
        "bucket": t.bucket,
        "prefix": t.prefix,
        "other_prefix": o.prefix,
        "template_bucket": t.product_parameters["TemplateBucket"],
        "template_prefix": t.product_parameters["TemplatePrefix"],
        "namespace": t.config.namespace,
        "suffix": t.config.project_suffix,
        "boundary_arn": next(arn for arn in t.managed_policies if arn.endswith("-project-roles")),
        "other_boundary_arn": next(arn for arn in o.managed_policies if arn.endswith("-project-roles")),
    }
    values.update({f"role:{p}": t.role_arn(p) for p in ROLE_IDS})
    values.update({f"other_role:{p}": o.role_arn(p) for p in ROLE_IDS})
    return values


def fill(value: Any) -> Any:
    names = placeholders()
    if isinstance(value, str):
        return re.sub(r"\{([a-z_:]+)\}", lambda m: names[m.group(1)], value)
    if isinstance(value, dict):
        return {fill(k): fill(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- resource policies


def trust_policy(t: Team, role_arn: str) -> dict[str, Any] | None:
    for purpose in ROLE_IDS:
        if t.role_arn(purpose) == role_arn:
            return t.trust_document(purpose)
    return None


def default_key_policy() -> dict[str, Any]:
    """The policy KMS gives a key created without one ("Default key policy"): the account's IAM decides."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnableIamUserPermissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def resource_policy(action: str, arn: str) -> dict[str, Any] | None:
    if action == "sts:AssumeRole":
        return trust_policy(DEFAULT, arn)
    policy = team_resource_policy((DEFAULT, OTHER), arn)
    if policy is not None:
        return policy
    if arn == SEED_KEY:
        return default_key_policy()
    return None


# ---------------------------------------------------------------- cases


def tags_of(kind: str | None) -> tuple[dict[str, str] | None, dict[str, str]]:
    """(request tags, context of the existing resource) for ``tags: same|changed|new``.

    ``new``: a create carrying every required tag (no resource exists yet), so the tag guardrail
    does not decide and the entry shows what the role's own permissions say.
    """
    if kind is None:
        return None, {}
    current = DEFAULT.all_tags
    if kind == "new":
        return current, {}
    if kind == "same":
        return current, existing_resource(current)
    assert kind == "changed", f"tags: {kind!r} is none of same, changed, new"
    changed = dict(current)
    tag = next(tag for tag in DEFAULT.config.required_tags if tag.allowed_values and len(tag.allowed_values) > 1)
    changed[tag.key] = next(v for v in tag.allowed_values if v != current[tag.key])
    return changed, existing_resource(current)


def make_case(spec: dict[str, Any], label: str) -> Case:
    actor_kind, _, actor = spec["as"].partition(":")
    action, resource = spec["action"], fill(spec["resource"])
    tags, existing = tags_of(spec.get("tags"))
    context = {**existing, **fill(spec.get("context") or {})}
    request = Request(action, resource, tags=tags, context=context)
    policy = resource_policy(action, resource)
    if actor_kind == "service":
        return Case([], request, label=label, principal=fill(actor), resource_policy=policy)
    t = {"role": TEAMS[spec.get("team", "default")], "other-team-role": OTHER}[actor_kind]
    return Case(
        t.policies(actor),
        request,
        label=label,
        principal=t.role_arn(actor),
        resource_policy=policy,
        boundaries=t.boundaries(actor),
    )


def twins(entry: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    out = []
    for twin in entry.get("refused") or []:
        spec = {k: v for k, v in entry.items() if k not in ("refused", "expect")}
        spec.update({k: v for k, v in twin.items() if k != "why"})
        out.append((spec, f"{entry['id']} / refused: {twin['why']}"))
    return out


def explain_all(cases: list[tuple[Case, set[str]]]) -> list[str]:
    results = run([case for case, _ in cases], allow_ignored_context=True)
    return [
        f"{case.label}: {case.request.action} on {case.request.resource_arn} as {case.principal} -> expected "
        f"{' or '.join(sorted(expected))}, got {explain(result)}"
        for (case, expected), result in zip(cases, results, strict=True)
        if result["overallResult"] not in expected
    ]


# ---------------------------------------------------------------- tests


def test_every_entry_is_documented_and_well_formed():
    ids = [entry["id"] for entry in catalogue()]
    assert len(ids) == len(set(ids)), f"{CATALOGUE.name}: duplicate ids"
    for entry in catalogue():
        where = f"{CATALOGUE.name}: {entry.get('id')}"
        assert set(entry) <= FIELDS, f"{where}: unknown fields {sorted(set(entry) - FIELDS)}"
        assert {"id", "actor", "as", "action", "resource", "source"} <= set(entry), (
            f"{where}: a required field is missing"
        )
        assert entry["source"].startswith("https://docs.aws.amazon.com/"), (
            f"{where}: source must be the AWS page that documents it"
        )
        assert entry.get("refused"), f"{where}: every request needs a negative twin"
        for twin in entry["refused"]:
            assert set(twin) <= TWIN_FIELDS and twin.get("why"), (
                f"{where}: twin {twin} needs a why and known fields only"
            )


def simulated() -> list[dict[str, Any]]:
    return [entry for entry in catalogue() if "engine_gap" not in entry]


def test_every_service_request_comes_out_as_documented():
    cases = [(make_case(entry, entry["id"]), {entry.get("expect", "Allowed")}) for entry in simulated()]
    wrong = explain_all(cases)
    assert not wrong, f"{len(wrong)} of {len(cases)} catalogue requests differ:\n  " + "\n  ".join(wrong)


def test_every_negative_twin_is_refused():
    cases = [(make_case(spec, label), NOT_ALLOWED) for entry in simulated() for spec, label in twins(entry)]
    wrong = explain_all(cases)
    assert not wrong, f"{len(wrong)} of {len(cases)} negative twins were allowed:\n  " + "\n  ".join(wrong)


def test_every_role_is_assumed_in_the_catalogue_with_exactly_its_documented_condition():
    assumed = {entry["resource"]: entry for entry in catalogue() if entry["action"] == "sts:AssumeRole"}
    for purpose, principal in iam.SERVICE_PRINCIPALS.items():
        entry = assumed.get(f"{{role:{purpose}}}")
        assert entry, f"{CATALOGUE.name}: no entry has {principal} assume the {purpose} role"
        assert entry["as"] == f"service:{principal}", f"{CATALOGUE.name}: {entry['id']} is not made by {principal}"
        documented = iam.TRUST_CONDITIONS.get(purpose)
        sent = set(entry.get("context") or {})
        assert sent == ({documented[0]} if documented else set()), (
            f"{CATALOGUE.name}: {entry['id']} sends {sorted(sent)}, the trust condition expects {documented}"
        )


def test_every_trust_condition_cites_the_page_that_documents_it():
    for purpose, logical_id in ROLE_IDS.items():
        (statement,) = DEFAULT.role_properties(purpose)[1]["AssumeRolePolicyDocument"]["Statement"]
        keys = {key for block in (statement.get("Condition") or {}).values() for key in block}
        documented = iam.TRUST_CONDITIONS.get(purpose)
        assert keys == ({documented[0]} if documented else set()), (
            f"{logical_id} trust policy conditions on {sorted(keys)} without a documenting page"
        )
        if documented:
            assert documented[1].startswith("https://docs.aws.amazon.com/"), (
                f"iam.TRUST_CONDITIONS[{purpose!r}]: no AWS page"
            )


def test_the_launch_role_reads_service_catalogs_copy_only_with_the_provisioning_tag():
    """The statement Studio's first step needs, and nothing wider: the tag condition is on it."""
    (statement,) = [
        s
        for p in DEFAULT.policies("launch")
        for s in p["policy"]["Statement"]
        if s.get("Sid") == "AllowReadingServiceCatalogsCopyOfTheTemplate"
    ]
    assert statement["Condition"] == {
        "StringEquals": {f"s3:ExistingObjectTag/{iam.SERVICE_CATALOG_COPY_TAG}": "true"}
    }, (
        "product template: LaunchRolePolicy reads Service Catalog's copy without the documented tag condition: "
        f"{statement}"
    )


# ---------------------------------------------------------------- what the engine cannot evaluate


def matching_statements(policy: dict[str, Any], principal: str, action: str, context: dict[str, str]) -> list[str]:
    """Sids of Allow statements naming ``principal`` whose action and Arn/StringLike conditions match.

    Not an IAM engine: only for the documented statement shape of an ``engine_gap`` entry (one
    service principal, action wildcards, ArnLike/StringLike/StringEquals on the request's keys).
    """
    found = []
    for statement in policy["Statement"]:
        services = statement.get("Principal", {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if statement["Effect"] != "Allow" or principal not in services:
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if not any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in actions):
            continue
        conditions = statement.get("Condition", {})
        assert set(conditions) <= {"ArnLike", "StringLike", "StringEquals"}, (
            f"{statement.get('Sid')}: {sorted(conditions)}"
        )
        if all(
            key in context
            and any(
                fnmatch.fnmatchcase(context[key], value) for value in (values if isinstance(values, list) else [values])
            )
            for block in conditions.values()
            for key, values in block.items()
        ):
            found.append(statement.get("Sid"))
    return found


@pytest.mark.parametrize("entry", [e for e in catalogue() if "engine_gap" in e], ids=lambda e: e["id"])
def test_requests_the_engine_cannot_evaluate_match_the_documented_statement(entry):
    case = make_case(entry, entry["id"])
    (result,) = run([case], allow_ignored_context=True)
    assert set(entry["context"]) & set(result["ignoredContextKeys"]), (
        f"{entry['id']}: iam-simulate now evaluates {sorted(entry['context'])}; drop engine_gap and simulate it"
    )
    principal = case.principal
    allowed = matching_statements(case.resource_policy, principal, entry["action"], case.request.context_variables())
    assert allowed, (
        f"{entry['id']}: no key policy statement admits {principal} for {entry['action']} with {entry['context']}"
    )
    for spec, label in twins(entry):
        twin = make_case(spec, label)
        assert not matching_statements(
            twin.resource_policy, twin.principal, spec["action"], twin.request.context_variables()
        ), f"{label}: a key policy statement admits it"

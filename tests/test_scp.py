"""The organisation SCP (``generator/scp.py``): the team boundary for principals the platform team
does not give the product's Studio user policy.

Decided by iam-simulate with the SCP attached at the organisation root next to AWS's default
FullAWSAccess, and identity policies that allow everything (AWS's AdministratorAccess next to
AmazonSageMakerFullAccess), so every refusal below is the SCP's, named by its Sid, and every
attack is shown to succeed without it. Also: the committed file is what the generator builds,
the document fits the Organizations quota, every action is in IAM's action catalogue, and the
build gate refuses a bad policy without writing anything.
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from awacs.aws import Action, Allow, Deny, PolicyDocument, Principal, Statement
from click.testing import CliRunner

import cli
from generator import render, scp, tagging, validation
from generator.config import build_config
from iam_project import ACCOUNT, Team, team
from iamsim_client import IAMSIM_DIR, Case, Request, engine_ready, explain, simulate_detailed

needs_engine = pytest.mark.skipif(engine_ready() is not None, reason=str(engine_ready()))

TARGET = next(t for t in render.POLICY_TARGETS if t.name == "organisation-scp")
MANAGED = json.loads((Path(__file__).parent / "fixtures" / "aws-managed-policy-excerpts.json").read_text())
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ROOT_ID = "r-abcd"
NOT_ALLOWED = "ExplicitlyDenied"

A = team()  # mlops / custom-project
B = team("mlops", "risk-project", "credit-risk-project", "p-mnopqrstuvwx", "0f0e0d0c-0b0a-4909-8807-060504030201")
TEAM_A = tagging.team(A.config)
TEAM_B = tagging.team(B.config)


@functools.cache
def organisation_scp() -> dict[str, Any]:
    return json.loads(render.render_policy(TARGET, build_config()))


def control_policies(with_scp: bool = True) -> list[dict[str, Any]]:
    """Root (FullAWSAccess + the organisation SCP) and the account (FullAWSAccess), as attached."""
    root = [{"name": "FullAWSAccess", "policy": ALLOW_ALL}]
    if with_scp:
        root.append({"name": "OrganisationScp", "policy": organisation_scp()})
    return [
        {"orgIdentifier": ROOT_ID, "policies": root},
        {"orgIdentifier": ACCOUNT, "policies": [{"name": "FullAWSAccess", "policy": ALLOW_ALL}]},
    ]


# ---------------------------------------------------------------- principals


@dataclass(frozen=True)
class Caller:
    """A principal of the member account: its role ARN, its team tag (if any), policies allowing all."""

    arn: str
    team_tag: str | None = None
    label: str = ""

    def policies(self) -> list[dict[str, Any]]:
        return [
            {"name": "AmazonSageMakerFullAccess", "policy": MANAGED["AmazonSageMakerFullAccess"]},
            {"name": "AdministratorAccess", "policy": ALLOW_ALL},
        ]

    def context(self) -> dict[str, str]:
        keys = {"aws:PrincipalArn": self.arn, "aws:PrincipalAccount": ACCOUNT}
        if self.team_tag is not None:
            keys[f"aws:PrincipalTag/{tagging.TEAM_TAG}"] = self.team_tag
        return keys


def role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


# A person of team B whose Studio role the platform team tagged but never gave the user policy.
B_PERSON = Caller(role("AmazonSageMaker-ExecutionRole-risk"), TEAM_B, "team B person")
UNTAGGED_PERSON = Caller(role("AmazonSageMaker-ExecutionRole-legacy"), None, "untagged person")
PLATFORM_ADMIN = Caller(role("mlops-platform-admin"), None, "platform admin")
SERVICE_LINKED = Caller(
    role("aws-service-role/sagemaker.amazonaws.com/AWSServiceRoleForAmazonSageMakerNotebooks"),
    None,
    "service-linked role",
)


def product_role(t: Team, purpose: str) -> Caller:
    """One of the product's roles with the tags the product template gives it."""
    tags = t.role_tags(purpose)
    return Caller(t.role_arn(purpose), tags.get(tagging.TEAM_TAG), f"{t.label} {purpose} role")


# ---------------------------------------------------------------- requests


def on(
    team_tag: str | None,
    action: str,
    arn: str,
    *,
    tags: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
    key_prefix: str = "aws",
) -> Request:
    """``action`` on ``arn``, which carries the team tag ``team_tag`` (None: untagged)."""
    context = dict(extra or {})
    if team_tag is not None:
        context[f"{key_prefix}:ResourceTag/{tagging.TEAM_TAG}"] = team_tag
    return Request(action, arn, tags=tags, context=context)


def model_version(t: Team) -> str:
    return t.sm("model-package", f"{t.prefix}/3")


def model_group(t: Team) -> str:
    return t.sm("model-package-group", t.prefix)


def deploy_pipeline(t: Team) -> str:
    return t.arn("codepipeline", f"{t.prefix}-model-deploy")


def update_model_package(team_tag: str | None, t: Team) -> Request:
    return on(
        team_tag, "sagemaker:UpdateModelPackage", model_version(t), extra={"sagemaker:ModelApprovalStatus": "Approved"}
    )


def delete_model_group(team_tag: str | None, t: Team) -> Request:
    return on(team_tag, "sagemaker:DeleteModelPackageGroup", model_group(t))


def start_pipeline(team_tag: str | None, t: Team) -> Request:
    return on(team_tag, "codepipeline:StartPipelineExecution", deploy_pipeline(t))


def pass_role(role_arn: str, team_tag: str | None) -> Request:
    return on(
        team_tag, "iam:PassRole", role_arn, key_prefix="iam", extra={"iam:PassedToService": "sagemaker.amazonaws.com"}
    )


def tag_role(role_arn: str, current: str | None, new: str) -> Request:
    return on(current, "iam:TagRole", role_arn, tags={tagging.TEAM_TAG: new}, key_prefix="iam")


def add_tags(arn: str, current: str | None, tags: dict[str, str], creating: str | None = None) -> Request:
    """sagemaker:AddTags; ``creating``: the create call SageMaker authorises it for (sagemaker:TaggingAction)."""
    extra = {"sagemaker:TaggingAction": creating} if creating else None
    return on(current, "sagemaker:AddTags", arn, tags=tags, extra=extra)


# ---------------------------------------------------------------- running


def payload(caller: Caller, request: Request, with_scp: bool) -> dict[str, Any]:
    context = {**caller.context(), "aws:ResourceAccount": ACCOUNT, **(request.context or {})}
    case = Case(
        caller.policies(), Request(request.action, request.resource_arn, request.tags, context), principal=caller.arn
    )
    return {**case.to_json("0"), "serviceControlPolicies": control_policies(with_scp)}


def check(cases: list[tuple[Caller, Request, str, str | None]], with_scp: bool = True) -> None:
    """(caller, request, expected result, Sid that must deny it or None); fail naming every mismatch."""
    results = simulate_detailed([payload(caller, request, with_scp) for caller, request, _, _ in cases])
    wrong = []
    for (caller, request, expected, sid), result in zip(cases, results, strict=True):
        deniers = {
            d.get("statementId")
            for d in result.get("denials", [])
            if d.get("denialType") == "Explicit" and d.get("policyIdentifier") == "OrganisationScp"
        }
        if result["overallResult"] != expected or (sid is not None and sid not in deniers):
            wrong.append(
                f"{caller.label}: {request.action} on {request.resource_arn} "
                f"context={json.dumps(request.context_variables(), sort_keys=True)} -> expected {expected}"
                f"{f' by {sid}' if sid else ''}, got {explain(result)}"
            )
    assert not wrong, f"{len(wrong)} of {len(cases)} simulations differ:\n  " + "\n  ".join(wrong)


# Team A's things a team-B person has no business with, and the statement that refuses each.
ATTACKS_ON_A = [
    (pass_role(A.role_arn("sagemaker"), TEAM_A), "DenyPassingOrRetaggingAnotherTeamsRoles"),
    (pass_role(A.role_arn("cloudformation"), TEAM_A), "DenyPassingOrRetaggingAnotherTeamsRoles"),
    (update_model_package(TEAM_A, A), "DenyActingOnAnotherTeamsResources"),
    (delete_model_group(TEAM_A, A), "DenyActingOnAnotherTeamsResources"),
    (start_pipeline(TEAM_A, A), "DenyActingOnAnotherTeamsResources"),
    (add_tags(model_group(A), TEAM_A, {"env": "dev"}), "DenyActingOnAnotherTeamsResources"),
]


# ---------------------------------------------------------------- the boundary


@needs_engine
def test_another_teams_person_is_refused_everything_of_team_a():
    check([(B_PERSON, request, NOT_ALLOWED, sid) for request, sid in ATTACKS_ON_A])


@needs_engine
def test_without_the_scp_every_attack_succeeds():
    """The identity policies allow all of it: the refusals above are the SCP's."""
    check([(B_PERSON, request, "Allowed", None) for request, _ in ATTACKS_ON_A], with_scp=False)


@needs_engine
def test_a_person_works_on_their_own_teams_and_on_untagged_resources():
    check(
        [
            (B_PERSON, pass_role(B.role_arn("sagemaker"), TEAM_B), "Allowed", None),
            (B_PERSON, update_model_package(TEAM_B, B), "Allowed", None),
            (B_PERSON, delete_model_group(TEAM_B, B), "Allowed", None),
            (B_PERSON, start_pipeline(TEAM_B, B), "Allowed", None),
            (B_PERSON, add_tags(model_group(B), TEAM_B, {"env": "dev"}), "Allowed", None),
            (
                B_PERSON,
                add_tags(model_group(B), None, {tagging.TEAM_TAG: TEAM_B}, creating="CreateModelPackageGroup"),
                "Allowed",
                None,
            ),
            # untagged resources are nobody's: the SCP leaves them alone
            (B_PERSON, pass_role(role("AmazonSageMaker-ExecutionRole-legacy"), None), "Allowed", None),
            (B_PERSON, update_model_package(None, A), "Allowed", None),
            (B_PERSON, delete_model_group(None, A), "Allowed", None),
            (B_PERSON, start_pipeline(None, A), "Allowed", None),
            # other tags of one's own role are not the SCP's business
            (
                B_PERSON,
                on(TEAM_B, "iam:TagRole", B_PERSON.arn, tags={"owner": "risk"}, key_prefix="iam"),
                "Allowed",
                None,
            ),
        ]
    )


@needs_engine
def test_nobody_moves_themselves_or_a_resource_into_another_team():
    own_role = B_PERSON.arn
    check(
        [
            (B_PERSON, tag_role(own_role, TEAM_B, TEAM_A), NOT_ALLOWED, "DenyTaggingIntoAnotherTeam"),
            (
                B_PERSON,
                on(TEAM_B, "iam:UntagRole", own_role, key_prefix="iam", extra={"aws:TagKeys": [tagging.TEAM_TAG]}),
                NOT_ALLOWED,
                "DenyRelabellingPrincipalsAndRemovingTeamTags",
            ),
            (
                B_PERSON,
                Request("iam:CreateRole", role("looks-like-team-a"), tags={tagging.TEAM_TAG: TEAM_A}),
                NOT_ALLOWED,
                "DenyTaggingIntoAnotherTeam",
            ),
            (
                B_PERSON,
                Request("sts:TagSession", A.role_arn("sagemaker"), tags={tagging.TEAM_TAG: TEAM_A}),
                NOT_ALLOWED,
                "DenyRelabellingPrincipalsAndRemovingTeamTags",
            ),
            (
                UNTAGGED_PERSON,
                tag_role(UNTAGGED_PERSON.arn, None, TEAM_A),
                NOT_ALLOWED,
                "DenyTaggingIntoAnotherTeam",
            ),
            # the team tag key compares without case, as IAM's tag keys do
            (
                B_PERSON,
                Request(
                    "iam:TagRole",
                    own_role,
                    tags={"MLOps:Team": TEAM_A},
                    context={f"iam:ResourceTag/{tagging.TEAM_TAG}": TEAM_B},
                ),
                NOT_ALLOWED,
                "DenyTaggingIntoAnotherTeam",
            ),
            (
                B_PERSON,
                add_tags(model_group(B), TEAM_B, {tagging.TEAM_TAG: TEAM_A}),
                NOT_ALLOWED,
                "DenyTaggingIntoAnotherTeam",
            ),
            (
                B_PERSON,
                add_tags(model_group(B), None, {tagging.TEAM_TAG: TEAM_A}, creating="CreateModelPackageGroup"),
                NOT_ALLOWED,
                "DenyTaggingIntoAnotherTeam",
            ),
            (
                B_PERSON,
                on(TEAM_B, "codepipeline:TagResource", deploy_pipeline(B), tags={tagging.TEAM_TAG: TEAM_A}),
                NOT_ALLOWED,
                "DenyTaggingIntoAnotherTeam",
            ),
            (
                B_PERSON,
                on(TEAM_B, "sagemaker:DeleteTags", model_group(B), extra={"aws:TagKeys": [tagging.TEAM_TAG]}),
                NOT_ALLOWED,
                "DenyRelabellingPrincipalsAndRemovingTeamTags",
            ),
            (
                B_PERSON,
                on(TEAM_B, "codepipeline:UntagResource", deploy_pipeline(B), extra={"aws:TagKeys": [tagging.TEAM_TAG]}),
                NOT_ALLOWED,
                "DenyRelabellingPrincipalsAndRemovingTeamTags",
            ),
        ]
    )


@needs_engine
def test_a_person_without_the_team_tag_is_refused_on_every_teams_resources():
    """IAM gives a missing policy variable no value; the SCP's default `(none)` makes the
    comparison explicit, so an untagged caller is unequal to every team."""
    cases = []
    for t, team_tag in ((A, TEAM_A), (B, TEAM_B)):
        cases += [
            (
                UNTAGGED_PERSON,
                pass_role(t.role_arn("sagemaker"), team_tag),
                NOT_ALLOWED,
                "DenyPassingOrRetaggingAnotherTeamsRoles",
            ),
            (UNTAGGED_PERSON, update_model_package(team_tag, t), NOT_ALLOWED, "DenyActingOnAnotherTeamsResources"),
            (UNTAGGED_PERSON, delete_model_group(team_tag, t), NOT_ALLOWED, "DenyActingOnAnotherTeamsResources"),
            (UNTAGGED_PERSON, start_pipeline(team_tag, t), NOT_ALLOWED, "DenyActingOnAnotherTeamsResources"),
            (
                UNTAGGED_PERSON,
                add_tags(model_group(t), None, {tagging.TEAM_TAG: team_tag}, creating="CreateModelPackageGroup"),
                NOT_ALLOWED,
                "DenyTaggingIntoAnotherTeam",
            ),
        ]
    # and keeps what is nobody's
    cases += [
        (UNTAGGED_PERSON, update_model_package(None, A), "Allowed", None),
        (UNTAGGED_PERSON, start_pipeline(None, A), "Allowed", None),
        (UNTAGGED_PERSON, pass_role(role("AmazonSageMaker-ExecutionRole-legacy"), None), "Allowed", None),
    ]
    check(cases)


@needs_engine
def test_the_platform_admin_tags_people_and_runs_every_teams_stacks():
    check(
        [
            (PLATFORM_ADMIN, tag_role(B_PERSON.arn, None, TEAM_B), "Allowed", None),
            (PLATFORM_ADMIN, tag_role(B_PERSON.arn, TEAM_B, TEAM_A), "Allowed", None),
            (
                PLATFORM_ADMIN,
                on(TEAM_B, "iam:UntagRole", B_PERSON.arn, key_prefix="iam", extra={"aws:TagKeys": [tagging.TEAM_TAG]}),
                "Allowed",
                None,
            ),
            # the product stack creates the team's tagged roles and a launch constraint passes one
            (
                PLATFORM_ADMIN,
                Request("iam:CreateRole", A.role_arn("launch"), tags={tagging.TEAM_TAG: TEAM_A}),
                "Allowed",
                None,
            ),
            (PLATFORM_ADMIN, pass_role(A.role_arn("launch"), TEAM_A), "Allowed", None),
            # teardown deletes what a project left
            (PLATFORM_ADMIN, delete_model_group(TEAM_A, A), "Allowed", None),
            (
                PLATFORM_ADMIN,
                on(TEAM_A, "sagemaker:DeleteTags", model_group(A), extra={"aws:TagKeys": [tagging.TEAM_TAG]}),
                "Allowed",
                None,
            ),
            # a role merely *named* like an admin under a path is not one
            (
                Caller(role("team-b/mlops-platform-admin"), TEAM_B, "pathed look-alike"),
                tag_role(B_PERSON.arn, TEAM_B, TEAM_A),
                NOT_ALLOWED,
                "DenyTaggingIntoAnotherTeam",
            ),
        ]
    )


@needs_engine
def test_nobody_else_makes_themselves_a_platform_admin():
    """The exemption goes by role name: creating such a role, or making an existing one trust
    you or do more, is the platform admins' alone (the callers here may do anything in IAM)."""
    admin_role = PLATFORM_ADMIN.arn
    look_alike = role("mlops-platform-admin-mine")
    admin_policy = {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
    cases = []
    for caller in (B_PERSON, UNTAGGED_PERSON):
        cases += [
            (caller, Request("iam:CreateRole", look_alike), NOT_ALLOWED, "DenyClaimingThePlatformAdminRoles"),
            (
                caller,
                Request("iam:UpdateAssumeRolePolicy", admin_role),
                NOT_ALLOWED,
                "DenyClaimingThePlatformAdminRoles",
            ),
            (
                caller,
                Request("iam:AttachRolePolicy", admin_role, context=admin_policy),
                NOT_ALLOWED,
                "DenyClaimingThePlatformAdminRoles",
            ),
            (caller, Request("iam:PutRolePolicy", admin_role), NOT_ALLOWED, "DenyClaimingThePlatformAdminRoles"),
            (
                caller,
                Request("iam:DeleteRolePermissionsBoundary", admin_role),
                NOT_ALLOWED,
                "DenyClaimingThePlatformAdminRoles",
            ),
            # other roles stay theirs to manage
            (caller, Request("iam:CreateRole", role("my-own-role")), "Allowed", None),
        ]
    cases += [
        (PLATFORM_ADMIN, Request("iam:CreateRole", role("mlops-platform-admin-2")), "Allowed", None),
        (PLATFORM_ADMIN, Request("iam:UpdateAssumeRolePolicy", admin_role), "Allowed", None),
    ]
    check(cases)


@needs_engine
def test_service_linked_roles_are_not_blocked():
    check(
        [
            (SERVICE_LINKED, update_model_package(TEAM_A, A), "Allowed", None),
            (SERVICE_LINKED, delete_model_group(TEAM_A, A), "Allowed", None),
            (
                SERVICE_LINKED,
                on(TEAM_A, "sagemaker:DeleteTags", model_group(A), extra={"aws:TagKeys": [tagging.TEAM_TAG]}),
                "Allowed",
                None,
            ),
            (SERVICE_LINKED, pass_role(A.role_arn("sagemaker"), TEAM_A), "Allowed", None),
        ]
    )


@needs_engine
def test_the_products_own_roles_keep_working_and_stay_in_their_team():
    """With the tags the product template gives them: the boundary does not break the product."""
    launch, deploy, events = product_role(A, "launch"), product_role(A, "cloudformation"), product_role(A, "events")
    pipeline = product_role(A, "sagemaker")
    assert {launch.team_tag, deploy.team_tag, events.team_tag, pipeline.team_tag} == {TEAM_A}, (
        "product roles lack the team tag"
    )
    project_tags = {**A.all_tags, tagging.TEAM_TAG: TEAM_A}
    check(
        [
            (launch, add_tags(model_group(A), None, project_tags, creating="CreateModelPackageGroup"), "Allowed", None),
            (launch, pass_role(A.role_arn("codebuild"), TEAM_A), "Allowed", None),
            (deploy, pass_role(A.role_arn("sagemaker"), TEAM_A), "Allowed", None),
            (
                deploy,
                add_tags(A.sm("endpoint", f"{A.prefix}-staging"), None, project_tags, creating="CreateEndpoint"),
                "Allowed",
                None,
            ),
            (events, start_pipeline(TEAM_A, A), "Allowed", None),
            (pipeline, on(TEAM_A, "sagemaker:DescribeModelPackageGroup", model_group(A)), "Allowed", None),
            # and across the boundary they are refused like anyone
            (
                pipeline,
                on(TEAM_B, "sagemaker:DescribeModelPackageGroup", model_group(B)),
                NOT_ALLOWED,
                "DenyActingOnAnotherTeamsResources",
            ),
            (
                deploy,
                pass_role(B.role_arn("sagemaker"), TEAM_B),
                NOT_ALLOWED,
                "DenyPassingOrRetaggingAnotherTeamsRoles",
            ),
        ]
    )


# ---------------------------------------------------------------- the document


def test_committed_scp_is_what_the_generator_builds():
    committed = render.ROOT / TARGET.path
    assert committed.exists(), f"{TARGET.path} is missing: run `make build` and commit it"
    assert committed.read_text(encoding="utf-8") == render.render_policy(TARGET, build_config()), (
        f"{TARGET.path} differs from what {TARGET.module} generates: run `make build` and commit"
    )


def test_rendering_is_deterministic_sorted_and_one_space_indented():
    text = render.render_policy(TARGET, build_config())
    assert text == render.render_policy(TARGET, build_config())
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=1) + "\n"


def test_one_document_for_every_team():
    """Organisation-wide: no configuration value reaches the document (it compares tags through a
    policy variable), so the longest configuration gives the same bytes."""
    texts = {
        render.render_policy(TARGET, build_config(values))
        for values in (
            None,
            {"namespace": "n" * 20, "project_suffix": "s" * 13},
            {"namespace": "team-b", "project_suffix": "risk-project", "source_provider": "codeconnections"},
        )
    }
    assert len(texts) == 1
    assert TEAM_A not in texts.pop()


def test_fits_the_organizations_quota_as_written_and_with_more_admin_patterns():
    text = render.render_policy(TARGET, build_config())
    assert validation.check_policy(TARGET.path, text) == []
    compact = len(json.dumps(json.loads(text), separators=(",", ":")))
    assert len(text) <= validation.SCP_MAX_CHARACTERS and compact <= validation.SCP_MAX_CHARACTERS
    # Room for an organisation's own admin patterns: two more, each with IAM's longest role name.
    longest = [f"arn:*:iam::*:role/platform/{c * 64}" for c in "xy"]
    more = render.policy_json(scp.organisation_scp(build_config(), (scp.PLATFORM_ADMIN_ROLE_ARN, *longest)))
    assert validation.check_policy("more admins", more) == [], f"{len(more)} characters"


def test_statements_say_their_intent_and_only_deny():
    document = organisation_scp()
    assert document["Version"] == "2012-10-17"
    assert [s["Sid"] for s in document["Statement"]] == [
        "DenyPassingOrRetaggingAnotherTeamsRoles",
        "DenyActingOnAnotherTeamsResources",
        "DenyRelabellingPrincipalsAndRemovingTeamTags",
        "DenyTaggingIntoAnotherTeam",
        "DenyClaimingThePlatformAdminRoles",
    ]
    for statement in document["Statement"]:
        assert statement["Effect"] == "Deny" and "Principal" not in statement and "NotPrincipal" not in statement
        assert statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
            scp.PLATFORM_ADMIN_ROLE_ARN,
            scp.SERVICE_LINKED_ROLE_ARN,
        ]


def test_every_action_is_in_iams_action_catalogue():
    data = IAMSIM_DIR / "node_modules" / "@cloud-copilot" / "iam-data" / "data" / "actions"
    if not data.is_dir():
        pytest.skip(f"{data} is missing: run `make test` (npm ci in tests/iamsim)")
    unknown = []
    for statement in organisation_scp()["Statement"]:
        for action in statement["Action"]:
            service, _, name = action.partition(":")
            catalogue = data / f"{service}.json"
            if not catalogue.is_file():
                unknown.append(f"{action}: no service {service}")
            elif name != "*" and name.lower() not in json.loads(catalogue.read_text()):
                unknown.append(f"{action}: not an action of {service}")
    assert not unknown, unknown


# ---------------------------------------------------------------- the gate


def _policy(*statements, **extra) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements), **extra}, indent=1)


DENY = {"Sid": "DenyX", "Effect": "Deny", "Action": "sagemaker:*", "Resource": "*"}


@pytest.mark.parametrize(
    "text, rule, words",
    [
        ("{not json", "SCP-JSON", "not JSON"),
        ("[]", "SCP-GRAMMAR", "JSON object"),
        (_policy(DENY).replace("2012-10-17", "2008-10-17"), "SCP-GRAMMAR", "Version must be 2012-10-17"),
        (_policy(), "SCP-GRAMMAR", "non-empty list"),
        (_policy({**DENY, "Effect": "Refuse"}), "SCP-GRAMMAR", "Effect must be Allow or Deny"),
        (_policy({**DENY, "Principal": "*"}), "SCP-GRAMMAR", "Principal: an SCP applies"),
        (_policy({**DENY, "Action": "PassRole"}), "SCP-GRAMMAR", "is not service:Action"),
        (_policy({k: v for k, v in DENY.items() if k != "Resource"}), "SCP-GRAMMAR", "exactly one of Resource"),
        (_policy({**DENY, "NotAction": "iam:*"}), "SCP-GRAMMAR", "exactly one of Action"),
        (_policy(DENY, DENY), "SCP-GRAMMAR", "Sid used twice"),
        (_policy({**DENY, "Sid": "Deny-X"}), "SCP-GRAMMAR", "letters and digits"),
        (_policy({**DENY, "Condition": {"StringEquals": {"aws:x": 1}}}), "SCP-GRAMMAR", "map keys to strings"),
        (_policy(DENY, Id="x"), "SCP-GRAMMAR", "Id: not a policy element"),
        (
            _policy({**DENY, "Action": [f"sagemaker:Action{i:04d}" for i in range(300)]}),
            "SCP-SIZE",
            "without whitespace",
        ),
        (_policy({**DENY, "Action": [f"s:A{i:03d}" for i in range(450)]}), "SCP-SIZE", "as written"),
    ],
)
def test_check_policy_names_each_problem(text, rule, words):
    findings = validation.check_policy("organisation-scp.json", text)
    assert any(f.rule == rule and words in f.message for f in findings), [str(f) for f in findings]


def build(config):
    """A policy target the gate refuses (too large), used as a stand-in generator module."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="DenyEverything",
                Effect=Deny,
                Action=[Action("sagemaker", f"Action{i:04d}") for i in range(400)],
                Resource=["*"],
            ),
            Statement(
                Sid="AllowToSomeone",
                Effect=Allow,
                Principal=Principal("AWS", "*"),
                Action=[Action("s3", "*")],
                Resource=["*"],
            ),
        ],
    )


def test_a_refused_policy_stops_the_build_and_nothing_is_written(tmp_path, monkeypatch):
    bad = render.Target("bad-scp", sys.modules[__name__], "templates_out/organisation-scp.json")
    monkeypatch.setattr(render, "POLICY_TARGETS", (bad,))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.main, ["build", "--output-dir", str(out)])
    assert result.exit_code == 1, result.output
    assert "nothing was written" in result.output
    assert "SCP-SIZE" in result.output and "Statement/AllowToSomeone" in result.output
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*")), "the gate let a file through"


def test_build_writes_the_scp_with_the_templates(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.main, ["build", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    written = out / TARGET.path
    assert f"wrote {written}" in result.output
    assert written.read_bytes() == (render.ROOT / TARGET.path).read_bytes()
    assert oct(written.stat().st_mode & 0o777) == "0o644"


@needs_engine
def test_the_launch_role_creates_its_projects_roles_under_the_scp_and_no_other_teams():
    """Each project stack creates its roles, tagged with its team, as the team's launch role: the
    SCP lets that through and nothing that would create or re-tag a principal of another team."""
    launch = product_role(A, "launch")
    assert launch.team_tag == TEAM_A, "the launch role carries its team's tag"
    own = A.role_arn("codebuild")
    theirs = B.role_arn("codebuild")

    def tagged(action: str, arn: str, team: str, existing: str | None = None) -> Request:
        return on(existing, action, arn, tags={tagging.TEAM_TAG: team}, key_prefix="iam")

    check(
        [
            (launch, tagged("iam:CreateRole", own, TEAM_A), "Allowed", None),
            (launch, tagged("iam:TagRole", own, TEAM_A), "Allowed", None),
            (launch, tagged("iam:TagRole", own, TEAM_A, existing=TEAM_A), "Allowed", None),
            (launch, tagged("iam:CreateRole", theirs, TEAM_B), NOT_ALLOWED, "DenyTaggingIntoAnotherTeam"),
            (
                launch,
                tagged("iam:TagRole", theirs, TEAM_A, existing=TEAM_B),
                NOT_ALLOWED,
                "DenyPassingOrRetaggingAnotherTeamsRoles",
            ),
            (
                launch,
                tagged("iam:UntagRole", own, TEAM_A, existing=TEAM_A),
                NOT_ALLOWED,
                "DenyRelabellingPrincipalsAndRemovingTeamTags",
            ),
            (UNTAGGED_PERSON, tagged("iam:CreateRole", own, TEAM_A), NOT_ALLOWED, "DenyTaggingIntoAnotherTeam"),
            (B_PERSON, tagged("iam:CreateRole", own, TEAM_A), NOT_ALLOWED, "DenyTaggingIntoAnotherTeam"),
        ]
    )

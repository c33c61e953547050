"""The team boundary against the principals that really exist in a SageMaker account.

Not only the product's own roles: the people of this and of other teams (Studio execution roles
with AWS's AmazonSageMakerFullAccess, as published; ``tests/fixtures/aws-managed-policy-excerpts.json``)
with or without the product's Studio user policy, a job role with AWS's
AmazonSageMakerJobFullAccess, and another account. Teams: two sharing the default namespace,
two whose namespaces are prefixes of each other, and an outside account. Every attack is
refused and every legitimate request still allowed, decided by iam-simulate on the rendered
templates with the resource's own policy (bucket, key, trust) applied and the keys AWS always
sends supplied (``iam_project.with_request_keys``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from generator import iam, tagging
from generator.tagging import TEAM_TAG
from iam_project import ACCOUNT, DEFAULT, REGION, Team, check, team, team_resource_policy
from iamsim_client import Case, Request, engine_ready

pytestmark = pytest.mark.skipif(engine_ready() is not None, reason=str(engine_ready()))

MANAGED = json.loads((Path(__file__).parent / "fixtures" / "aws-managed-policy-excerpts.json").read_text())
OUTSIDE_ACCOUNT = "999988887777"
NOT_ALLOWED = {"ImplicitlyDenied", "ExplicitlyDenied"}

A = DEFAULT  # mlops / custom-project, project fraud-custom-project
SHARED_NAMESPACE = team(
    "mlops", "risk-project", "credit-risk-project", "p-mnopqrstuvwx", "0f0e0d0c-0b0a-4909-8807-060504030201"
)
# Namespace `mlops-p` starts like `mlops`: A's name patterns (`mlops-p-*-<account>` buckets) match its names.
PREFIXED_NAMESPACE = team(
    "mlops-p", "custom-project", "churn-custom-project", "p-qrstuvwxyzab", "0a0b0c0d-1111-2222-3333-444455556666"
)


@dataclass(frozen=True)
class Person:
    """A Studio execution role: AWS's managed policy, maybe the product's user policy, its tags."""

    name: str
    of: Team | None = None  # the team whose Studio user policy is attached (and whose tag it carries)
    tags: dict[str, str] = field(default_factory=dict)
    managed: str = "AmazonSageMakerFullAccess"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{self.name}"

    def policies(self) -> list[dict[str, Any]]:
        policies = [{"name": self.managed, "policy": MANAGED[self.managed]}]
        if self.of is not None:
            policies.append({"name": "StudioUserPolicy", "policy": studio_user_policy(self.of)})
        return policies

    def context(self) -> dict[str, str]:
        tags = dict(self.tags)
        if self.of is not None:
            tags.setdefault(tagging.TEAM_TAG, tagging.team(self.of.config))
        return {f"aws:PrincipalTag/{key}": value for key, value in tags.items()}


@functools.cache
def studio_user_policy(t: Team) -> dict[str, Any]:
    document = t.product["Resources"]["StudioUserPolicy"]["Properties"]["PolicyDocument"]
    return t.resolve_product(
        document, where=f"product template ({t.label}): StudioUserPolicy", resources={"ProjectKey.Arn": t.key_arn}
    )


def open_repository_policy() -> dict[str, Any]:
    """A repository of another account that lets anyone pull (AWS's image repositories do; an
    attacker's would): the pulling role's own policy is then what decides."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AnyonePulls",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            }
        ],
    }


def resource_policy(arn: str) -> dict[str, Any] | None:
    if arn.startswith("arn:aws:ecr:") and arn.split(":")[4] != ACCOUNT:
        return open_repository_policy()
    return team_resource_policy((A, SHARED_NAMESPACE, PREFIXED_NAMESPACE), arn)


def as_person(person: Person, request: Request, label: str) -> Case:
    context = {**person.context(), **(request.context or {})}
    return Case(
        person.policies(),
        Request(request.action, request.resource_arn, request.tags, context),
        label=f"{person.name}: {label}",
        principal=person.arn,
        resource_policy=resource_policy(request.resource_arn),
    )


def as_role(t: Team, purpose: str, request: Request, label: str) -> Case:
    return Case(
        t.policies(purpose),
        request,
        label=f"{t.label} {purpose} role: {label}",
        principal=t.role_arn(purpose),
        resource_policy=resource_policy(request.resource_arn),
        boundaries=t.boundaries(purpose),
    )


# ---------------------------------------------------------------- the principals

A_SCIENTIST = Person("AmazonSageMaker-ExecutionRole-fraud", of=A)
A_APPROVER = Person("AmazonSageMaker-ExecutionRole-fraud-lead", of=A, tags={tagging.APPROVER_TAG: "true"})
B_SCIENTIST = Person("AmazonSageMaker-ExecutionRole-risk", of=SHARED_NAMESPACE)
B_APPROVER = Person("AmazonSageMaker-ExecutionRole-risk-lead", of=SHARED_NAMESPACE, tags={tagging.APPROVER_TAG: "true"})
# Another team's person whose role the platform team never gave the product's policy: the SCP's case.
UNMANAGED_SCIENTIST = Person("AmazonSageMaker-ExecutionRole-legacy")
JOB_ROLE = Person("AmazonSageMaker-JobRole-anyone", managed="AmazonSageMakerJobFullAccess")


# ---------------------------------------------------------------- requests on team A


def object_of(t: Team, key: str = "model/model.tar.gz") -> str:
    return f"arn:aws:s3:::{t.bucket}/{key}"


def via(service: str) -> dict[str, str]:
    return {"kms:ViaService": f"{service}.{REGION}.amazonaws.com"}


def pass_role(t: Team, purpose: str) -> Request:
    return Request(
        "iam:PassRole",
        t.role_arn(purpose),
        context={
            "iam:PassedToService": "sagemaker.amazonaws.com",
            **{f"iam:ResourceTag/{k}": v for k, v in t.role_tags(purpose).items()},
        },
    )


def approve(t: Team, version: int = 3) -> Request:
    return Request(
        "sagemaker:UpdateModelPackage",
        t.sm("model-package", f"{t.prefix}/{version}"),
        context={"sagemaker:ModelApprovalStatus": "Approved"},
    )


def on_tagged(t: Team, action: str, arn: str) -> Request:
    team_tags = {tagging.TEAM_TAG: tagging.team(t.config)}
    return Request(action, arn, context={f"aws:ResourceTag/{k}": v for k, v in {**t.all_tags, **team_tags}.items()})


# ---------------------------------------------------------------- tests


def test_the_teams_people_can_do_their_work():
    check(
        [
            (as_person(A_SCIENTIST, Request("s3:GetObject", object_of(A)), "read the project's data"), "Allowed"),
            (
                as_person(
                    A_SCIENTIST, Request("s3:PutObject", object_of(A, "data/new.csv")), "write the project's data"
                ),
                "Allowed",
            ),
            (
                as_person(A_SCIENTIST, Request("kms:Decrypt", A.key_arn, context=via("s3")), "decrypt through S3"),
                "Allowed",
            ),
            (
                as_person(
                    A_SCIENTIST,
                    Request("kms:GenerateDataKey", A.key_arn, context=via("sagemaker")),
                    "encrypt a job's output",
                ),
                "Allowed",
            ),
            (as_person(A_SCIENTIST, pass_role(A, "sagemaker"), "run a job as the team's SageMaker role"), "Allowed"),
            (
                as_person(
                    A_SCIENTIST,
                    on_tagged(A, "sagemaker:DescribeModelPackageGroup", A.sm("model-package-group", A.prefix)),
                    "look at the team's registry",
                ),
                "Allowed",
            ),
            (as_person(A_APPROVER, approve(A), "approve a model version of the team"), "Allowed"),
            (
                as_person(
                    A_SCIENTIST,
                    on_tagged(A, "codebuild:BatchGetProjects", A.arn("codebuild", f"project/{A.prefix}-model-build")),
                    "read the model build's settings (the seed notebook does)",
                ),
                "Allowed",
            ),
        ]
    )


def test_another_teams_people_touch_nothing_of_this_team():
    attacks = [
        (pass_role(A, "sagemaker"), "pass A's SageMaker role (then run as it)"),
        (pass_role(A, "cloudformation"), "pass A's deploy role"),
        (Request("s3:GetObject", object_of(A)), "read A's data"),
        (Request("s3:PutObject", object_of(A, "data/poison.csv")), "overwrite A's data"),
        (Request("kms:Decrypt", A.key_arn, context=via("s3")), "decrypt with A's key through S3"),
        (Request("kms:Decrypt", A.key_arn), "decrypt with A's key directly"),
        (approve(A), "approve A's model version (starts A's deploy)"),
        (
            on_tagged(A, "sagemaker:DeleteModelPackageGroup", A.sm("model-package-group", A.prefix)),
            "delete A's registry",
        ),
        (
            on_tagged(A, "codepipeline:StartPipelineExecution", A.arn("codepipeline", f"{A.prefix}-model-deploy")),
            "start A's deploy pipeline",
        ),
        (on_tagged(A, "sagemaker:AddTags", A.sm("model-package-group", A.prefix)), "re-tag A's registry"),
        (
            on_tagged(A, "codebuild:BatchGetProjects", A.arn("codebuild", f"project/{A.prefix}-model-build")),
            "read A's build settings",
        ),
    ]
    cases = [
        (as_person(person, request, label), NOT_ALLOWED)
        for person in (B_SCIENTIST, B_APPROVER)
        for request, label in attacks
    ]
    check(cases)


def test_principals_without_the_teams_tag_get_no_data_whatever_their_managed_policy():
    """A job role with AmazonSageMakerJobFullAccess may read any bucket and use any key of its
    account through S3 by its identity policy; the bucket and key policies refuse it."""
    check(
        [
            (as_person(person, request, label), NOT_ALLOWED)
            for person in (JOB_ROLE, UNMANAGED_SCIENTIST)
            for request, label in (
                (Request("s3:GetObject", object_of(A)), "read A's data"),
                (Request("s3:ListBucket", f"arn:aws:s3:::{A.bucket}"), "list A's bucket"),
                (Request("kms:Decrypt", A.key_arn, context=via("s3")), "decrypt with A's key through S3"),
                (Request("kms:GenerateDataKey", A.key_arn, context=via("s3")), "encrypt with A's key through S3"),
            )
        ]
    )


def test_a_person_tagged_into_the_team_without_the_user_policy_still_needs_an_identity_grant():
    """The key policy delegates team data use to IAM: a tag alone opens nothing."""
    tagged_only = Person(
        "AmazonSageMaker-ExecutionRole-tagged",
        tags={tagging.TEAM_TAG: tagging.team(A.config)},
        managed="AmazonSageMakerFullAccess",
    )
    check([(as_person(tagged_only, Request("kms:Decrypt", A.key_arn, context=via("s3")), "decrypt"), NOT_ALLOWED)])


@pytest.mark.parametrize(
    "other", [SHARED_NAMESPACE, PREFIXED_NAMESPACE], ids=["shared-namespace", "prefixed-namespace"]
)
def test_teams_with_overlapping_names_cannot_reach_each_others_data(other):
    """`mlops-p` starts like `mlops`: A's bucket scope `mlops-p-*-<account>` matches the other
    team's bucket names. The bucket and key policies decide by the team tag, not the name."""
    cases = []
    for actor, owner in ((A, other), (other, A)):
        for purpose in ("sagemaker", "codebuild", "codepipeline"):
            cases += [
                (
                    as_role(actor, purpose, Request("s3:GetObject", object_of(owner)), f"read {owner.label}'s data"),
                    NOT_ALLOWED,
                ),
                (
                    as_role(
                        actor,
                        purpose,
                        Request("s3:PutObject", object_of(owner, "data/x.csv")),
                        f"write {owner.label}'s data",
                    ),
                    NOT_ALLOWED,
                ),
                (
                    as_role(
                        actor,
                        purpose,
                        Request("kms:Decrypt", owner.key_arn, context=via("s3")),
                        f"decrypt with {owner.label}'s key",
                    ),
                    NOT_ALLOWED,
                ),
            ]
        # and each still reads its own
        cases.append(
            (as_role(actor, "sagemaker", Request("s3:GetObject", object_of(actor)), "read its own data"), "Allowed")
        )
    check(cases)


def test_no_build_or_job_role_can_approve_a_model_version():
    cases = []
    for purpose in ("sagemaker", "codebuild", "cloudformation", "codepipeline"):
        for action in ("sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage"):
            request = Request(
                action,
                A.sm("model-package", f"{A.prefix}/7"),
                tags=A.all_tags if ":Create" in action else None,
                context={"sagemaker:ModelApprovalStatus": "Approved"},
            )
            cases.append((as_role(A, purpose, request, f"{action} as Approved"), NOT_ALLOWED))
    # Registering for review stays possible: the pipeline's own step.
    cases.append(
        (
            as_role(
                A,
                "sagemaker",
                Request(
                    "sagemaker:CreateModelPackage",
                    A.sm("model-package", f"{A.prefix}/7"),
                    tags=A.all_tags,
                    context={"sagemaker:ModelApprovalStatus": "PendingManualApproval"},
                ),
                "register for review",
            ),
            "Allowed",
        )
    )
    check(cases)


def test_only_designated_approvers_approve_and_only_in_their_team():
    check(
        [
            (as_person(A_SCIENTIST, approve(A), "approve without being an approver"), NOT_ALLOWED),
            (as_person(A_APPROVER, approve(A), "approve as A's approver"), "Allowed"),
            (as_person(B_APPROVER, approve(A), "B's approver approving A's model"), NOT_ALLOWED),
            (as_person(B_APPROVER, approve(SHARED_NAMESPACE), "B's approver approving B's model"), "Allowed"),
        ]
    )


def test_nothing_matches_a_resource_in_another_account():
    """Bucket names are global and ECR repository names are per account: an outsider can create
    `mlops-p-anything-<our account>` or a `sagemaker-*` repository in their own account."""
    outsider_bucket = f"arn:aws:s3:::mlops-p-evil00000000-{ACCOUNT}"
    outsider_context = {"s3:ResourceAccount": OUTSIDE_ACCOUNT, "aws:ResourceAccount": OUTSIDE_ACCOUNT}
    cases = []
    for purpose in ("sagemaker", "codebuild", "codepipeline"):
        cases += [
            (
                as_role(
                    A,
                    purpose,
                    Request("s3:GetObject", f"{outsider_bucket}/data/abalone.csv", context=outsider_context),
                    "read an outsider's look-alike bucket",
                ),
                NOT_ALLOWED,
            ),
            (
                as_role(
                    A,
                    purpose,
                    Request("s3:PutObject", f"{outsider_bucket}/exfiltrated.csv", context=outsider_context),
                    "write to an outsider's look-alike bucket",
                ),
                NOT_ALLOWED,
            ),
        ]
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
        cases += [
            (
                as_role(
                    A,
                    "sagemaker",
                    Request(action, f"arn:aws:ecr:{REGION}:{OUTSIDE_ACCOUNT}:repository/sagemaker-xgboost"),
                    "pull an outsider's sagemaker-* image",
                ),
                NOT_ALLOWED,
            ),
            (
                as_role(
                    A,
                    "sagemaker",
                    Request(action, f"arn:aws:ecr:{REGION}:{image_account(REGION)}:repository/sagemaker-xgboost"),
                    "pull AWS's XGBoost image",
                ),
                "Allowed",
            ),
        ]
    check(cases)


def image_account(region: str) -> str:
    return json.loads(iam.IMAGE_ACCOUNTS_FILE.read_text())["accounts"][region]


def test_the_image_account_table_is_the_sdks():
    """The table the generator ships equals what the SageMaker SDK publishes for the seed's images."""
    import warnings

    from sagemaker import image_uris

    table = json.loads(iam.IMAGE_ACCOUNTS_FILE.read_text())["accounts"]
    wrong = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for region, account in table.items():
            for framework, version in (("xgboost", "3.0-5"), ("sklearn", "1.4-2")):
                found = image_uris.retrieve(framework, region, version=version).split(".")[0]
                if found != account:
                    wrong[(region, framework)] = found
    assert not wrong, f"{iam.IMAGE_ACCOUNTS_FILE.name}: differs from the SDK: {wrong}"
    for region in A.config.regions:
        assert region in table, f"{iam.IMAGE_ACCOUNTS_FILE.name}: no account for configured region {region}"


def test_the_key_administrator_manages_but_cannot_use_or_rewrite_the_key():
    admin = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmins"
    admin_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}

    def on_the_key(
        who: str,
        principal: str,
        policies: list[dict[str, Any]],
        expectations: tuple[tuple[str, dict[str, str], str | set[str]], ...],
    ) -> list[tuple[Case, str | set[str]]]:
        """``who`` (``principal``, holding ``policies``) making each (action, context) on the key."""
        return [
            (
                Case(
                    policies,
                    Request(action, A.key_arn, context=context),
                    label=f"{who}: {action}",
                    principal=principal,
                    resource_policy=A.key_policy,
                ),
                expected,
            )
            for action, context, expected in expectations
        ]

    # A key administrator holds no IAM permission of its own here: the key policy alone decides,
    # so what they can do is exactly the key policy's statement naming them.
    cases = on_the_key(
        "key administrator",
        admin,
        [],
        (
            ("kms:EnableKeyRotation", {}, "Allowed"),
            ("kms:ScheduleKeyDeletion", {}, "Allowed"),
            ("kms:Decrypt", via("s3"), NOT_ALLOWED),
            ("kms:GenerateDataKey", {}, NOT_ALLOWED),
            ("kms:PutKeyPolicy", {}, NOT_ALLOWED),
            ("kms:CreateGrant", {"kms:GrantIsForAWSResource": "true"}, NOT_ALLOWED),
        ),
    )
    # An account administrator with kms:* in their identity policy may administer (the key stays
    # repairable) but not use the data.
    account_admin = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    cases += on_the_key(
        "account administrator",
        account_admin,
        [{"name": "admin", "policy": admin_policy}],
        (
            ("kms:PutKeyPolicy", {}, "Allowed"),
            ("kms:Decrypt", via("s3"), NOT_ALLOWED),
            ("kms:Encrypt", {}, NOT_ALLOWED),
            ("kms:CreateGrant", {"kms:GrantIsForAWSResource": "true", **via("sagemaker")}, NOT_ALLOWED),
        ),
    )
    check(cases)


def test_the_deploy_role_cannot_open_topics_or_scale_another_teams_endpoints():
    """A template in the deploy repository runs as the CloudFormation role: it must not be able to
    set a topic policy letting another account subscribe, or change another team's scaling."""
    target = f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/056ad4ff20d1a90a37cb7a5b0da9e0c1"
    sagemaker_ns = {"application-autoscaling:service-namespace": "sagemaker"}

    def scaling(action: str, owner: Team) -> Request:
        return Request(
            action, target, context={**sagemaker_ns, f"aws:ResourceTag/{tagging.TEAM_TAG}": tagging.team(owner.config)}
        )

    check(
        [
            (
                as_role(
                    A,
                    "cloudformation",
                    Request("sns:SetTopicAttributes", A.arn("sns", f"{A.prefix}-prod-async-success"), context={}),
                    "set its own topic's attributes (Policy)",
                ),
                NOT_ALLOWED,
            ),
            (
                as_role(
                    A,
                    "cloudformation",
                    Request("sns:AddPermission", A.arn("sns", f"{A.prefix}-prod-async-success")),
                    "add another account to its topic",
                ),
                NOT_ALLOWED,
            ),
            *[
                (
                    as_role(A, "cloudformation", scaling(action, SHARED_NAMESPACE), f"{action} on B's endpoint"),
                    NOT_ALLOWED,
                )
                for action in (
                    "application-autoscaling:PutScalingPolicy",
                    "application-autoscaling:DeleteScalingPolicy",
                    "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:RegisterScalableTarget",
                )
            ],
            *[
                (as_role(A, "cloudformation", scaling(action, A), f"{action} on its own endpoint"), "Allowed")
                for action in (
                    "application-autoscaling:PutScalingPolicy",
                    "application-autoscaling:DeleteScalingPolicy",
                    "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:RegisterScalableTarget",
                )
            ],
            (
                as_role(
                    A,
                    "cloudformation",
                    Request("application-autoscaling:RegisterScalableTarget", target, context=sagemaker_ns),
                    "register a new (untagged) target",
                ),
                "Allowed",
            ),
        ]
    )


# ---------------------------------------------------------------- projects of one team


def test_projects_of_one_team_are_isolated_from_each_other():
    """Each project stack creates its own roles, scoped to its own `<name>-<id>`: project X's build
    or job reaches nothing of project Y's, while X's own requests stay allowed."""
    y = Team(A.config, "churn-custom-project", "p-zyxwvutsrqpo")
    staging = f"{y.prefix}-staging"
    attacks = [
        as_role(A, "sagemaker", Request("s3:GetObject", object_of(y)), "read another project's data"),
        as_role(A, "codebuild", Request("s3:PutObject", object_of(y)), "overwrite another project's data"),
        as_role(A, "codebuild", Request("s3:DeleteObject", object_of(y)), "delete another project's data"),
        as_role(
            A, "codebuild", Request("sagemaker:UpdatePipeline", y.sm("pipeline", y.prefix)), "rewrite its pipeline"
        ),
        as_role(
            A, "codebuild", Request("sagemaker:InvokeEndpointAsync", y.sm("endpoint", staging)), "invoke its endpoint"
        ),
        as_role(
            A,
            "codepipeline",
            Request("codebuild:StartBuild", y.arn("codebuild", f"project/{y.prefix}-model-build")),
            "run its build",
        ),
        as_role(
            A, "cloudformation", Request("sagemaker:DeleteEndpoint", y.sm("endpoint", staging)), "delete its endpoint"
        ),
        as_role(
            A,
            "events",
            Request("codepipeline:StartPipelineExecution", y.arn("codepipeline", f"{y.prefix}-model-build")),
            "start its pipeline",
        ),
        as_role(
            A,
            "codebuild",
            Request(
                "iam:PassRole", y.role_arn("sagemaker"), context={"iam:PassedToService": "sagemaker.amazonaws.com"}
            ),
            "pass its execution role",
        ),
    ]
    controls = [
        as_role(A, "sagemaker", Request("s3:GetObject", object_of(A)), "read its own data"),
        as_role(
            A, "codebuild", Request("sagemaker:UpdatePipeline", A.sm("pipeline", A.prefix)), "rewrite its own pipeline"
        ),
        as_role(
            A,
            "codebuild",
            Request("sagemaker:InvokeEndpointAsync", A.sm("endpoint", f"{A.prefix}-staging")),
            "invoke its staging endpoint",
        ),
    ]
    check([(case, NOT_ALLOWED) for case in attacks] + [(case, "Allowed") for case in controls])


def test_the_launch_role_creates_roles_only_under_the_team_boundary():
    """The launch role may create roles, so the boundary is what keeps a project role inside the
    team: no role without it, none outside the team's path, no other managed policy, no lifting it."""
    boundary = next(arn for arn in A.managed_policies if arn.endswith("-project-roles"))
    guardrail = next(arn for arn in A.managed_policies if "-tag-guardrail" in arn)
    own = A.role_arn("codebuild")
    outside = f"arn:aws:iam::{ACCOUNT}:role/escalation-admin"
    other_team = SHARED_NAMESPACE.role_arn("codebuild")
    bounded = {"iam:PermissionsBoundary": boundary, f"aws:RequestTag/{TEAM_TAG}": tagging.team(A.config)}
    admin = f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess"

    def launch(action: str, arn: str, label: str, **context: str) -> Case:
        return as_role(A, "launch", Request(action, arn, context=context), label)

    refused = [
        launch("iam:CreateRole", own, "a project role without the boundary"),
        launch("iam:CreateRole", own, "a project role under another boundary", **{"iam:PermissionsBoundary": admin}),
        launch("iam:CreateRole", outside, "a role outside the team's path", **bounded),
        launch("iam:CreateRole", other_team, "a role in another team's path", **bounded),
        launch(
            "iam:CreateRole",
            own,
            "a role tagged as another team",
            **{
                "iam:PermissionsBoundary": boundary,
                f"aws:RequestTag/{TEAM_TAG}": tagging.team(SHARED_NAMESPACE.config),
            },
        ),
        launch(
            "iam:AttachRolePolicy",
            own,
            "attach an admin policy",
            **{"iam:PermissionsBoundary": boundary, "iam:PolicyARN": admin},
        ),
        launch("iam:PutRolePermissionsBoundary", own, "swap the boundary", **{"iam:PermissionsBoundary": boundary}),
        launch("iam:DeleteRolePermissionsBoundary", own, "lift the boundary", **{"iam:PermissionsBoundary": boundary}),
        launch("iam:UpdateAssumeRolePolicy", own, "open a role's trust", **{"iam:PermissionsBoundary": boundary}),
        launch(
            "iam:PutRolePolicy", other_team, "write another team's role policy", **{"iam:PermissionsBoundary": boundary}
        ),
    ]
    allowed = [
        launch("iam:CreateRole", own, "the project's role, bounded and team-tagged", **bounded),
        launch("iam:PutRolePolicy", own, "its least-privilege policy", **{"iam:PermissionsBoundary": boundary}),
        launch(
            "iam:AttachRolePolicy",
            own,
            "the tag guardrail",
            **{"iam:PermissionsBoundary": boundary, "iam:PolicyARN": guardrail},
        ),
        launch("iam:PassRole", own, "to CodeBuild", **{"iam:PassedToService": "codebuild.amazonaws.com"}),
    ]
    check([(case, NOT_ALLOWED) for case in refused] + [(case, "Allowed") for case in allowed])


def test_a_project_role_given_any_policy_stays_inside_the_team():
    """What the boundary is for: even with `*` on `*` as its policy, a project role reaches
    nothing of another team's and cannot touch IAM."""
    y = SHARED_NAMESPACE
    star = [
        {
            "name": "rewritten",
            "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        }
    ]

    def with_star(request: Request, label: str) -> Case:
        # Bucket names carry the namespace, not the suffix: teams sharing a namespace share the
        # boundary's bucket pattern, and each bucket's policy (team tag) keeps them apart.
        return Case(
            star,
            request,
            label=f"rewritten codebuild role: {label}",
            principal=A.role_arn("codebuild"),
            resource_policy=resource_policy(request.resource_arn),
            boundaries=A.boundaries("codebuild"),
        )

    refused = [
        with_star(Request("s3:GetObject", object_of(y)), "another team's data"),
        with_star(Request("sagemaker:UpdatePipeline", y.sm("pipeline", y.prefix)), "another team's pipeline"),
        with_star(Request("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/x"), "create a role"),
        with_star(
            Request(
                "iam:AttachRolePolicy",
                A.role_arn("codebuild"),
                context={"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"},
            ),
            "attach admin to itself",
        ),
        with_star(Request("kms:ScheduleKeyDeletion", A.key_arn), "delete the team's key"),
        with_star(Request("s3:PutBucketPolicy", f"arn:aws:s3:::{A.bucket}"), "rewrite its bucket policy"),
    ]
    allowed = [with_star(Request("s3:GetObject", object_of(A)), "its own team's data")]
    check([(case, NOT_ALLOWED) for case in refused] + [(case, "Allowed") for case in allowed])

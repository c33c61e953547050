"""Isolation between teams: the roles of one deployment cannot touch another's project.

Two configurations that differ in ``project_suffix`` and ``namespace`` are rendered; for each
probe (an action on one kind of project resource) some role of the owning team is Allowed on
its own resource, and no role of the other team is Allowed on it. Simulated by iam-simulate on
the policies of each team's rendered product template.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from generator import iam
from iam_project import DEFAULT, REGION, ROLE_IDS, Team, project_request_parameters, run, sagemaker_condition_keys, team
from iamsim_client import Request, engine_ready

pytestmark = pytest.mark.skipif(engine_ready() is not None, reason=str(engine_ready()))

RISK = team("riskteam", "risk-project", "credit-risk-project", "p-mnopqrstuvwx", "0f0e0d0c-0b0a-4909-8807-060504030201")

S3_VIA = f"s3.{REGION}.amazonaws.com"

# label -> request on a team's resource; every probe must be possible for some role of the owner.
PROBES: dict[str, Callable[[Team], Request]] = {
    "start its pipeline": lambda t: Request(
        "codepipeline:StartPipelineExecution", t.arn("codepipeline", f"{t.prefix}-model-build")
    ),
    "start its build": lambda t: Request("codebuild:StartBuild", t.arn("codebuild", f"project/{t.prefix}-model-build")),
    "read its repository": lambda t: Request("codecommit:GetBranch", t.arn("codecommit", f"{t.prefix}-model-deploy")),
    "read its bucket objects": lambda t: Request("s3:GetObject", f"arn:aws:s3:::{t.bucket}/model/model.tar.gz"),
    "write its bucket objects": lambda t: Request("s3:PutObject", f"arn:aws:s3:::{t.bucket}/data/train.csv"),
    "list its bucket": lambda t: Request("s3:ListBucket", f"arn:aws:s3:::{t.bucket}"),
    # The roles use the key only as a project service asks (iam.key_via_services()): S3 here.
    "decrypt with its key": lambda t: Request("kms:Decrypt", t.key_arn, context={"kms:ViaService": S3_VIA}),
    "encrypt with its key": lambda t: Request("kms:GenerateDataKey", t.key_arn, context={"kms:ViaService": S3_VIA}),
    "start its SageMaker pipeline": lambda t: Request("sagemaker:StartPipelineExecution", t.sm("pipeline", t.prefix)),
    "register a model in its group": lambda t: Request(
        "sagemaker:CreateModelPackage", t.sm("model-package", f"{t.prefix}/4"), tags=t.all_tags
    ),
    "read its model packages": lambda t: Request(
        "sagemaker:DescribeModelPackage", t.sm("model-package", f"{t.prefix}/4")
    ),
    "create its endpoint": lambda t: Request(
        "sagemaker:CreateEndpoint", t.sm("endpoint", f"{t.prefix}-staging"), tags=t.all_tags
    ),
    "update its endpoint": lambda t: Request("sagemaker:UpdateEndpoint", t.sm("endpoint", f"{t.prefix}-staging")),
    "invoke its endpoint": lambda t: Request("sagemaker:InvokeEndpointAsync", t.sm("endpoint", f"{t.prefix}-staging")),
    # Built from scratch: the keys a correct training request of the project carries (its key for
    # volume and output, network isolation), as IAM derives them from the request parameters.
    "create a job for its project": lambda t: Request(
        "sagemaker:CreateTrainingJob",
        t.sm("training-job", "pipelines-1a2b3c4d5e6f-TrainModel-AbCdEfGhIj"),
        tags=t.all_tags,
        context=sagemaker_condition_keys(
            "sagemaker:CreateTrainingJob", project_request_parameters(t, "sagemaker:CreateTrainingJob")
        ),
    ),
    "deploy its stack": lambda t: Request(
        "cloudformation:CreateStack",
        t.arn("cloudformation", f"stack/{t.prefix}-deploy-staging/0f0e0d0c-0b0a-4909-8807-060504030201"),
    ),
    "publish to its topic": lambda t: Request("sns:Publish", t.arn("sns", f"{t.prefix}-staging-async-success")),
    "pass its execution role": lambda t: Request(
        "iam:PassRole", t.role_arn("sagemaker"), context={"iam:PassedToService": "sagemaker.amazonaws.com"}
    ),
    "pass its CloudFormation role": lambda t: Request(
        "iam:PassRole", t.role_arn("cloudformation"), context={"iam:PassedToService": "cloudformation.amazonaws.com"}
    ),
    "read its key parameter": lambda t: Request(
        "ssm:GetParameter", t.arn("ssm", f"parameter/{t.config.namespace}/{t.config.project_suffix}/kms-key-arn")
    ),
}


def allowed_roles(actor: Team, owner: Team) -> dict[str, set[str]]:
    """probe -> roles of ``actor`` Allowed on ``owner``'s resource."""
    cases = [
        (
            label,
            purpose,
            actor.case(purpose, probe(owner), label=f"{actor.label} {ROLE_IDS[purpose]}: {label} of {owner.label}"),
        )
        for label, probe in PROBES.items()
        for purpose in iam.SERVICE_PRINCIPALS
    ]
    # A request on the other team's key is evaluated against that key's policy.
    cases = [
        (
            label,
            purpose,
            case
            if owner is actor or case.request.resource_arn != owner.key_arn
            else type(case)(case.policies, case.request, case.label, case.principal, resource_policy=owner.key_policy),
        )
        for label, purpose, case in cases
    ]
    results = run([case for _, _, case in cases])
    allowed: dict[str, set[str]] = {label: set() for label in PROBES}
    for (label, purpose, _), result in zip(cases, results, strict=True):
        if result["overallResult"] == "Allowed":
            allowed[label].add(ROLE_IDS[purpose])
    return allowed


@pytest.mark.parametrize(
    "owner, actor", [(DEFAULT, RISK), (RISK, DEFAULT)], ids=["mlops-vs-riskteam", "riskteam-vs-mlops"]
)
def test_each_team_can_do_its_job_and_nothing_on_the_other_teams_project(owner: Team, actor: Team):
    own = allowed_roles(owner, owner)
    missing = sorted(label for label, roles in own.items() if not roles)
    assert not missing, f"{owner.label}: no role of the team may {missing} on its own project"
    foreign = allowed_roles(actor, owner)
    leaks = {label: sorted(roles) for label, roles in foreign.items() if roles}
    assert not leaks, f"{actor.label} roles are allowed on {owner.label}'s project: {leaks}"


def test_no_role_uses_its_own_key_outside_the_project_services():
    """Key use without kms:ViaService (a build's own code calling KMS) is denied to every role."""
    for t in (DEFAULT, RISK):
        cases = [
            t.case(purpose, Request(action, t.key_arn), label=f"{t.label} {ROLE_IDS[purpose]}: {action} directly")
            for purpose in iam.SERVICE_PRINCIPALS
            for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt")
        ]
        cases += [
            t.case(
                purpose,
                Request("kms:Decrypt", t.key_arn, context={"kms:ViaService": f"lambda.{REGION}.amazonaws.com"}),
                label=f"{t.label} {ROLE_IDS[purpose]}: kms:Decrypt via Lambda",
            )
            for purpose in iam.SERVICE_PRINCIPALS
        ]
        allowed = [
            case.label for case, result in zip(cases, run(cases), strict=True) if result["overallResult"] == "Allowed"
        ]
        assert not allowed, f"key use outside {iam.key_via_services()} is allowed: {allowed}"


def test_teams_do_not_share_names():
    for purpose in iam.SERVICE_PRINCIPALS:
        assert DEFAULT.role_arn(purpose) != RISK.role_arn(purpose)
    assert DEFAULT.bucket != RISK.bucket and DEFAULT.key_arn != RISK.key_arn


def test_a_suffix_ending_another_teams_suffix_is_still_isolated():
    """`project` and `custom-project`: the team globs overlap, but project roles name their own
    project's resources exactly and the key and PassRole name the team's IAM path."""
    overlapping = team("other", "project", "fraud-project", "p-zzzzzzzzzzzz", "0f0e0d0c-0b0a-4909-8807-0605040302ff")
    for actor, owner in ((overlapping, DEFAULT), (DEFAULT, overlapping)):
        leaks = {label: sorted(roles) for label, roles in allowed_roles(actor, owner).items() if roles}
        assert not leaks, f"{actor.label} roles are allowed on {owner.label}'s project: {leaks}"

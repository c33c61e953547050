"""Roles can do their job and no more, proven by iam-simulate on the generated product policies.

* The launch role allows every action of ``iam.LAUNCH_PERMISSIONS`` on the ARN the project
  template's resource of that type will have, and, in a sweep over every action IAM knows for
  those resource types (the engine's own action catalogue), nothing outside that list and the
  documented extras.
* The CloudFormation role of the deploy pipeline: the same against the endpoint template.
* Every role is derived from the current provider schemas: each permission of a type's create,
  update and delete handlers is granted or in ``iam.HANDLER_PERMISSIONS_LEFT_OUT`` with a reason,
  and what is left out is denied on the sample project's resources.
* Privilege escalation is denied for every role.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import cfnlint
import pytest

from generator import iam, tagging
from generator.config import build_config
from generator.project_roles import ROLE_TITLES
from generator.sources import source_for
from generator.tagging import TEAM_TAG
from iam_project import (
    ACCOUNT,
    DEFAULT,
    OUTSIDE_ROLES,
    REGION,
    ROLE_IDS,
    Team,
    check,
    endpoint_stack,
    existing_resource,
    run,
    sagemaker_condition_keys,
    sagemaker_parameter_roots,
)
from iamsim_client import IAMSIM_DIR, Case, Request, engine_ready, resolve_intrinsics

pytestmark = pytest.mark.skipif(engine_ready() is not None, reason=str(engine_ready()))

IAM_DATA = IAMSIM_DIR / "node_modules" / "@cloud-copilot" / "iam-data" / "data"
NOT_ALLOWED = {"ImplicitlyDenied", "ExplicitlyDenied"}


# ---------------------------------------------------------------- the engine's action catalogue


@functools.cache
def _service_data(service: str) -> tuple[dict, dict]:
    actions = json.loads((IAM_DATA / "actions" / f"{service}.json").read_text())
    types = json.loads((IAM_DATA / "resourceTypes" / f"{service}.json").read_text())
    return actions, types


def _arn_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\$\{[^}]+\})", template)
    pattern = "".join(".+" if part.startswith("${") else re.escape(part) for part in parts)
    return re.compile(f"^{pattern}$")


def resource_types_of(arn: str) -> set[str]:
    service = arn.split(":")[2]
    _, types = _service_data(service)
    return {data["key"] for data in types.values() if _arn_regex(data["arn"]).match(arn)}


def actions_on(arn: str) -> list[str]:
    """Every action of the ARN's service that acts on its resource type (``*``: those with no resource type)."""
    service = arn.split(":")[2] if arn != "*" else None
    actions, _ = _service_data(service)
    kinds = resource_types_of(arn)
    found = []
    for data in actions.values():
        names = {r["name"] for r in data["resourceTypes"]}
        if names & kinds:
            found.append(f"{service}:{data['name']}")
    return sorted(found)


def unscoped_actions(service: str) -> list[str]:
    actions, _ = _service_data(service)
    return sorted(f"{service}:{d['name']}" for d in actions.values() if not d["resourceTypes"])


def sweep(make_case, label: str, arns: dict[str, set[str]]) -> dict[str, set[str]]:
    """ARN -> actions the role is Allowed there, over every action IAM knows for that ARN's type.

    ``make_case(request, label)`` builds the case (principal, policies, resource policy).
    """
    cases = [(arn, make_case(Request(action, arn), label)) for arn in arns for action in actions_on(arn)]
    results = run([case for _, case in cases])
    allowed: dict[str, set[str]] = {arn: set() for arn in arns}
    for (arn, case), result in zip(cases, results, strict=True):
        if result["overallResult"] == "Allowed":
            allowed[arn].add(case.request.action)
    return allowed


def assert_sweep(purpose: str, expected: dict[str, set[str]]) -> None:
    label = ROLE_IDS[purpose]
    allowed = sweep(functools.partial(DEFAULT.case, purpose), label, expected)
    problems = []
    for arn, actions in allowed.items():
        extra = actions - expected[arn]
        if extra:
            problems.append(f"{arn}: also allows {sorted(extra)}")
    assert not problems, f"{label} allows more than its documented list:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------- launch role


def project_resource_arns(t=DEFAULT) -> dict[str, list[tuple[str, str]]]:
    """Resource type -> [(logical id, ARN)] for the sample project, from the project template."""
    project = t.template("project")
    kwargs = t.project_resolve_kwargs()
    out: dict[str, list[tuple[str, str]]] = {}

    def name(logical_id: str, prop: str) -> str:
        props = project["Resources"][logical_id]["Properties"]
        return resolve_intrinsics(props[prop], where=f"project template: {logical_id}.{prop}", **kwargs)

    for logical_id, resource in project["Resources"].items():
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            arn = f"arn:aws:s3:::{name(logical_id, 'BucketName')}"
        elif kind == "AWS::S3::BucketPolicy":
            arn = f"arn:aws:s3:::{t.bucket}"
        elif kind == "AWS::SageMaker::ModelPackageGroup":
            arn = t.sm("model-package-group", name(logical_id, "ModelPackageGroupName"))
        elif kind == "AWS::CodeCommit::Repository":
            arn = t.arn("codecommit", name(logical_id, "RepositoryName"))
        elif kind == "AWS::CodeBuild::Project":
            build = name(logical_id, "Name")
            arn = t.arn("codebuild", f"project/{build}")
            # CodeBuild writes to /aws/codebuild/<project>: the log group the launch role may manage.
            out.setdefault("AWS::Logs::LogGroup", []).append(
                (logical_id, t.arn("logs", f"log-group:/aws/codebuild/{build}"))
            )
        elif kind == "AWS::CodePipeline::Pipeline":
            arn = t.arn("codepipeline", name(logical_id, "Name"))
        elif kind == "AWS::Events::Rule":
            arn = t.arn("events", f"rule/{name(logical_id, 'Name')}")
        elif kind == "AWS::Logs::LogGroup":
            arn = t.arn("logs", f"log-group:{name(logical_id, 'LogGroupName')}")
        elif kind == "AWS::IAM::Role":
            arn = t.role_arn({title: purpose for purpose, title in ROLE_TITLES.items()}[logical_id])
        else:
            pytest.fail(f"project template: {logical_id} is a {kind}; add its ARN here")
        out.setdefault(kind, []).append((logical_id, arn))
    return out


def pipeline_role_arns(t=DEFAULT) -> list[str]:
    project = t.template("project")
    return sorted(
        {
            resolve_intrinsics(
                r["Properties"]["RoleArn"], where="project template: pipeline RoleArn", **t.project_resolve_kwargs()
            )
            for r in project["Resources"].values()
            if r["Type"] == "AWS::CodePipeline::Pipeline"
        }
    )


def launch_context(action: str, t=DEFAULT) -> dict[str, str]:
    """What IAM sends with the launch role's role writes: the boundary the project template sets,
    the guardrail it attaches, the team tag it gives (``iam.launch_policy`` requires each)."""
    boundary = next(arn for arn in t.managed_policies if arn.endswith("-project-roles"))
    context = {}
    if action in iam.BOUNDED_ROLE_ACTIONS:
        context["iam:PermissionsBoundary"] = boundary
    if action in ("iam:AttachRolePolicy", "iam:DetachRolePolicy"):
        context["iam:PolicyARN"] = next(arn for arn in t.managed_policies if "-tag-guardrail" in arn)
    if action in ("iam:CreateRole", "iam:TagRole"):
        context[f"aws:RequestTag/{TEAM_TAG}"] = tagging.team(t.config)
    return context


def launch_target(resource_type: str, arn: str, action: str) -> list[str]:
    if action in iam.UNSCOPED_LAUNCH_ACTIONS:
        return ["*"]
    if action == "iam:GetRole":
        return pipeline_role_arns()
    return [arn]


# Service Catalog's own copy of the provisioned template: a bucket the service owns, the object
# tagged servicecatalog:provisioning=true (iam.SERVICE_CATALOG_COPY_URL).
SERVICE_CATALOG_COPY = (
    f"arn:aws:s3:::sc-{ACCOUNT}-{REGION}-provisioning/port-abcdefghij123/prod-abcdefghijklm/template.yml"
)
PROVISIONING_TAG = {f"s3:ExistingObjectTag/{iam.SERVICE_CATALOG_COPY_TAG}": "true"}
# What the product stack published under TemplateBucket/TemplatePrefix besides the seed code.
PUBLISHED_TEMPLATE = "arn:aws:s3:::org-mlops-templates/releases/v0.1.0/MLOps-template-example.yml"


def seed_code_objects(t=DEFAULT) -> list[str]:
    """The seed zips the project's repositories are created from (Code.S3), as object ARNs."""
    project = t.template("project")
    objects = []
    for logical_id, resource in project["Resources"].items():
        code = resource["Properties"].get("Code", {}) if resource["Type"] == "AWS::CodeCommit::Repository" else {}
        if "S3" in code:
            s3 = resolve_intrinsics(
                code["S3"], where=f"project template: {logical_id}.Code.S3", **t.project_resolve_kwargs()
            )
            objects.append(f"arn:aws:s3:::{s3['Bucket']}/{s3['Key']}")
    return objects


def launch_extras(t=DEFAULT) -> list[tuple[str, str, dict]]:
    """(action, ARN, context) the launch role needs besides the per-type table: documented in iam.launch_policy."""
    stack = (
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/SC-{ACCOUNT}-pp-abcdefghijklm/"
        "0f0e0d0c-0b0a-4909-8807-060504030201"
    )
    parameter = t.arn("ssm", f"parameter/{t.config.namespace}/{t.config.project_suffix}/kms-key-arn")
    extras = [
        (a, stack, {})
        for a in (
            "cloudformation:CreateStack",
            "cloudformation:UpdateStack",
            "cloudformation:DeleteStack",
            "cloudformation:DescribeStacks",
            "cloudformation:DescribeStackEvents",
        )
    ]
    extras += [("cloudformation:GetTemplateSummary", "*", {}), ("cloudformation:ValidateTemplate", "*", {})]
    extras += [
        ("s3:GetObject", SERVICE_CATALOG_COPY, PROVISIONING_TAG),
        ("ssm:GetParameters", parameter, {}),
        ("ssm:GetParameter", parameter, {}),
    ]
    seed_objects = seed_code_objects(t)
    assert seed_objects, "project template: no repository is created from the published seed code (Code.S3)"
    extras += [(a, obj, {}) for obj in seed_objects for a in ("s3:GetObject", "s3:GetObjectVersion")]
    for purpose in ("codebuild", "codepipeline", "events"):
        extras.append(("iam:PassRole", t.role_arn(purpose), {"iam:PassedToService": iam.SERVICE_PRINCIPALS[purpose]}))
    return extras


def test_launch_role_allows_every_listed_action_on_the_resource_it_provisions():
    arns = project_resource_arns()
    cases = []
    for resource_type, entries in iam.LAUNCH_PERMISSIONS.items():
        assert resource_type in arns, (
            f"LAUNCH_PERMISSIONS lists {resource_type}, which the project template does not create"
        )
        for logical_id, arn in arns[resource_type]:
            for action, reason in entries:
                for target in launch_target(resource_type, arn, action):
                    cases.append(
                        (
                            DEFAULT.case(
                                "launch",
                                Request(action, target, context=launch_context(action)),
                                label=f"LaunchRole {logical_id} ({reason})",
                            ),
                            "Allowed",
                        )
                    )
    for action, arn, context in launch_extras():
        cases.append(
            (
                DEFAULT.case("launch", Request(action, arn, context=context), label="LaunchRole documented extra"),
                "Allowed",
            )
        )
    check(cases)


def test_launch_role_allows_nothing_else_on_the_project_resources():
    expected: dict[str, set[str]] = {}
    for resource_type, pairs in project_resource_arns().items():
        service_actions = {a for a, _ in iam.LAUNCH_PERMISSIONS.get(resource_type, ())}
        for _, arn in pairs:
            service = arn.split(":")[2]
            expected.setdefault(arn, set()).update(a for a in service_actions if a.startswith(service + ":"))
    assert_sweep("launch", expected)


def test_launch_role_unscoped_actions_are_only_the_documented_ones():
    services = (
        "s3",
        "sagemaker",
        "codecommit",
        "codebuild",
        "codepipeline",
        "events",
        "logs",
        "iam",
        "kms",
        "cloudformation",
        "ssm",
    )
    actions = [a for s in services for a in unscoped_actions(s)]
    results = run([DEFAULT.case("launch", Request(a, "*"), label="LaunchRole unscoped") for a in actions])
    allowed = {a for a, r in zip(actions, results, strict=True) if r["overallResult"] == "Allowed"}
    documented = set(iam.UNSCOPED_LAUNCH_ACTIONS) | {
        "cloudformation:GetTemplateSummary",
        "cloudformation:ValidateTemplate",
    }
    assert allowed <= documented, f"LaunchRole allows undocumented actions on '*': {sorted(allowed - documented)}"


def test_launch_role_denies_what_the_schemas_list_but_the_template_never_needs():
    bucket = f"arn:aws:s3:::{DEFAULT.bucket}"
    group = DEFAULT.sm("model-package-group", DEFAULT.prefix)
    samples = [
        ("s3:PutReplicationConfiguration", bucket),
        ("s3:PutBucketAcl", bucket),
        ("s3:PutBucketWebsite", bucket),
        ("s3:PutBucketCORS", bucket),
        ("s3:GetObject", f"{bucket}/model.tar.gz"),
        ("s3:PutObject", f"{bucket}/x"),
        ("s3:PutBucketPolicy", "arn:aws:s3:::somebody-elses-bucket"),
        ("s3tables:CreateTableBucket", "*"),
        ("s3tables:PutTableBucketEncryption", f"arn:aws:s3tables:{REGION}:{ACCOUNT}:bucket/{DEFAULT.bucket}"),
        ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/intruder"),
        ("sagemaker:CreateTrainingJob", DEFAULT.sm("training-job", f"{DEFAULT.prefix}-train")),
        ("sagemaker:PutModelPackageGroupPolicy", group),
        ("sagemaker:DeleteModelPackageGroup", DEFAULT.sm("model-package-group", "other-team-p-abcdefghijkl")),
        ("kms:ScheduleKeyDeletion", DEFAULT.key_arn),
        ("kms:Decrypt", DEFAULT.key_arn),
        ("codecommit:GitPush", DEFAULT.arn("codecommit", f"{DEFAULT.prefix}-model-build")),
        ("codecommit:PutRepositoryTriggers", DEFAULT.arn("codecommit", f"{DEFAULT.prefix}-model-build")),
        ("lambda:CreateFunction", DEFAULT.arn("lambda", "function:seed")),
        (
            "cloudformation:CreateStack",
            DEFAULT.arn("cloudformation", "stack/any-stack/0f0e0d0c-0b0a-4909-8807-060504030201"),
        ),
    ]
    cases = [
        (DEFAULT.case("launch", Request(a, arn), label="LaunchRole outside its list"), NOT_ALLOWED)
        for a, arn in samples
    ]
    # Reading objects: only Service Catalog's tagged copy and the published seed code.
    untagged = [
        (SERVICE_CATALOG_COPY, {}, "Service Catalog's copy without its tag"),
        (
            SERVICE_CATALOG_COPY,
            {f"s3:ExistingObjectTag/{iam.SERVICE_CATALOG_COPY_TAG}": "false"},
            "an object tagged false",
        ),
        (f"{bucket}/model.tar.gz", {}, "a project object"),
        (PUBLISHED_TEMPLATE, {}, "the published template, outside seed_code/"),
        (
            "arn:aws:s3:::org-mlops-templates/releases/v0.2.0/seed_code/model_build.zip",
            {},
            "another release's seed code",
        ),
        (
            "arn:aws:s3:::somebody-elses-bucket/releases/v0.1.0/seed_code/model_build.zip",
            {},
            "another bucket's seed code",
        ),
    ]
    cases += [
        (
            DEFAULT.case("launch", Request("s3:GetObject", arn, context=ctx), label=f"LaunchRole reading {what}"),
            NOT_ALLOWED,
        )
        for arn, ctx, what in untagged
    ]
    cases += [
        (
            DEFAULT.case(
                "launch",
                Request("s3:PutObject", SERVICE_CATALOG_COPY),
                label="LaunchRole writing Service Catalog's copy",
            ),
            NOT_ALLOWED,
        )
    ]
    cases += [
        (DEFAULT.case("launch", Request(a, obj), label="LaunchRole writing seed code"), NOT_ALLOWED)
        for obj in seed_code_objects()
        for a in ("s3:PutObject", "s3:DeleteObject")
    ]
    check(cases)


def test_launch_role_decrypts_published_seed_code_only_through_s3_and_only_when_given_the_key():
    seed_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f0e0d0c-0b0a-4909-8807-0605040302aa"
    with_key = Team(DEFAULT.config, seed_code_key_arn=seed_key)
    via_s3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    # The publisher's key keeps KMS's default key policy: IAM policies of the account decide.
    default_key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }

    def on_seed_key(team, request, label):
        case = team.case("launch", request, label=label)
        if request.resource_arn != seed_key:
            return case
        return Case(case.policies, case.request, case.label, case.principal, resource_policy=default_key_policy)

    cases = [
        (
            on_seed_key(with_key, Request("kms:Decrypt", seed_key, context=via_s3), "LaunchRole seed key via S3"),
            "Allowed",
        ),
        (on_seed_key(with_key, Request("kms:Decrypt", seed_key), "LaunchRole seed key directly"), NOT_ALLOWED),
        (
            on_seed_key(
                with_key,
                Request("kms:Decrypt", seed_key, context={"kms:ViaService": f"sagemaker.{REGION}.amazonaws.com"}),
                "LaunchRole seed key via SageMaker",
            ),
            NOT_ALLOWED,
        ),
        (
            on_seed_key(
                with_key,
                Request("kms:GenerateDataKey", seed_key, context=via_s3),
                "LaunchRole encrypting with the seed key",
            ),
            NOT_ALLOWED,
        ),
        (
            on_seed_key(
                with_key, Request("kms:Decrypt", DEFAULT.key_arn, context=via_s3), "LaunchRole project key via S3"
            ),
            NOT_ALLOWED,
        ),
        (
            on_seed_key(
                DEFAULT, Request("kms:Decrypt", seed_key, context=via_s3), "LaunchRole seed key, no SeedCodeKmsKeyArn"
            ),
            NOT_ALLOWED,
        ),
    ]
    check(cases)


# ---------------------------------------------------------------- CloudFormation role (deploy pipeline)

# Per resource type of the endpoint template: what CloudFormation needs for the template's
# properties, picked from the type's provider schema; each action says why.
# The deploy role's documented needs are data, generator/data/iam_deploy.yaml, read by generator/iam/deploy.py.
DEPLOY_NEEDS = iam.DEPLOY_PERMISSIONS
DEPLOY_EXTRAS = iam.DEPLOY_EXTRA_PERMISSIONS
SCALABLE_TARGET = (
    f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/056ad4ff20d1a90a37cb7a5b0da9e0c1b6da"
)
SCALING_LINKED_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


def schema_permissions(resource_type: str) -> set[str]:
    base = Path(cfnlint.__file__).parent / "data" / "schemas"
    providers = json.loads((base / "providers" / "us-east-1.json").read_text())
    handlers = json.loads((base / "resources" / f"{providers[resource_type]}.json").read_text()).get("handlers", {})
    return {
        p for op in ("create", "read", "update", "delete", "list") for p in handlers.get(op, {}).get("permissions", [])
    }


def _endpoint_template(t=DEFAULT, stage: str = "staging") -> tuple[dict, dict]:
    """The endpoint template and the resolver arguments of one stage's stack."""
    return endpoint_stack(t, stage, 3)


def endpoint_request_keys(t=DEFAULT, stage: str = "staging") -> dict[tuple[str, str], dict[str, str]]:
    """(logical id, SageMaker create) -> the condition keys IAM derives from the resource's properties
    (the request parameters CloudFormation's handler sends), as iam_project.sagemaker_condition_keys maps them."""
    endpoint, kwargs = _endpoint_template(t, stage)
    keys = {}
    for logical_id, resource in endpoint["Resources"].items():
        for action in DEPLOY_NEEDS.get(resource["Type"], {}):
            if not action.startswith("sagemaker:Create"):
                continue
            properties = resource["Properties"]
            parameters = {
                root: resolve_intrinsics(properties[root], where=f"endpoint template: {logical_id}.{root}", **kwargs)
                for root in sagemaker_parameter_roots(action)
                if root in properties
            }
            keys[(logical_id, action)] = sagemaker_condition_keys(action, parameters)
    return keys


def scalable_target_tags(t=DEFAULT, stage: str = "staging") -> dict[str, str]:
    """The tags the endpoint template gives its scalable target, resolved for the stage."""
    endpoint, kwargs = _endpoint_template(t, stage)
    (target,) = [
        (lid, r)
        for lid, r in endpoint["Resources"].items()
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    ]
    tags = resolve_intrinsics(
        target[1]["Properties"].get("Tags", []), where=f"endpoint template: {target[0]}.Tags", **kwargs
    )
    return {tag["Key"]: tag["Value"] for tag in tags}


def endpoint_resource_arns(t=DEFAULT, stage: str = "staging") -> dict[str, list[tuple[str, str]]]:
    endpoint, kwargs = _endpoint_template(t, stage)
    properties = {
        "AWS::SageMaker::Model": ("model", "ModelName"),
        "AWS::SageMaker::EndpointConfig": ("endpoint-config", "EndpointConfigName"),
        "AWS::SageMaker::Endpoint": ("endpoint", "EndpointName"),
    }
    out: dict[str, list[tuple[str, str]]] = {}
    for logical_id, resource in endpoint["Resources"].items():
        kind = resource["Type"]
        props = resource["Properties"]

        # Bound as defaults: the closure reads this iteration's resource, not the loop's last one.
        def value(prop: str, props: dict = props, logical_id: str = logical_id) -> str:
            return resolve_intrinsics(props[prop], where=f"endpoint template: {logical_id}.{prop}", **kwargs)

        if kind in properties:
            arn = t.sm(properties[kind][0], value(properties[kind][1]))
        elif kind == "AWS::SNS::Topic":
            arn = t.arn("sns", value("TopicName"))
        elif kind == "AWS::CloudWatch::Alarm":
            arn = t.arn("cloudwatch", f"alarm:{value('AlarmName')}")
        elif kind.startswith("AWS::ApplicationAutoScaling::"):
            arn = SCALABLE_TARGET
        else:
            pytest.fail(f"endpoint template: {logical_id} is a {kind}; add it to DEPLOY_NEEDS and here")
        out.setdefault(kind, []).append((logical_id, arn))
    return out


def deploy_target(t, arn: str, action: str, alarms: list[str] = ()) -> list[tuple[str, dict]]:
    """Where ``action``, needed for the resource at ``arn``, acts. ``alarms``: the alarms a
    scalable target's handler manages, when ``arn`` is the scalable target."""
    service = action.split(":")[0]
    if action == "cloudwatch:GetMetricData":
        return [("*", {})]  # metrics have no ARN
    if service == "cloudwatch" and arn == SCALABLE_TARGET:
        return [(alarm, {}) for alarm in alarms]
    if action == "iam:PassRole":
        return [(t.role_arn("sagemaker"), {"iam:PassedToService": "sagemaker.amazonaws.com"})]
    if action == "iam:CreateServiceLinkedRole":
        return [(SCALING_LINKED_ROLE, {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"})]
    if service == "kms":
        return [(t.key_arn, {})]
    if service == "application-autoscaling":
        if action not in actions_on(SCALABLE_TARGET):
            return [("*", {})]
        keys = _service_data(service)[0][action.split(":")[1].lower()]["conditionKeys"]
        namespace_key = "application-autoscaling:service-namespace"
        return [(SCALABLE_TARGET, ({namespace_key: "sagemaker"} if namespace_key in keys else {}))]
    return [(arn, {})]


def test_deploy_needs_are_picked_from_the_provider_schemas():
    for resource_type, needs in DEPLOY_NEEDS.items():
        outside = sorted(set(needs) - schema_permissions(resource_type))
        assert not outside, (
            f"DEPLOY_NEEDS {resource_type}: {outside} are not in the provider schema's handler permissions"
        )
    types = set(endpoint_resource_arns())
    assert types == set(DEPLOY_NEEDS), f"endpoint template types {sorted(types)} vs DEPLOY_NEEDS {sorted(DEPLOY_NEEDS)}"


REALTIME = Team(build_config({"endpoint_kind": "realtime"}))


@pytest.mark.parametrize("t", [DEFAULT, REALTIME], ids=["async", "realtime"])
@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_cloudformation_role_allows_what_the_endpoint_template_needs(stage, t):
    cases = []
    arns = endpoint_resource_arns(t, stage=stage)
    request_keys = endpoint_request_keys(t, stage=stage)
    target_tags = scalable_target_tags(stage=stage) if "AWS::ApplicationAutoScaling::ScalableTarget" in arns else {}
    for resource_type, pairs in arns.items():
        for logical_id, arn in pairs:
            for action, reason in DEPLOY_NEEDS[resource_type].items():
                tags = t.all_tags if action in {a.JSONrepr() for a in iam.GUARDED_CREATES} else None
                for target, context in deploy_target(t, arn, action, alarms=scalable_target_alarms(arns)):
                    # A create sends the keys IAM derives from the resource's properties.
                    context = {**context, **request_keys.get((logical_id, action), {})}
                    # Every action but the registration acts on the target the stack created, with its tags.
                    if target == SCALABLE_TARGET and action != "application-autoscaling:RegisterScalableTarget":
                        context = {**existing_resource(target_tags), **context}
                    cases.append(
                        (
                            t.case(
                                "cloudformation",
                                Request(action, target, tags=tags, context=context),
                                label=f"CloudFormationRole {t.config.endpoint_kind.value} endpoint template "
                                f"{logical_id} ({reason})",
                            ),
                            "Allowed",
                        )
                    )
    check(cases)


def scalable_target_alarms(arns: dict[str, list[tuple[str, str]]]) -> list[str]:
    """The alarms the scalable target's handler manages: the template's own and target tracking's."""
    alarms = [arn for _, arn in arns.get("AWS::CloudWatch::Alarm", [])]
    for _, endpoint in arns.get("AWS::SageMaker::Endpoint", []):
        name = endpoint.split("/", 1)[1]
        # Target tracking names its alarms TargetTracking-<resource id>-AlarmHigh|Low-<uuid>.
        alarms += [
            DEFAULT.arn(
                "cloudwatch",
                f"alarm:TargetTracking-endpoint/{name}/variant/AllTraffic-Alarm{side}-"
                "0f0e0d0c-0b0a-4909-8807-060504030201",
            )
            for side in ("High", "Low")
        ]
    return alarms


def test_cloudformation_role_allows_nothing_else_on_the_endpoint_resources():
    expected: dict[str, set[str]] = {}
    # One resource's handler acts on another's ARN (UpdateEndpoint on the endpoint config), so
    # the bound per ARN is every endpoint type's schema list plus the documented extras.
    allowed = set(DEPLOY_EXTRAS).union(*(schema_permissions(t) for t in DEPLOY_NEEDS))
    for pairs in endpoint_resource_arns().values():
        for _, arn in pairs:
            if arn == SCALABLE_TARGET:
                continue  # its actions are conditioned on the service namespace: covered above
            service = arn.split(":")[2]
            expected.setdefault(arn, set()).update(a for a in allowed if a.startswith(service + ":"))
    assert_sweep("cloudformation", expected)


# ---------------------------------------------------------------- every role from the current provider schemas

CHANGING_HANDLERS = ("create", "update", "delete")
CONNECTIONS_CONFIG = build_config({"source_provider": "codeconnections"})


def handler_permissions(resource_type: str, operations=CHANGING_HANDLERS) -> set[str]:
    base = Path(cfnlint.__file__).parent / "data" / "schemas"
    providers = json.loads((base / "providers" / "us-east-1.json").read_text())
    handlers = json.loads((base / "resources" / f"{providers[resource_type]}.json").read_text()).get("handlers", {})
    return {p for op in operations for p in handlers.get(op, {}).get("permissions", [])}


def launch_other_grants(config) -> dict[str, dict[str, str]]:
    """Type -> {handler action: Sid of the launch policy statement granting it outside the per-type table}."""
    grants = {
        "AWS::CodeCommit::Repository": {
            "s3:GetObject": "AllowReadingPublishedSeedCode",
            "s3:GetObjectVersion": "AllowReadingPublishedSeedCode",
        },
        "AWS::CodeBuild::Project": {"iam:PassRole": "AllowPassCodebuildRoleToCodebuild"},
        "AWS::CodePipeline::Pipeline": {
            "iam:PassRole": "AllowPassCodepipelineRoleToCodepipeline",
            **{a: "AllowHandlersToGetRole" for a in iam.FOREIGN_LAUNCH_ACTIONS},
        },
        "AWS::Events::Rule": {"iam:PassRole": "AllowPassEventsRoleToEvents"},
    }
    if not config.uses_codecommit:
        grants["AWS::CodePipeline::Pipeline"]["codestar-connections:PassConnection"] = (
            "AllowPassingThisAccountsConnectionsToPipelines"
        )
    return grants


# Not granted because of the configuration, which HANDLER_PERMISSIONS_LEFT_OUT (one table for
# every configuration) cannot say: a CodeCommit source has no connection to pass. Checked below
# by simulation: the launch role of such a configuration passes no connection.
CONFIG_LEFT_OUT = {
    "AWS::CodePipeline::Pipeline": {
        "codestar-connections:PassConnection": lambda config: config.uses_codecommit,
    },
}


def schema_derivation_problems(
    template: str,
    template_types: set[str],
    granted: dict[str, set[str]],
    other: dict[str, dict[str, str]],
    policy: dict,
    config=None,
) -> list[str]:
    """Every create/update/delete handler permission of every type is granted or left out with a reason."""
    sids = {
        statement.get("Sid"): set(
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for statement in policy["Statement"]
        if statement.get("Effect") == "Allow"
    }
    problems = []
    missing_types = sorted(template_types - set(granted))
    if missing_types:
        problems.append(f"{template}: {missing_types} have no row in the role's table")
    for resource_type in sorted(template_types & set(granted)):
        schema = handler_permissions(resource_type)
        where = f"{template}: {resource_type}"
        if not handler_permissions(resource_type, ("create", "read", "update", "delete", "list")):
            # No handler data published (AWS::CodeBuild::Project): its row is hand-written.
            continue
        by_statement = other.get(resource_type, {})
        for action, sid in by_statement.items():
            if action not in sids.get(sid, set()):
                problems.append(
                    f"{where}: {action} is counted as granted by statement {sid!r}, which does not grant it"
                )
        given = granted[resource_type] | set(by_statement)
        left_out = iam.HANDLER_PERMISSIONS_LEFT_OUT.get(resource_type, {})
        by_config = {
            a for a, applies in CONFIG_LEFT_OUT.get(resource_type, {}).items() if config is not None and applies(config)
        }
        uncovered = sorted(schema - given - set(left_out) - by_config)
        if uncovered:
            problems.append(
                f"{where}: the schema's handlers list {uncovered}, neither granted nor in "
                "iam.HANDLER_PERMISSIONS_LEFT_OUT with a reason"
            )
        both = sorted(given & set(left_out))
        if both:
            problems.append(f"{where}: {both} are granted and listed as left out")
        both = sorted(given & by_config)
        if both:
            problems.append(f"{where}: {both} are granted although the configuration leaves them out")
        unreasoned = sorted(a for a, reason in left_out.items() if not str(reason).strip())
        if unreasoned:
            problems.append(f"{where}: {unreasoned} are left out without a reason")
        stale = sorted(set(left_out) - schema)
        if stale:
            problems.append(f"{where}: {stale} are left out but no create/update/delete handler lists them")
    return problems


def test_every_role_is_derived_from_the_current_provider_schemas():
    problems = []
    skipped = []
    project_types: set[str] = set()
    for label, config in (
        ("project template (default config)", DEFAULT.config),
        ("project template (source_provider: codeconnections)", CONNECTIONS_CONFIG),
    ):
        types = {r["Type"] for r in Team(config).template("project")["Resources"].values()}
        project_types |= types
        table = {
            kind: {a for a, _ in entries}
            for kind, entries in iam.launch_permissions(config, source_for(config)).items()
        }
        policy = json.loads(
            iam.launch_policy(config, "arn:aws:s3:::bucket/prefix/seed_code/*", source_for(config)).to_json()
        )
        problems += schema_derivation_problems(label, types, table, launch_other_grants(config), policy, config)
        skipped += [
            f"{label}: {t}"
            for t in sorted(types)
            if not handler_permissions(t, ("create", "read", "update", "delete", "list"))
        ]
    endpoint_types = set(endpoint_resource_arns())
    policy = json.loads(
        iam.cloudformation_policy(
            iam.Scope(DEFAULT.config, one_project=True), "arn:aws:kms:us-east-1:111122223333:key/k"
        ).to_json()
    )
    problems += schema_derivation_problems(
        "endpoint template", endpoint_types, {k: set(v) for k, v in iam.DEPLOY_PERMISSIONS.items()}, {}, policy
    )
    strays = sorted(set(iam.HANDLER_PERMISSIONS_LEFT_OUT) - project_types - endpoint_types)
    if strays:
        problems.append(f"iam.HANDLER_PERMISSIONS_LEFT_OUT has rows for {strays}, which no template creates")
    note = f" (skipped, no handler data in the provider schemas: {skipped})" if skipped else ""
    assert not problems, "roles not derived from the provider schemas" + note + ":\n  " + "\n  ".join(problems)
    assert "AWS::CodeBuild::Project" in " ".join(skipped), (
        "AWS::CodeBuild::Project has handler data now: check its row against it"
    )


def actions_on_type(service: str, kind: str) -> set[str]:
    """Actions of ``service`` that act on its resource type ``kind`` (for ARNs that also match a parent's pattern)."""
    return {
        f"{service}:{d['name']}"
        for d in _service_data(service)[0].values()
        if kind in {r["name"] for r in d["resourceTypes"]}
    }


def test_what_the_schemas_list_but_is_left_out_is_not_allowed():
    """Every HANDLER_PERMISSIONS_LEFT_OUT action on a project resource's type is denied there:
    the launch role on the project template's resources, the CloudFormation role on the endpoint's.
    Left-out actions without any resource type are denied on '*'."""
    project = project_resource_arns()
    # Resources inside the sample resources: (logical id, ARN, actions acting on that ARN's type).
    # Their ARNs also match the parent's pattern, so the actions come from the type, not the ARN.
    inner = {
        "AWS::S3::Bucket": [
            (lid, f"{arn}/model/model.tar.gz", actions_on_type("s3", "object"))
            for lid, arn in project.get("AWS::S3::Bucket", [])
        ],
        "AWS::CodePipeline::Pipeline": [
            (lid, f"{arn}/Build", actions_on_type("codepipeline", "stage"))
            for lid, arn in project.get("AWS::CodePipeline::Pipeline", [])
        ],
    }
    sources = [("launch", "project template", project, inner)]
    sources += [
        ("cloudformation", f"endpoint template ({stage})", endpoint_resource_arns(stage=stage), {})
        for stage in ("staging", "prod")
    ]
    cases = []
    simulated: dict[str, set[str]] = {}

    def deny(purpose, template, resource_type, logical_id, action, reason, target, context):
        simulated.setdefault(resource_type, set()).add(action)
        cases.append(
            (
                DEFAULT.case(
                    purpose,
                    Request(action, target, context=context),
                    label=f"{ROLE_IDS[purpose]} {template} {resource_type} {logical_id}: left out ({reason})",
                ),
                NOT_ALLOWED,
            )
        )

    for purpose, template, arns, more in sources:
        for resource_type, left_out in iam.HANDLER_PERMISSIONS_LEFT_OUT.items():
            if resource_type not in arns:
                continue
            entries = [(lid, arn, set(actions_on(arn))) for lid, arn in arns[resource_type]] + more.get(
                resource_type, []
            )
            for logical_id, arn, on_type in entries:
                for action, reason in left_out.items():
                    if action not in on_type:
                        continue
                    targets = deploy_target(DEFAULT, arn, action) if purpose == "cloudformation" else [(arn, {})]
                    for target, context in targets:
                        if target == arn:  # else the action acts elsewhere than this resource: not this check
                            deny(purpose, template, resource_type, logical_id, action, reason, target, context)
            for action, reason in left_out.items():
                service = action.split(":")[0]
                if (IAM_DATA / "actions" / f"{service}.json").is_file() and action in unscoped_actions(service):
                    deny(purpose, template, resource_type, "(no resource type)", action, reason, "*", {})
    # The configuration's own leave-out: a CodeCommit project's launch role passes no connection.
    assert DEFAULT.config.uses_codecommit
    for action in CONFIG_LEFT_OUT["AWS::CodePipeline::Pipeline"]:
        connection = (
            f"arn:aws:{action.split(':')[0]}:{REGION}:{ACCOUNT}:connection/0f0e0d0c-0b0a-4909-8807-060504030201"
        )
        deny(
            "launch",
            "project template (CodeCommit)",
            "AWS::CodePipeline::Pipeline",
            "PassConnection",
            action,
            "left out by the configuration",
            connection,
            {},
        )
    for kind in (
        "AWS::S3::Bucket",
        "AWS::Logs::LogGroup",
        "AWS::CodePipeline::Pipeline",
        "AWS::SNS::Topic",
        "AWS::SageMaker::ModelPackageGroup",
        "AWS::ApplicationAutoScaling::ScalableTarget",
    ):
        assert simulated.get(kind), (
            f"no left-out action of {kind} acts on the sample resource: the check sees nothing there"
        )
    check(cases)


# ---------------------------------------------------------------- privilege escalation, every role


def escalation_requests(t=DEFAULT) -> list[tuple[str, str, dict]]:
    user = f"arn:aws:iam::{ACCOUNT}:user/intruder"
    guardrail = f"arn:aws:iam::{ACCOUNT}:policy/{t.config.namespace}-guardrail"
    admin_policy = "arn:aws:iam::aws:policy/AdministratorAccess"
    requests = [
        ("iam:CreateUser", user, {}),
        ("iam:CreateAccessKey", user, {}),
        ("iam:CreateLoginProfile", user, {}),
        ("iam:AttachUserPolicy", user, {}),
        ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/escalate", {}),
        ("iam:CreatePolicyVersion", guardrail, {}),
        ("iam:DeletePolicy", guardrail, {}),
        ("kms:DisableKey", t.key_arn, {}),
        ("kms:ScheduleKeyDeletion", t.key_arn, {}),
        ("kms:PutKeyPolicy", t.key_arn, {}),
        ("kms:CreateGrant", t.key_arn, {"kms:GrantIsForAWSResource": "false"}),
    ]
    for purpose in iam.SERVICE_PRINCIPALS:
        own = t.role_arn(purpose)
        requests += [
            ("iam:AttachRolePolicy", own, {"iam:PolicyARN": admin_policy}),
            ("iam:PutRolePolicy", own, {}),
            ("iam:DetachRolePolicy", own, {"iam:PolicyARN": guardrail}),
            ("iam:DeleteRolePolicy", own, {}),
            ("iam:UpdateAssumeRolePolicy", own, {}),
            ("iam:DeleteRolePermissionsBoundary", own, {}),
        ]
    for outside in OUTSIDE_ROLES:
        for service in (*iam.SERVICE_PRINCIPALS.values(), "ec2.amazonaws.com", "lambda.amazonaws.com"):
            requests.append(("iam:PassRole", outside, {"iam:PassedToService": service}))
    return requests


@pytest.mark.parametrize("purpose", list(iam.SERVICE_PRINCIPALS))
def test_no_role_can_escalate_its_privileges(purpose):
    check(
        (DEFAULT.case(purpose, Request(a, arn, context=ctx), label=f"{ROLE_IDS[purpose]} escalation"), NOT_ALLOWED)
        for a, arn, ctx in escalation_requests()
    )


def test_the_sweep_can_see_an_over_broad_grant():
    """The sweep itself must be able to fail: a policy granting s3:* on the bucket is caught."""
    broad = [
        {
            "name": "broad",
            "policy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TooMuch",
                        "Effect": "Allow",
                        "Action": "s3:*",
                        "Resource": f"arn:aws:s3:::{DEFAULT.bucket}",
                    }
                ],
            },
        }
    ]
    allowed = sweep(
        lambda request, label: Case(broad, request, label=label), "broad", {f"arn:aws:s3:::{DEFAULT.bucket}": set()}
    )
    assert {"s3:PutReplicationConfiguration", "s3:DeleteBucket"} <= allowed[f"arn:aws:s3:::{DEFAULT.bucket}"]


def test_a_realtime_projects_roles_hold_nothing_only_async_needs():
    """Topics, the scale-from-zero alarm, scaling and async invocation are the async endpoint's:
    the real-time variant's roles are refused each, the async variant's allowed."""
    async_only = [
        ("cloudformation", "sns:CreateTopic", "sns", "{prefix}-staging-success"),
        ("cloudformation", "cloudwatch:PutMetricAlarm", "cloudwatch", "alarm:{prefix}-staging-backlog"),
        ("cloudformation", "sagemaker:UpdateEndpointWeightsAndCapacities", "sagemaker", "endpoint/{prefix}-staging"),
        ("sagemaker", "sns:Publish", "sns", "{prefix}-staging-success"),
        ("codebuild", "sagemaker:InvokeEndpointAsync", "sagemaker", "endpoint/{prefix}-staging"),
    ]
    cases = []
    for t, expected in ((REALTIME, "ImplicitlyDenied"), (DEFAULT, "Allowed")):
        for purpose, action, service, rest in async_only:
            arn = t.arn(service, rest.format(prefix=t.prefix))
            label = f"{t.config.endpoint_kind.value} {ROLE_IDS[purpose]}"
            cases.append((t.case(purpose, Request(action, arn), label=label), expected))
        # The staging test invokes the kind the project deploys.
        invoke = "sagemaker:InvokeEndpoint" if t is REALTIME else "sagemaker:InvokeEndpointAsync"
        staging = t.sm("endpoint", f"{t.prefix}-staging")
        cases.append((t.case("codebuild", Request(invoke, staging), label="staging test"), "Allowed"))
    check(cases)

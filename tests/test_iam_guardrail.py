"""The tag guardrail, proven by a real IAM evaluator on the policies the templates generate.

Every policy comes from the rendered product template (intrinsics resolved for account
111122223333, us-east-1, partition aws), every request is simulated by npm
``@cloud-copilot/iam-simulate``. The top half of this module is the team fixture the other IAM
test modules share (``test_iam_least_privilege``, ``test_iam_isolation``).

What the engine cannot prove here (README, "what only a real AWS account can prove"): see
``ENGINE_CANNOT_PROVE`` at the end of this module.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pytest

from generator import iam, naming, render
from generator.config import Config, build_config
from generator.product_template import ROLE_IDS
from iamsim_client import (
    IAMSIM_DIR,
    Case,
    IntrinsicError,
    Request,
    engine_ready,
    explain,
    load_template,
    resolve_intrinsics,
    role_policies,
    simulate_detailed,
)

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "111122223333"
REGION = "us-east-1"
PARTITION = "aws"
GUARDRAIL = "TagGuardrailPolicy"
OUTSIDE_ROLES = (
    f"arn:aws:iam::{ACCOUNT}:role/Admin",
    f"arn:aws:iam::{ACCOUNT}:role/AmazonSageMaker-ExecutionRole-20240101T000000",
)
SERVICES = {p: iam.SERVICE_PRINCIPALS[p] for p in iam.SERVICE_PRINCIPALS}
OTHER_SERVICES = ("ec2.amazonaws.com", "lambda.amazonaws.com", "glue.amazonaws.com")

pytestmark = pytest.mark.skipif(engine_ready() is not None, reason=str(engine_ready()))


# ============================================================================ shared team fixture


@dataclass(frozen=True)
class Team:
    """One deployment (config) with one sample SageMaker project, as concrete ARNs."""

    config: Config
    project_name: str = "fraud-custom-project"
    project_id: str = "p-abcdefghijkl"
    key_id: str = "1234abcd-12ab-34cd-56ef-1234567890ab"

    # ---- rendered templates
    @functools.cached_property
    def texts(self) -> dict[str, str]:
        return {target.name: text for target, text in render.render_all(self.config).items()}

    def template(self, name: str) -> dict[str, Any]:
        return load_template(self.texts[name], source=f"{name} template ({self.label})")

    @property
    def label(self) -> str:
        return f"{self.config.namespace}/{self.config.project_suffix}"

    # ---- names and ARNs
    @property
    def prefix(self) -> str:
        return f"{self.project_name}-{self.project_id}"

    @property
    def key_arn(self) -> str:
        return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{self.key_id}"

    @property
    def bucket(self) -> str:
        return f"{self.config.namespace}-{self.project_id}-{ACCOUNT}"

    def role_arn(self, purpose: str) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{naming.role_name(self.config, purpose).pattern}"

    def sm(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"

    def arn(self, service: str, rest: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"

    @property
    def required_tags(self) -> dict[str, str]:
        """A value for every required tag: the default, else the first allowed, else a sample."""
        values = {}
        for tag in self.config.required_tags:
            values[tag.key] = tag.default or (tag.allowed_values or (None,))[0] or self.project_name.split("-")[0]
        return values

    @property
    def project_tags(self) -> dict[str, str]:
        return {"sagemaker:project-name": self.project_name, "sagemaker:project-id": self.project_id}

    @property
    def all_tags(self) -> dict[str, str]:
        return {**self.project_tags, **self.required_tags}

    # ---- parameters of the templates
    @property
    def product_parameters(self) -> dict[str, str]:
        return {
            "KmsAdministratorArn": f"arn:aws:iam::{ACCOUNT}:role/KeyAdmins",
            "PortfolioId": "port-abcdefghij123",
            "ProductName": naming.product_name_default(self.config),
            "ProductDescription": "sample",
            "ProductOwner": "ml-platform",
            "ProductDistributor": "",
            "SupportDescription": "",
            "SupportEmail": "ml-platform@example.com",
            "SupportUrl": "https://wiki.example.com/ml",
            "TemplateBucket": "org-mlops-templates",
            "TemplatePrefix": "releases/v0.1.0",
        }

    @property
    def project_parameters(self) -> dict[str, str]:
        values = {
            "SageMakerProjectName": self.project_name,
            "SageMakerProjectId": self.project_id,
            "KmsArn": "",
            "SeedCodeBucket": "",
            "SeedCodeKeyPrefix": "",
        }
        for tag in self.config.required_tags:
            values[tag_parameter(tag.key)] = self.required_tags[tag.key]
        return values

    def project_resolve_kwargs(self, region: str = REGION) -> dict[str, Any]:
        """Everything needed to resolve the project template's intrinsics for the sample project."""
        base = f"/{self.config.namespace}/{self.config.project_suffix}"
        return dict(
            parameters=self.project_parameters,
            account=ACCOUNT,
            region=region,
            partition=PARTITION,
            resources={"ArtifactBucket": self.bucket, "ArtifactBucket.Arn": f"arn:aws:s3:::{self.bucket}"},
            conditions={"UseProductKey": True, "UseProductSeedCodeBucket": True, "UseProductSeedCodePrefix": True},
            dynamic_refs={
                f"ssm:{base}/kms-key-arn": self.key_arn,
                f"ssm:{base}/seed-code-bucket": "org-mlops-templates",
                f"ssm:{base}/seed-code-prefix": "releases/v0.1.0",
            },
        )

    # ---- role policies, straight from the product template
    @functools.cached_property
    def product(self) -> dict[str, Any]:
        return self.template("product")

    @functools.cache
    def policies(self, purpose: str) -> list[dict[str, Any]]:
        """Every policy the product template gives the role: inline, managed and RolePolicy."""
        role_id = ROLE_IDS[purpose]
        kwargs = dict(
            parameters=self.product_parameters,
            account=ACCOUNT,
            region=REGION,
            partition=PARTITION,
            resources={"ProjectKey": self.key_id, "ProjectKey.Arn": self.key_arn},
        )
        where = f"product template ({self.label})"
        collected = role_policies(self.product, role_id, template_name=where, **kwargs)
        # iamsim_client.role_policies does not know AWS::IAM::RolePolicy (one role's inline policy
        # as its own resource), which is where the product template puts every permission.
        for logical_id, resource in self.product["Resources"].items():
            if resource.get("Type") != "AWS::IAM::RolePolicy":
                continue
            properties = resource["Properties"]
            if properties.get("RoleName") not in ({"Ref": r} for r in ROLE_IDS.values()):
                raise IntrinsicError(f"{where}: {logical_id}.RoleName {properties.get('RoleName')!r} is not a Ref to a role")
            if properties["RoleName"] != {"Ref": role_id}:
                continue
            document = resolve_intrinsics(properties["PolicyDocument"], where=f"{where}: {logical_id}", **kwargs)
            collected.append({"name": logical_id, "policy": document})
        return collected


    @functools.cached_property
    def key_policy(self) -> dict[str, Any]:
        """The product template's key policy: KMS honours IAM policies only where it delegates to them."""
        resources = {f"{ROLE_IDS[p]}.Arn": self.role_arn(p) for p in ROLE_IDS}
        return resolve_intrinsics(self.product["Resources"]["ProjectKey"]["Properties"]["KeyPolicy"],
                                  where=f"product template ({self.label}): ProjectKey.KeyPolicy",
                                  parameters=self.product_parameters, account=ACCOUNT, region=REGION,
                                  partition=PARTITION, resources=resources)

    def case(self, purpose: str, request: Request, label: str = "") -> Case:
        """``request`` made by the role ``purpose``; a request on this team's key meets its key policy."""
        on_key = request.resource_arn == self.key_arn
        return Case(self.policies(purpose), request, label=label or ROLE_IDS[purpose], principal=self.role_arn(purpose),
                    resource_policy=self.key_policy if on_key else None)


def tag_parameter(key: str) -> str:
    """`cost-center` -> `TagCostCenter`, as the templates name their tag parameters."""
    return "Tag" + "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", key) if word)


@functools.cache
def team(namespace: str = "mlops", suffix: str = "custom-project", project_name: str = "fraud-custom-project",
         project_id: str = "p-abcdefghijkl", key_id: str = "1234abcd-12ab-34cd-56ef-1234567890ab") -> Team:
    config = build_config({"namespace": namespace, "project_suffix": suffix})
    return Team(config, project_name, project_id, key_id)


DEFAULT = team()


class Counter:
    """Simulations run by this session, for the report."""

    total = 0


def run(cases: list[Case], **options: Any) -> list[dict[str, Any]]:
    Counter.total += len(cases)
    return simulate_detailed(cases, **options)


def check(cases: Iterable[tuple[Case, str | set[str]]], **options: Any) -> None:
    """Simulate every case; fail naming each case whose result is not the expected one."""
    cases = list(cases)
    results = run([case for case, _ in cases], **options)
    wrong = []
    for (case, expected), result in zip(cases, results):
        allowed = {expected} if isinstance(expected, str) else expected
        if result["overallResult"] not in allowed:
            wrong.append(
                f"{case.label}: {case.request.action} on {case.request.resource_arn} "
                f"context={json.dumps(case.request.context_variables(), sort_keys=True)} -> expected "
                f"{' or '.join(sorted(allowed))}, got {explain(result)}"
            )
    assert not wrong, f"{len(wrong)} of {len(cases)} simulations differ:\n  " + "\n  ".join(wrong[:40])


def existing_resource(tags: Mapping[str, str]) -> dict[str, str]:
    """Context of a request on a resource that already carries ``tags``."""
    return {f"aws:ResourceTag/{key}": value for key, value in tags.items()}


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
            f"product template: {ROLE_IDS[purpose]} policies {names}: guardrail attached={not expected}, expected {expected}"
        )


def test_every_create_the_guardrail_covers_is_denied_without_the_required_tags():
    cases = []
    for purpose in iam.RUNTIME_ROLES:
        for action, arn in guarded_targets(DEFAULT).items():
            for label, tags in bad_tag_sets(DEFAULT).items():
                cases.append(
                    (DEFAULT.case(purpose, Request(action, arn, tags=tags or None),
                          label=f"{ROLE_IDS[purpose]} {label}"), "ExplicitlyDenied")
                )
    check(cases)


def test_denials_come_from_the_guardrail_statement_for_the_missing_key():
    """Not just any Deny: the statement named for the key that is missing."""
    arn = guarded_targets(DEFAULT)["sagemaker:CreateTrainingJob"]
    checks = []
    for tag in DEFAULT.config.required_tags:
        tags = {k: v for k, v in DEFAULT.all_tags.items() if k != tag.key}
        checks.append((tag.key, DEFAULT.case("sagemaker", Request("sagemaker:CreateTrainingJob", arn, tags=tags), label=f"missing {tag.key}")))
    results = run([case for _, case in checks])
    for (key, _), result in zip(checks, results):
        statements = {d.get("statementId") for d in result["denials"] if d.get("denialType") == "Explicit"}
        policies = {d.get("policyIdentifier") for d in result["denials"] if d.get("denialType") == "Explicit"}
        word = "".join(part[:1].upper() + part[1:] for part in key.split("-"))
        assert f"DenyCreateWithout{word}Tag" in statements and policies == {GUARDRAIL}, (
            f"product template: missing {key!r} should be denied by {GUARDRAIL}#DenyCreateWithout{word}Tag, got {explain(result)}"
        )


def test_fully_tagged_creates_are_allowed_exactly_for_the_role_meant_to_create_them():
    cases = []
    for purpose in iam.RUNTIME_ROLES:
        for action, arn in guarded_targets(DEFAULT).items():
            expected = "Allowed" if purpose in CREATORS[action] else "ImplicitlyDenied"
            cases.append((DEFAULT.case(purpose, Request(action, arn, tags=DEFAULT.all_tags),
                               label=f"{ROLE_IDS[purpose]} all required tags"), expected))
    # Extra tags beside the required ones change nothing.
    extra = {**DEFAULT.all_tags, "owner": "alice", "cost-center": "42"}
    for action in ("sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob"):
        cases.append((DEFAULT.case("sagemaker", Request(action, guarded_targets(DEFAULT)[action], tags=extra),
                           label="SageMakerExecutionRole extra tags"), "Allowed"))
    check(cases)


def test_every_allowed_env_value_passes_and_project_name_must_carry_the_suffix():
    env = next(tag for tag in DEFAULT.config.required_tags if tag.allowed_values)
    arn = guarded_targets(DEFAULT)["sagemaker:CreateProcessingJob"]
    cases = [
        (DEFAULT.case("sagemaker", Request("sagemaker:CreateProcessingJob", arn, tags={**DEFAULT.all_tags, env.key: value}),
              label=f"{env.key}={value}"), "Allowed")
        for value in env.allowed_values
    ]
    # Jobs SageMaker Pipelines names itself are scoped by the project tag: another team's project
    # name (other suffix) or none at all is not this role's job.
    for label, name in (("other-suffix", "fraud-risk-project"), ("suffix-not-at-end", "custom-project-x")):
        tags = {**DEFAULT.all_tags, "sagemaker:project-name": name}
        cases.append((DEFAULT.case("sagemaker", Request("sagemaker:CreateProcessingJob", arn, tags=tags), label=label), "ImplicitlyDenied"))
    no_project = {k: v for k, v in DEFAULT.all_tags.items() if k != "sagemaker:project-name"}
    cases.append((DEFAULT.case("sagemaker", Request("sagemaker:CreateProcessingJob", arn, tags=no_project), label="no project-name tag"),
                  "ImplicitlyDenied"))
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
                    cases.append((DEFAULT.case(purpose, Request("sagemaker:DeleteTags", arn, context={**existing, "aws:TagKeys": [spelling]}),
                                       label=f"{ROLE_IDS[purpose]} DeleteTags {spelling}"), "ExplicitlyDenied"))
                    cases.append((DEFAULT.case(purpose, Request("sagemaker:AddTags", arn, tags={spelling: "someone-else"}, context=existing),
                                       label=f"{ROLE_IDS[purpose]} AddTags overwrite {spelling}"), "ExplicitlyDenied"))
    check(cases)


def test_non_required_tags_can_be_added_where_the_role_may_tag():
    existing = existing_resource(DEFAULT.all_tags)
    owner = {"owner": "alice"}
    cases = [
        (DEFAULT.case("cloudformation", Request("sagemaker:AddTags", DEFAULT.sm("endpoint", f"{DEFAULT.prefix}-staging"),
                                                          tags=owner, context=existing), label="CloudFormationRole endpoint"), "Allowed"),
        (DEFAULT.case("codebuild", Request("sagemaker:AddTags", DEFAULT.sm("pipeline", DEFAULT.prefix),
                                                     tags=owner, context=existing), label="CodeBuildRole pipeline"), "Allowed"),
        (DEFAULT.case("sagemaker", Request("sagemaker:AddTags", DEFAULT.sm("model-package", f"{DEFAULT.prefix}/3"),
                                                     tags=owner, context=existing), label="SageMakerExecutionRole model package"), "Allowed"),
        # Tag-on-create: SageMaker checks AddTags for the tags of a create call; the new resource has none yet.
        (DEFAULT.case("sagemaker", Request("sagemaker:AddTags", guarded_targets(DEFAULT)["sagemaker:CreateTrainingJob"],
                                                     tags=DEFAULT.all_tags), label="SageMakerExecutionRole tag on create"), "Allowed"),
        (DEFAULT.case("cloudformation", Request("sagemaker:AddTags", DEFAULT.sm("model", f"{DEFAULT.prefix}-staging-abc1234"),
                                                          tags=DEFAULT.all_tags), label="CloudFormationRole tag on create"), "Allowed"),
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
                cases.append((DEFAULT.case(passer, Request("iam:PassRole", arn, context={"iam:PassedToService": service}),
                                   label=f"{ROLE_IDS[passer]} passes {target} to {short}"), expected))
        # Without the service in the request nothing is passed.
        cases.append((DEFAULT.case(passer, Request("iam:PassRole", DEFAULT.role_arn("sagemaker")),
                           label=f"{ROLE_IDS[passer]} passes without PassedToService"), {"ImplicitlyDenied", "ExplicitlyDenied"}))
    check(cases)


# ============================================================================ the project's own requests

SEED_BUILD = ROOT / "seed_code" / "model_build"
SEED_OFFLINE = SEED_BUILD / "tests" / "offline.py"
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


def build_environment(t: Team) -> dict[str, str]:
    """The model build CodeBuild project's environment, resolved from the project template."""
    project = t.template("project")
    builds = [r for r in project["Resources"].values()
              if r["Type"] == "AWS::CodeBuild::Project" and r["Properties"]["Source"].get("BuildSpec") == "codebuild-buildspec.yml"]
    assert len(builds) == 1, "project template: expected one model build CodeBuild project (codebuild-buildspec.yml)"
    variables = resolve_intrinsics(builds[0]["Properties"]["Environment"]["EnvironmentVariables"],
                                   where="project template: model build environment", **t.project_resolve_kwargs(REGION))
    return {"AWS_REGION": REGION, **{v["Name"]: v["Value"] for v in variables}}


def seed_pipeline_steps(t: Team) -> list[dict[str, Any]]:
    if not SEED_OFFLINE.is_file():
        pytest.skip(f"{SEED_OFFLINE.relative_to(ROOT)} does not exist yet (the seed model build is not in this tree)")
    sys.path.insert(0, str(SEED_BUILD))
    try:
        spec = importlib.util.spec_from_file_location("seed_model_build_offline", SEED_OFFLINE)
        offline = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(offline)
        # The helper replaces the SDK's telemetry sender with a recorder: nothing leaves the machine.
        definition, _keys, _telemetry = offline.render(build_environment(t))
    finally:
        sys.path.remove(str(SEED_BUILD))
    return list(offline.walk_steps(definition["Steps"]))


@pytest.fixture(scope="module")
def seed_steps() -> list[dict[str, Any]]:
    return seed_pipeline_steps(DEFAULT)


def test_every_job_of_the_seed_pipeline_is_allowed_with_exactly_its_tags(seed_steps):
    cases = []
    for step in seed_steps:
        if step["Type"] in STEPS_WITHOUT_JOBS:
            continue
        assert step["Type"] in STEP_CREATES, (
            f"seed pipeline step {step['Name']}: type {step['Type']} has no create action mapped here; add it to STEP_CREATES"
        )
        action, kind = STEP_CREATES[step["Type"]]
        tags = {tag["Key"]: tag["Value"] for tag in step["Arguments"].get("Tags", [])}
        if kind == "model-package":
            name = f"{step['Arguments']['ModelPackageGroupName']}/1"
        else:
            name = f"pipelines-1a2b3c4d5e6f-{step['Name'][:20]}-AbCdEfGhIj"
        arn = DEFAULT.sm(kind, name)
        label = f"seed pipeline step {step['Name']} as SageMakerExecutionRole"
        cases.append((DEFAULT.case("sagemaker", Request(action, arn, tags=tags or None), label=label), "Allowed"))
        if tags:
            cases.append((DEFAULT.case("sagemaker", Request("sagemaker:AddTags", arn, tags=tags),
                               label=label + " (tags on create)"), "Allowed"))
    assert any(case.request.action == "sagemaker:CreateTrainingJob" for case, _ in cases), "seed pipeline has no training step"
    check(cases)


def endpoint_deploy_requests(t: Team, stage: str) -> list[tuple[str, str, dict[str, str], str]]:
    """(action, ARN, tags, resource) CloudFormation sends for each SageMaker resource of the endpoint template.

    Parameters and stack tags are those ``seed_code/model_deploy/build.py`` writes for the stage;
    CloudFormation sends the stack tags together with the resource's own Tags.
    """
    sys.path.insert(0, str(ROOT / "seed_code" / "model_deploy"))
    try:
        spec = importlib.util.spec_from_file_location("seed_model_deploy_build", ROOT / "seed_code" / "model_deploy" / "build.py")
        build = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(build)
    finally:
        sys.path.remove(str(ROOT / "seed_code" / "model_deploy"))
    project = t.template("project")
    deploy = next(r for r in project["Resources"].values()
                  if r["Type"] == "AWS::CodeBuild::Project" and r["Properties"]["Source"].get("BuildSpec") == "buildspec.yml")
    variables = resolve_intrinsics(deploy["Properties"]["Environment"]["EnvironmentVariables"],
                                   where="project template: deploy build environment", **t.project_resolve_kwargs())
    env = build.read_environment({v["Name"]: v["Value"] for v in variables})
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
    kinds = {"AWS::SageMaker::Model": ("sagemaker:CreateModel", "model", "ModelName"),
             "AWS::SageMaker::EndpointConfig": ("sagemaker:CreateEndpointConfig", "endpoint-config", "EndpointConfigName"),
             "AWS::SageMaker::Endpoint": ("sagemaker:CreateEndpoint", "endpoint", "EndpointName")}
    kwargs = dict(parameters=parameters, account=ACCOUNT, region=REGION, partition=PARTITION,
                  conditions={"IsStaging": stage == "staging"})
    for logical_id, resource in endpoint_template["Resources"].items():
        if resource["Type"].startswith("AWS::SageMaker::"):
            assert resource["Type"] in kinds, f"endpoint template: {logical_id} is a {resource['Type']}, not mapped here"
            action, kind, name_property = kinds[resource["Type"]]
            name = resolve_intrinsics(resource["Properties"][name_property], where=f"endpoint template: {logical_id}", **kwargs)
            own = resolve_intrinsics(resource["Properties"].get("Tags", []), where=f"endpoint template: {logical_id}.Tags", **kwargs)
            tags = {**export["Tags"], **{tag["Key"]: tag["Value"] for tag in own}}
            resolved_names[logical_id] = name
            requests.append((action, t.sm(kind, name), tags, logical_id))
    return requests


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_every_sagemaker_resource_of_the_endpoint_template_is_allowed_for_cloudformation(stage):
    cases = []
    for action, arn, tags, logical_id in endpoint_deploy_requests(DEFAULT, stage):
        label = f"endpoint template {logical_id} ({stage}) as CloudFormationRole"
        cases.append((DEFAULT.case("cloudformation", Request(action, arn, tags=tags), label=label), "Allowed"))
        cases.append((DEFAULT.case("cloudformation", Request("sagemaker:AddTags", arn, tags=tags),
                           label=label + " (tags on create)"), "Allowed"))
    assert {c.request.action for c, _ in cases} >= {"sagemaker:CreateModel", "sagemaker:CreateEndpoint"}
    # CreateModel passes the execution role to SageMaker.
    cases.append((DEFAULT.case("cloudformation", Request("iam:PassRole", DEFAULT.role_arn("sagemaker"),
                                                                   context={"iam:PassedToService": "sagemaker.amazonaws.com"}),
                       label="CloudFormationRole passes the model execution role"), "Allowed"))
    check(cases)


# ============================================================================ limits of the engine

ENGINE_CANNOT_PROVE = (
    "Which tags a service really sends: the tests send exactly the tags the seed pipeline definition and "
    "the deploy configuration carry; whether SageMaker Pipelines or CloudFormation add more (for example "
    "aws:cloudformation:* stack tags, sagemaker:pipeline-* tags) or call AddTags separately on create is AWS behaviour.",
    "Whether SageMaker Pipelines evaluates the job creates as the pipeline's execution role (it does per the docs; "
    "the tests simulate that role).",
    "Names SageMaker Pipelines gives its jobs (pipelines-<execution id>-<step>-<random>): the tests use that shape.",
    "Key policy evaluation together with the identity policies (kms:ViaService, grants for AWS resources): the "
    "engine evaluates the identity side only here.",
    "Service-linked roles, service control policies and permission boundaries of the real account.",
    "Whether the handler of each CloudFormation resource type calls exactly the actions its provider schema lists "
    "(the schema is an upper bound; a missing action shows only at deploy time).",
    "Resource policies (the artifact bucket policy) are not combined with the identity policies in these tests.",
)


def test_engine_limits_are_written_down():
    assert all(len(item) > 40 for item in ENGINE_CANNOT_PROVE)
    assert (IAMSIM_DIR / "package-lock.json").is_file(), "the engine must be pinned by a committed lock file"

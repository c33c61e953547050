"""The sample team and project the IAM tests share, and how they run the IAM engine.

``Team`` renders the templates for one configuration and gives concrete ARNs of one sample
SageMaker project (``fraud-custom-project`` / ``p-abcdefghijkl`` by default) and the policies the
product template gives each role, intrinsics resolved for account 111122223333, us-east-1,
partition aws. ``check`` simulates a batch with npm ``@cloud-copilot/iam-simulate`` and fails
naming every case whose result differs. ``sagemaker_condition_keys`` derives the condition keys IAM
fills from a SageMaker create's request parameters (key ARNs, network isolation); ``endpoint_stack``
resolves one stage's endpoint stack, ``team_resource_policy`` a team's key or bucket policy. Used by
``test_iam_guardrail``, ``test_iam_least_privilege``, ``test_iam_isolation``, ``test_iam_runtime_roles``,
``test_iam_principals`` and ``test_aws_behaviour``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from generator import naming, render
from generator.config import Config, build_config
from generator.product_template import ROLE_IDS as PRODUCT_ROLE_IDS
from generator.project_roles import ROLE_TITLES
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

__all__ = [
    "ACCOUNT",
    "DEFAULT",
    "GUARDRAIL",
    "OUTSIDE_ROLES",
    "PARTITION",
    "REGION",
    "ROLE_IDS",
    "ROOT",
    "SEED_BUILD",
    "SEED_DEPLOY",
    "SEED_OFFLINE",
    "Counter",
    "Team",
    "bucket_policy",
    "build_environment",
    "deploy_build_environment",
    "check",
    "endpoint_resolve_kwargs",
    "endpoint_stack",
    "codebuild_environment",
    "engine_ready",
    "existing_resource",
    "run",
    "sagemaker_condition_keys",
    "sagemaker_parameter_roots",
    "project_request_parameters",
    "seed_module",
    "seed_pipeline_definition",
    "seed_pipeline_steps",
    "tag_parameter",
    "team",
    "team_resource_policy",
]

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "111122223333"
REGION = "us-east-1"
PARTITION = "aws"
GUARDRAIL = "TagGuardrailPolicy"
# Every role's logical id: the product stack's launch role and one project's own roles.
ROLE_IDS = {**PRODUCT_ROLE_IDS, **ROLE_TITLES}
OUTSIDE_ROLES = (
    f"arn:aws:iam::{ACCOUNT}:role/Admin",
    f"arn:aws:iam::{ACCOUNT}:role/AmazonSageMaker-ExecutionRole-20240101T000000",
)


# ============================================================================ the sample team


@dataclass(frozen=True)
class Team:
    """One deployment (config) with one sample SageMaker project, as concrete ARNs."""

    config: Config
    project_name: str = "fraud-custom-project"
    project_id: str = "p-abcdefghijkl"
    key_id: str = "1234abcd-12ab-34cd-56ef-1234567890ab"
    # The product stack's SeedCodeKmsKeyArn (empty: seed code published without a KMS key).
    seed_code_key_arn: str = ""

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
        """The launch role (product stack), or this project's own role for ``purpose``."""
        values = {"AWS::Region": REGION, **self.project_parameters}
        path = naming.role_path(self.config) if purpose in naming.PROJECT_ROLE_PURPOSES else "/"
        name = path + naming.role_name(self.config, purpose).pattern
        name = re.sub(r"\$\{([A-Za-z:]+)\}", lambda m: values[m.group(1)], name)
        arn = f"arn:aws:iam::{ACCOUNT}:role{name}"
        _ROLE_OWNERS.setdefault(arn, (self, purpose))
        return arn

    # Per-instance memos of role_tags and policies, filled lazily per purpose. (functools.cache on
    # the methods would key a module-level cache on self and keep every Team alive.)
    @functools.cached_property
    def _role_tags_memo(self) -> dict[str, dict[str, str]]:
        return {}

    @functools.cached_property
    def _policies_memo(self) -> dict[str, list[dict[str, Any]]]:
        return {}

    def role_tags(self, purpose: str) -> dict[str, str]:
        """The tags the product template gives the role: what AWS sends as aws:PrincipalTag/*."""
        if purpose not in self._role_tags_memo:
            if purpose in PRODUCT_ROLE_IDS:
                tags = self.product["Resources"][PRODUCT_ROLE_IDS[purpose]]["Properties"].get("Tags", [])
            else:
                role = self.project["Resources"][ROLE_TITLES[purpose]]
                tags = self.resolve_project(role["Properties"].get("Tags", []), f"{ROLE_TITLES[purpose]}.Tags")
            self._role_tags_memo[purpose] = {tag["Key"]: tag["Value"] for tag in tags}
        return self._role_tags_memo[purpose]

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
            "SeedCodeKmsKeyArn": self.seed_code_key_arn,
        }

    @property
    def product_conditions(self) -> dict[str, bool]:
        return {"SeedCodeIsKmsEncrypted": bool(self.seed_code_key_arn)}

    @property
    def project_parameters(self) -> dict[str, str]:
        values = {
            "SageMakerProjectName": self.project_name,
            "SageMakerProjectId": self.project_id,
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
            resources={
                "ArtifactBucket": self.bucket,
                "ArtifactBucket.Arn": f"arn:aws:s3:::{self.bucket}",
                **{f"{title}.Arn": self.role_arn(purpose) for purpose, title in ROLE_TITLES.items()},
                **{title: self.role_arn(purpose).rsplit("/", 1)[1] for purpose, title in ROLE_TITLES.items()},
            },
            conditions={},
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

    def policies(self, purpose: str) -> list[dict[str, Any]]:
        """Every policy the product template gives the role: inline, managed and RolePolicy."""
        if purpose not in self._policies_memo:
            self._policies_memo[purpose] = self._collect_policies(purpose)
        return self._policies_memo[purpose]

    def _collect_policies(self, purpose: str) -> list[dict[str, Any]]:
        if purpose not in PRODUCT_ROLE_IDS:
            return self._project_role_policies(purpose)
        role_id = PRODUCT_ROLE_IDS[purpose]
        kwargs = self._product_kwargs
        where = f"product template ({self.label})"
        collected = role_policies(self.product, role_id, template_name=where, **kwargs)
        # iamsim_client.role_policies does not know AWS::IAM::RolePolicy (one role's inline policy
        # as its own resource), which is where the product template puts the launch role's.
        for logical_id, resource in self.product["Resources"].items():
            if resource.get("Type") != "AWS::IAM::RolePolicy":
                continue
            properties = resource["Properties"]
            if properties.get("RoleName") not in ({"Ref": r} for r in PRODUCT_ROLE_IDS.values()):
                raise IntrinsicError(
                    f"{where}: {logical_id}.RoleName {properties.get('RoleName')!r} is not a Ref to a role"
                )
            if properties["RoleName"] != {"Ref": role_id}:
                continue
            if not self.product_conditions.get(resource.get("Condition"), True):
                continue
            document = resolve_intrinsics(properties["PolicyDocument"], where=f"{where}: {logical_id}", **kwargs)
            collected.append({"name": logical_id, "policy": document})
        return collected

    @property
    def _product_kwargs(self) -> dict[str, Any]:
        return dict(
            parameters=self.product_parameters,
            account=ACCOUNT,
            region=REGION,
            partition=PARTITION,
            resources={"ProjectKey": self.key_id, "ProjectKey.Arn": self.key_arn},
            conditions=self.product_conditions,
        )

    def _product_policy(self, logical_id: str) -> dict[str, Any]:
        resource = self.product["Resources"][logical_id]
        where = f"product template ({self.label}): {logical_id}"
        return resolve_intrinsics(resource["Properties"]["PolicyDocument"], where=where, **self._product_kwargs)

    @functools.cached_property
    def _policy_ids(self) -> dict[str, str]:
        """ARN -> logical id of the product stack's named managed policies (guardrail, boundary)."""
        found = {}
        for logical_id, resource in self.product["Resources"].items():
            name = resource.get("Properties", {}).get("ManagedPolicyName")
            if resource.get("Type") == "AWS::IAM::ManagedPolicy" and name is not None:
                name = self.resolve_product(name, f"{logical_id}.ManagedPolicyName")
                found[f"arn:aws:iam::{ACCOUNT}:policy/{name}"] = logical_id
        return found

    @functools.cached_property
    def managed_policies(self) -> dict[str, dict[str, Any]]:
        """The product stack's named managed policies (guardrail, boundary) by their ARN."""
        return {arn: self._product_policy(logical_id) for arn, logical_id in self._policy_ids.items()}

    def _project_role_policies(self, purpose: str) -> list[dict[str, Any]]:
        """A project role's inline policy and the product's guardrail, as the project stack attaches them."""
        collected = role_policies(
            self.project,
            ROLE_TITLES[purpose],
            external_policies=self.managed_policies,
            template_name=f"project template ({self.label})",
            **self.project_resolve_kwargs(),
        )
        # The product's policies by their logical id, as failure messages name them.
        return [{**p, "name": self._policy_ids.get(p["name"], p["name"])} for p in collected]

    def boundaries(self, purpose: str) -> list[dict[str, Any]]:
        """The permissions boundary of the role (project roles: the product's; launch: none)."""
        if purpose in PRODUCT_ROLE_IDS:
            return []
        role = self.project["Resources"][ROLE_TITLES[purpose]]
        arn = self.resolve_project(
            role["Properties"]["PermissionsBoundary"], f"{ROLE_TITLES[purpose]}.PermissionsBoundary"
        )
        assert arn in self.managed_policies, f"project template ({self.label}): boundary {arn} is not a product policy"
        return [{"name": "ProjectRoleBoundary", "policy": self.managed_policies[arn]}]

    @functools.cached_property
    def project(self) -> dict[str, Any]:
        return self.template("project")

    def role_properties(self, purpose: str) -> tuple[str, dict[str, Any]]:
        """(where, properties) of the role's resource: the product's launch role or a project role."""
        if purpose in PRODUCT_ROLE_IDS:
            return f"product template: {PRODUCT_ROLE_IDS[purpose]}", self.product["Resources"][
                PRODUCT_ROLE_IDS[purpose]
            ]["Properties"]
        return f"project template: {ROLE_TITLES[purpose]}", self.project["Resources"][ROLE_TITLES[purpose]][
            "Properties"
        ]

    def trust_document(self, purpose: str) -> dict[str, Any]:
        """The role's trust policy, intrinsics resolved."""
        where, properties = self.role_properties(purpose)
        resolve = self.resolve_product if purpose in PRODUCT_ROLE_IDS else self.resolve_project
        return resolve(properties["AssumeRolePolicyDocument"], f"{where} trust policy")

    def resolve_project(self, value: Any, where: str) -> Any:
        return resolve_intrinsics(
            value, where=f"project template ({self.label}): {where}", **self.project_resolve_kwargs()
        )

    def resolve_product(self, value: Any, where: str, **extra: Any) -> Any:
        """``value`` of the product template with its intrinsics resolved (``extra``: resources, ...)."""
        return resolve_intrinsics(
            value,
            parameters=self.product_parameters,
            account=ACCOUNT,
            region=REGION,
            partition=PARTITION,
            where=where,
            **extra,
        )

    @functools.cached_property
    def key_policy(self) -> dict[str, Any]:
        """The product template's key policy: KMS honours IAM policies only where it delegates to them."""
        # The key policy names no role (project roles by their path): only parameters to resolve.
        key_policy = self.product["Resources"]["ProjectKey"]["Properties"]["KeyPolicy"]
        return self.resolve_product(key_policy, f"product template ({self.label}): ProjectKey.KeyPolicy")

    def case(self, purpose: str, request: Request, label: str = "") -> Case:
        """``request`` made by the role ``purpose``; a request on this team's key meets its key policy."""
        on_key = request.resource_arn == self.key_arn
        return Case(
            self.policies(purpose),
            request,
            label=label or ROLE_IDS[purpose],
            principal=self.role_arn(purpose),
            resource_policy=self.key_policy if on_key else None,
            boundaries=self.boundaries(purpose),
        )


def tag_parameter(key: str) -> str:
    """`cost-center` -> `TagCostCenter`, as the templates name their tag parameters."""
    return "Tag" + "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", key) if word)


@functools.cache
def team(
    namespace: str = "mlops",
    suffix: str = "custom-project",
    project_name: str = "fraud-custom-project",
    project_id: str = "p-abcdefghijkl",
    key_id: str = "1234abcd-12ab-34cd-56ef-1234567890ab",
) -> Team:
    config = build_config({"namespace": namespace, "project_suffix": suffix})
    return Team(config, project_name, project_id, key_id)


DEFAULT = team()


class Counter:
    """Simulations run by this session, for the report."""

    total = 0


# Role ARN -> (team, purpose) of every sample role a test has named, for its principal tags.
_ROLE_OWNERS: dict[str, tuple[Team, str]] = {}


def principal_tags(principal: str) -> dict[str, str]:
    owner = _ROLE_OWNERS.get(principal)
    return owner[0].role_tags(owner[1]) if owner else {}


@functools.cache
def _service_actions(service: str) -> dict[str, Any]:
    path = IAMSIM_DIR / "node_modules" / "@cloud-copilot" / "iam-data" / "data" / "actions" / f"{service}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _condition_keys(action: str) -> list[str]:
    """The condition keys IAM's action catalogue lists for ``action`` (S3 sends s3:ResourceAccount where listed)."""
    service, _, name = action.partition(":")
    return _service_actions(service.lower()).get(name.lower(), {}).get("conditionKeys", [])


# ============================================================================ SageMaker request keys

# Action -> condition key -> where the API request carries its value. IAM fills these keys from the
# request parameters (Service Authorization Reference for SageMaker); iam-simulate does not derive
# them, so every test that simulates a SageMaker create sends them through
# ``sagemaker_condition_keys`` from the real request (pipeline step Arguments, endpoint template
# properties, recorded boto3 calls). Marked "same shape": not spelled out in the brief's reference
# list, read from the API's parameter of the same meaning (the catalogue lists the key for the action).
SAGEMAKER_REQUEST_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "CreateProcessingJob": {
        "sagemaker:VolumeKmsKeyArn": ("ProcessingResources", "ClusterConfig", "VolumeKmsKeyId"),
        "sagemaker:OutputKmsKeyArn": ("ProcessingOutputConfig", "KmsKeyId"),
        "sagemaker:NetworkIsolation": ("NetworkConfig", "EnableNetworkIsolation"),  # same shape
    },
    "CreateTrainingJob": {
        "sagemaker:VolumeKmsKeyArn": ("ResourceConfig", "VolumeKmsKeyId"),
        "sagemaker:OutputKmsKeyArn": ("OutputDataConfig", "KmsKeyId"),
        "sagemaker:NetworkIsolation": ("EnableNetworkIsolation",),
    },
    "CreateEndpointConfig": {
        "sagemaker:VolumeKmsKeyArn": ("KmsKeyId",),
        "sagemaker:NetworkIsolation": ("EnableNetworkIsolation",),  # same shape
    },
    "CreateModel": {
        "sagemaker:NetworkIsolation": ("EnableNetworkIsolation",),
    },
    "CreateHyperParameterTuningJob": {  # same shape: the training job definition
        "sagemaker:VolumeKmsKeyArn": ("TrainingJobDefinition", "ResourceConfig", "VolumeKmsKeyId"),
        "sagemaker:OutputKmsKeyArn": ("TrainingJobDefinition", "OutputDataConfig", "KmsKeyId"),
        "sagemaker:NetworkIsolation": ("TrainingJobDefinition", "EnableNetworkIsolation"),
    },
    "CreateTransformJob": {  # same shape
        "sagemaker:VolumeKmsKeyArn": ("TransformResources", "VolumeKmsKeyId"),
        "sagemaker:OutputKmsKeyArn": ("TransformOutput", "KmsKeyId"),
    },
    "CreateAutoMLJobV2": {  # same shape
        "sagemaker:VolumeKmsKeyArn": ("SecurityConfig", "VolumeKmsKeyId"),
        "sagemaker:OutputKmsKeyArn": ("OutputDataConfig", "KmsKeyId"),
    },
    "CreateNotebookInstance": {  # same shape: the notebook's ML storage volume key
        "sagemaker:VolumeKmsKeyArn": ("KmsKeyId",),
    },
}
# The request keys this table maps; an action whose catalogue entry lists one of them but which the
# table does not know cannot be simulated faithfully: sagemaker_condition_keys refuses it.
SAGEMAKER_MAPPED_KEYS = ("sagemaker:VolumeKmsKeyArn", "sagemaker:OutputKmsKeyArn", "sagemaker:NetworkIsolation")


def _request_key_map(action: str) -> dict[str, tuple[str, ...]]:
    service, _, name = action.rpartition(":")
    assert service in ("", "sagemaker"), f"{action}: not a SageMaker action"
    listed = set(_condition_keys(f"sagemaker:{name}"))
    mapping = next((keys for known, keys in SAGEMAKER_REQUEST_KEYS.items() if known.lower() == name.lower()), {})
    unknown = sorted(set(mapping) - listed)
    assert not unknown, f"sagemaker:{name}: IAM's catalogue lists no {unknown}: fix SAGEMAKER_REQUEST_KEYS"
    unmapped = sorted((listed & set(SAGEMAKER_MAPPED_KEYS)) - set(mapping))
    assert not unmapped, (
        f"sagemaker:{name}: IAM sends {unmapped} from its request, SAGEMAKER_REQUEST_KEYS does not say from which "
        "parameter: add it before simulating this action"
    )
    return mapping


def sagemaker_parameter_roots(action: str) -> set[str]:
    """The top-level request parameters ``sagemaker_condition_keys`` reads for ``action``."""
    return {path[0] for path in _request_key_map(action).values()}


def sagemaker_condition_keys(action: str, parameters: Mapping[str, Any]) -> dict[str, str]:
    """The condition keys IAM derives from a SageMaker request's ``parameters`` (API names, as boto3,
    a pipeline step's Arguments or the CloudFormation resource's properties give them).

    A parameter absent from the request gives no key (IAM then has none to compare). Booleans are
    sent as "true"/"false". A value only known at run time (a pipeline expression) fails the test.
    """
    keys: dict[str, str] = {}
    for key, path in _request_key_map(action).items():
        value: Any = parameters
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            continue
        if isinstance(value, bool):
            keys[key] = "true" if value else "false"
        elif isinstance(value, str):
            keys[key] = value
        else:
            raise AssertionError(f"{action}: {'.'.join(path)} is {value!r}, not a value IAM would see in the request")
    return keys


def project_request_parameters(t: Team, action: str) -> dict[str, Any]:
    """The encryption and isolation parameters a correct request of this project carries for ``action``.

    For requests a test builds from scratch (no seed or template request to read them from): every
    key parameter names the project key (as the seed pipeline and the endpoint template do), network
    isolation is on where the project turns it on (training, models: seed training step and endpoint
    template) and absent elsewhere (the seed's processing steps leave it unset).
    """
    parameters: dict[str, Any] = {}
    name = action.rpartition(":")[2]
    for key, path in _request_key_map(action).items():
        if key == "sagemaker:NetworkIsolation":
            if name.lower() not in ("createtrainingjob", "createmodel"):
                continue
            value: Any = True
        else:
            value = t.key_arn
        node = parameters
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return parameters


def with_request_keys(case: Case) -> Case:
    """The case with the keys AWS sends with every request, which the engine does not fill in.

    The caller's ARN, account and tags (a sample role's tags are read from the product
    template), the resource's account, and for S3 ``s3:ResourceAccount``. A key the test set
    itself is kept, so a test can model another account's bucket or an untagged principal.
    """
    context = dict(case.request.context or {})
    if case.principal.startswith("arn:"):
        context.setdefault("aws:PrincipalArn", case.principal)
        context.setdefault("aws:PrincipalAccount", case.principal.split(":")[4])
        for key, value in principal_tags(case.principal).items():
            context.setdefault(f"aws:PrincipalTag/{key}", value)
    owner = case.resource_owner
    context.setdefault("aws:ResourceAccount", owner)
    if "s3:ResourceAccount" in _condition_keys(case.request.action):
        context.setdefault("s3:ResourceAccount", owner)
    return dataclasses.replace(case, request=dataclasses.replace(case.request, context=context))


def run(cases: list[Case], **options: Any) -> list[dict[str, Any]]:
    Counter.total += len(cases)
    return simulate_detailed([with_request_keys(case) for case in cases], **options)


def check(cases: Iterable[tuple[Case, str | set[str]]], **options: Any) -> None:
    """Simulate every case; fail naming each case whose result is not the expected one."""
    cases = list(cases)
    results = run([case for case, _ in cases], **options)
    wrong = []
    for (case, expected), result in zip(cases, results, strict=True):
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


# ============================================================================ resource policies


def bucket_policy(t: Team) -> dict[str, Any]:
    """The project template's policy of the team's artifact bucket, resolved for the sample project."""
    (policy,) = [r for r in t.template("project")["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"]
    return resolve_intrinsics(
        policy["Properties"]["PolicyDocument"],
        where="project template: ArtifactBucketPolicy",
        **t.project_resolve_kwargs(),
    )


def team_resource_policy(
    teams: Iterable[Team], arn: str, bucket_policy_of: Callable[[Team], dict[str, Any]] = bucket_policy
) -> dict[str, Any] | None:
    """The key policy for one of ``teams``' keys, the bucket policy (``bucket_policy_of`` the team)
    for its bucket and objects; else None."""
    for t in teams:
        if arn == t.key_arn:
            return t.key_policy
        if arn == f"arn:{PARTITION}:s3:::{t.bucket}" or arn.startswith(f"arn:{PARTITION}:s3:::{t.bucket}/"):
            return bucket_policy_of(t)
    return None


# ============================================================================ the endpoint stack


def endpoint_resolve_kwargs(parameters: Mapping[str, Any], stage: str) -> dict[str, Any]:
    """The resolver arguments of one stage's endpoint stack, given its parameter values."""
    return dict(
        parameters=parameters,
        account=ACCOUNT,
        region=REGION,
        partition=PARTITION,
        conditions={"IsStaging": stage == "staging"},
    )


def endpoint_stack(t: Team, stage: str, package_version: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The endpoint template and the resolver arguments of one stage's stack deploying version
    ``package_version`` of the project's model package group (other parameters: their defaults)."""
    template = load_template(t.texts["endpoint"], source="endpoint template")
    parameters = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()}
    parameters.update(
        {
            "SageMakerProjectName": t.project_name,
            "SageMakerProjectId": t.project_id,
            "StageName": stage,
            "ConfigHash": "abc1234",
            "KmsKeyArn": t.key_arn,
            "ArtifactBucket": t.bucket,
            "ModelExecutionRoleArn": t.role_arn("sagemaker"),
            "ModelPackageArn": t.sm("model-package", f"{t.prefix}/{package_version}"),
        }
    )
    return template, endpoint_resolve_kwargs(parameters, stage)


# ============================================================================ seed code


SEED_BUILD = ROOT / "seed_code" / "model_build"
SEED_DEPLOY = ROOT / "seed_code" / "model_deploy"
SEED_OFFLINE = SEED_BUILD / "tests" / "offline.py"


def codebuild_environment(t: Team, buildspec: str) -> dict[str, str]:
    """The environment of the project template's CodeBuild project running ``buildspec``, resolved."""
    project = t.template("project")
    builds = [
        r
        for r in project["Resources"].values()
        if r["Type"] == "AWS::CodeBuild::Project" and r["Properties"]["Source"].get("BuildSpec") == buildspec
    ]
    assert len(builds) == 1, (
        f"project template: expected one CodeBuild project running {buildspec}, found {len(builds)}"
    )
    variables = resolve_intrinsics(
        builds[0]["Properties"]["Environment"]["EnvironmentVariables"],
        where=f"project template: {buildspec} build environment",
        **t.project_resolve_kwargs(REGION),
    )
    return {"AWS_REGION": REGION, **{v["Name"]: v["Value"] for v in variables}}


def deploy_build_environment(t: Team) -> dict[str, str]:
    """The environment of the CodeBuild project that runs the deploy repository's ``build.py``: the
    seed's ``buildspec.yml`` or a buildspec the project template gives inline."""
    import yaml

    project = t.template("project")

    def runs_build_py(spec: str) -> bool:
        if spec == "buildspec.yml":
            return True
        try:
            phases = (yaml.safe_load(spec) or {}).get("phases", {}) if "\n" in spec else {}
        except yaml.YAMLError:
            return False
        return any(str(c).startswith("python build.py") for phase in phases.values() for c in phase.get("commands", []))

    builds = [
        r
        for r in project["Resources"].values()
        if r["Type"] == "AWS::CodeBuild::Project"
        and isinstance(r["Properties"]["Source"].get("BuildSpec"), str)
        and runs_build_py(r["Properties"]["Source"]["BuildSpec"])
    ]
    assert len(builds) == 1, f"project template: expected one CodeBuild project running build.py, found {len(builds)}"
    variables = resolve_intrinsics(
        builds[0]["Properties"]["Environment"]["EnvironmentVariables"],
        where="project template: deploy build environment",
        **t.project_resolve_kwargs(REGION),
    )
    return {"AWS_REGION": REGION, **{v["Name"]: v["Value"] for v in variables}}


def build_environment(t: Team) -> dict[str, str]:
    """The model build CodeBuild project's environment, resolved from the project template."""
    return codebuild_environment(t, "codebuild-buildspec.yml")


@contextlib.contextmanager
def seed_module(folder: Path, path: Path, name: str) -> Iterator[ModuleType]:
    """Import a seed-code file with its repository folder importable (as it runs in CodeBuild)."""
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(folder))


def seed_pipeline_definition(t: Team) -> dict[str, Any]:
    if not SEED_OFFLINE.is_file():
        pytest.skip(f"{SEED_OFFLINE.relative_to(ROOT)} does not exist yet (the seed model build is not in this tree)")
    with seed_module(SEED_BUILD, SEED_OFFLINE, "seed_model_build_offline") as offline:
        # The helper replaces the SDK's telemetry sender with a recorder: nothing leaves the machine.
        definition, _keys, _telemetry = offline.render(build_environment(t))
    return definition


def seed_pipeline_steps(t: Team) -> list[dict[str, Any]]:
    definition = seed_pipeline_definition(t)
    with seed_module(SEED_BUILD, SEED_OFFLINE, "seed_model_build_offline") as offline:
        return list(offline.walk_steps(definition["Steps"]))

"""Evaluate the generated IAM policies with a real IAM engine (npm ``@cloud-copilot/iam-simulate``).

Three pieces, used by the template tests:

* ``resolve_intrinsics`` turns a CloudFormation value (long-form intrinsics, as ``load_template``
  gives them) into the concrete JSON IAM would see at run time. Everything it cannot know - a
  parameter, a resource's Ref/GetAtt, a condition's value, an SSM dynamic reference - must be
  supplied by the caller; an unknown one raises ``IntrinsicError`` instead of being guessed, so a
  test never evaluates a policy CloudFormation would not produce.
* ``role_policies`` collects every policy a template attaches to one role.
* ``simulate`` runs the Node wrapper ``tests/iamsim/simulate.mjs`` once for a whole batch.

The engine is AGPL-licensed: it is installed by ``npm ci`` into ``tests/iamsim/node_modules`` at
test time and only ever run as a separate process. Nothing here downloads anything.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IAMSIM_DIR = Path(__file__).resolve().parent / "iamsim"
WRAPPER = IAMSIM_DIR / "simulate.mjs"
ENGINE_PACKAGE = IAMSIM_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate" / "package.json"

DEFAULT_ACCOUNT = "111122223333"
DEFAULT_REGION = "us-east-1"
DEFAULT_PARTITION = "aws"
DEFAULT_PRINCIPAL = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/iamsim-test-principal"

RESULTS = ("Allowed", "ExplicitlyDenied", "ImplicitlyDenied")

_URL_SUFFIX = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_DYNAMIC_REF = re.compile(r"\{\{resolve:([^}]*)\}\}")


class IntrinsicError(ValueError):
    """A CloudFormation value could not be resolved from what the caller supplied."""


class IamSimError(RuntimeError):
    """The engine rejected a case, or the harness could not run it."""


class _NoValue:
    """``AWS::NoValue``: removes the property or list element that holds it."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


# --------------------------------------------------------------------------- templates


def load_template(text: str, *, source: str = "<template>") -> dict[str, Any]:
    """Parse CloudFormation YAML/JSON (short ``!Sub`` tags included) into plain long-form dicts.

    cfn-lint's decoder is CloudFormation's own reading of the file, so ``!GetAtt a.b`` and
    ``Fn::GetAtt: [a, b]`` come out alike.
    """
    import cfnlint.decode

    template, matches = cfnlint.decode.decode_str(text)
    if matches or template is None:
        problems = "; ".join(str(match) for match in matches) or "empty document"
        raise IntrinsicError(f"{source}: not a readable CloudFormation template: {problems}")
    return _plain(template)


def _plain(value: Any) -> Any:
    """cfn-lint's node classes -> dict/list/str, so results compare and serialise plainly."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


# --------------------------------------------------------------------------- intrinsics


@dataclass
class _Resolver:
    parameters: Mapping[str, Any]
    account: str
    region: str
    partition: str
    resources: Mapping[str, Any]
    conditions: Mapping[str, bool]
    dynamic_refs: Mapping[str, str]
    mappings: Mapping[str, Any]
    stack_name: str | None
    where: str = "value"

    def fail(self, message: str) -> IntrinsicError:
        return IntrinsicError(f"{self.where}: {message}")

    def pseudo(self, name: str) -> Any:
        if name == "AWS::AccountId":
            return self.account
        if name == "AWS::Region":
            return self.region
        if name == "AWS::Partition":
            return self.partition
        if name == "AWS::URLSuffix":
            return _URL_SUFFIX[self.partition]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name == "AWS::StackName" and self.stack_name is not None:
            return self.stack_name
        if name == "AWS::StackId" and self.stack_name is not None:
            return (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:"
                f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            )
        raise self.fail(f"pseudo parameter {name} has no value (pass stack_name= for AWS::StackName/StackId)")

    def ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise self.fail(f"Ref takes a logical name, got {name!r}")
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name]
        raise self.fail(
            f"Ref {name!r} is neither a supplied parameter nor a supplied resource "
            f"(parameters: {sorted(self.parameters)}; resources: {sorted(self.resources)})"
        )

    def get_att(self, logical_id: str, attribute: str) -> Any:
        key = f"{logical_id}.{attribute}"
        if key in self.resources:
            return self.resources[key]
        raise self.fail(f"Fn::GetAtt {key!r} is not in the supplied resources (have: {sorted(self.resources)})")

    def condition(self, name: Any) -> bool:
        if not isinstance(name, str) or name not in self.conditions:
            raise self.fail(f"condition {name!r} has no supplied value (have: {sorted(self.conditions)})")
        value = self.conditions[name]
        if not isinstance(value, bool):
            raise self.fail(f"condition {name!r} must be True or False, got {value!r}")
        return value

    def dynamic(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            reference = match.group(1)
            if reference not in self.dynamic_refs:
                raise self.fail(
                    f"dynamic reference {{{{resolve:{reference}}}}} has no supplied value "
                    f"(dynamic_refs keys look like 'ssm:/path'; have: {sorted(self.dynamic_refs)})"
                )
            return str(self.dynamic_refs[reference])

        return _DYNAMIC_REF.sub(replace, text)

    def sub(self, args: Any) -> str:
        if isinstance(args, str):
            pattern, local = args, {}
        elif isinstance(args, list) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], Mapping):
            pattern, local = args[0], {key: self.resolve(item) for key, item in args[1].items()}
        else:
            raise self.fail(f"Fn::Sub takes a string or [string, {{variables}}], got {args!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                value = local[name]
            elif "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                value = self.get_att(logical_id, attribute)
            else:
                value = self.ref(name)
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise self.fail(f"Fn::Sub variable ${{{name}}} resolved to {value!r}, not a string")
            return str(value)

        return _SUB_VAR.sub(replace, pattern)

    def function(self, name: str, args: Any) -> Any:
        if name == "Ref":
            return self.ref(args)
        if name == "Fn::GetAtt":
            if isinstance(args, str) and "." in args:
                logical_id, attribute = args.split(".", 1)
            elif isinstance(args, list) and len(args) == 2:
                logical_id, attribute = args[0], self.resolve(args[1])
            else:
                raise self.fail(f"Fn::GetAtt takes [LogicalId, Attribute], got {args!r}")
            return self.get_att(logical_id, attribute)
        if name == "Fn::Sub":
            return self.sub(args)
        if name == "Fn::If":
            if not (isinstance(args, list) and len(args) == 3):
                raise self.fail(f"Fn::If takes [condition, then, else], got {args!r}")
            return self.resolve(args[1] if self.condition(args[0]) else args[2])
        if name == "Fn::Join":
            if not (isinstance(args, list) and len(args) == 2 and isinstance(args[0], str)):
                raise self.fail(f"Fn::Join takes [delimiter, [values]], got {args!r}")
            items = self.resolve(args[1])
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise self.fail(f"Fn::Join needs a list of strings, got {items!r}")
            return args[0].join(items)
        if name == "Fn::Select":
            index, items = self.resolve(args[0]), self.resolve(args[1])
            try:
                return items[int(index)]
            except (IndexError, TypeError, ValueError):
                raise self.fail(f"Fn::Select index {index!r} out of {items!r}") from None
        if name == "Fn::Split":
            delimiter, text = args[0], self.resolve(args[1])
            if not isinstance(text, str):
                raise self.fail(f"Fn::Split needs a string, got {text!r}")
            return text.split(delimiter)
        if name == "Fn::FindInMap":
            keys = [self.resolve(item) for item in args]
            try:
                return self.mappings[keys[0]][keys[1]][keys[2]]
            except (KeyError, IndexError, TypeError):
                raise self.fail(f"Fn::FindInMap {keys!r} is not in the supplied mappings") from None
        if name == "Fn::Equals":
            left, right = (self.resolve(item) for item in args)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self._bool(args[0])
        if name == "Fn::And":
            return all(self._bool(item) for item in args)
        if name == "Fn::Or":
            return any(self._bool(item) for item in args)
        raise self.fail(f"{name} is not supported by this resolver")

    def _bool(self, value: Any) -> bool:
        if isinstance(value, Mapping) and list(value) == ["Condition"]:
            return self.condition(value["Condition"])
        result = self.resolve(value)
        if not isinstance(result, bool):
            raise self.fail(f"condition function needs a boolean, got {result!r}")
        return result

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((key, args),) = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    result = self.function(key, args)
                    # A Sub pattern may carry a dynamic reference CloudFormation expands afterwards.
                    return self.dynamic(result) if key == "Fn::Sub" else result
            out = {}
            for key, item in value.items():
                resolved = self.resolve(item)
                if resolved is not NO_VALUE:
                    out[str(key)] = resolved
            return out
        if isinstance(value, list):
            return [item for item in (self.resolve(item) for item in value) if item is not NO_VALUE]
        if isinstance(value, str):
            return self.dynamic(value)
        return value


def resolve_intrinsics(
    value: Any,
    *,
    parameters: Mapping[str, Any],
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
    partition: str = DEFAULT_PARTITION,
    resources: Mapping[str, Any] | None = None,
    conditions: Mapping[str, bool] | None = None,
    dynamic_refs: Mapping[str, str] | None = None,
    mappings: Mapping[str, Any] | None = None,
    stack_name: str | None = None,
    where: str = "value",
) -> Any:
    """Resolve every intrinsic function in ``value`` into concrete JSON.

    ``parameters``: template parameter values (a list for ``CommaDelimitedList``).
    ``resources``: ``{"LogicalId": <Ref value>, "LogicalId.Attribute": <GetAtt value>}``.
    ``conditions``: ``{"ConditionName": bool}`` for ``Fn::If``.
    ``dynamic_refs``: ``{"ssm:/path": value}`` for ``{{resolve:ssm:/path}}``.
    ``where`` names the template/resource in error messages.
    Anything referenced but not supplied raises ``IntrinsicError``.
    """
    if partition not in _URL_SUFFIX:
        raise IntrinsicError(f"partition {partition!r} is not one of {sorted(_URL_SUFFIX)}")
    resolver = _Resolver(
        parameters=dict(parameters),
        account=account,
        region=region,
        partition=partition,
        resources=dict(resources or {}),
        conditions=dict(conditions or {}),
        dynamic_refs=dict(dynamic_refs or {}),
        mappings=dict(mappings or {}),
        stack_name=stack_name,
        where=where,
    )
    result = resolver.resolve(_plain(value))
    if result is NO_VALUE:
        raise IntrinsicError(f"{where}: resolves to AWS::NoValue (the property is absent)")
    return result


# --------------------------------------------------------------------------- role policies

_ATTACHABLE = ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")


def _marker(logical_id: str) -> str:
    return f"<<template-resource:{logical_id}>>"


def role_policies(
    template: Mapping[str, Any],
    role_logical_id: str,
    *,
    external_policies: Mapping[str, Any] | None = None,
    template_name: str = "template",
    **resolve_kwargs: Any,
) -> list[dict[str, Any]]:
    """Every policy ``template`` gives the role ``role_logical_id``, as ``[{name, policy}]``.

    Collects the role's inline ``Policies``, the template's ``AWS::IAM::ManagedPolicy`` resources
    named in its ``ManagedPolicyArns`` or naming it in their ``Roles``, and ``AWS::IAM::Policy``
    resources naming it in ``Roles``. A managed policy from outside the template (an AWS managed
    policy ARN, say) must be given in ``external_policies`` as ``{arn: document}``; otherwise this
    raises, because leaving it out would under-state what the role may do.
    Resources whose ``Condition`` is false are skipped, as CloudFormation would.
    ``resolve_kwargs`` go to ``resolve_intrinsics``.
    """
    resources = template.get("Resources") or {}
    role = resources.get(role_logical_id)
    if not isinstance(role, Mapping) or role.get("Type") != "AWS::IAM::Role":
        raise IntrinsicError(f"{template_name}: {role_logical_id} is not an AWS::IAM::Role resource")
    external = dict(external_policies or {})
    conditions = resolve_kwargs.get("conditions") or {}

    def exists(logical_id: str, resource: Mapping[str, Any]) -> bool:
        name = resource.get("Condition")
        if name is None:
            return True
        if name not in conditions:
            raise IntrinsicError(
                f"{template_name}: {logical_id} has Condition {name!r}: supply its value in conditions="
            )
        return bool(conditions[name])

    if not exists(role_logical_id, role):
        raise IntrinsicError(f"{template_name}: role {role_logical_id} is not created under the supplied conditions")

    # Refs to the template's own roles and managed policies resolve to markers here, so an
    # attachment is recognised whatever the caller maps those resources to.
    markers = {
        logical_id: _marker(logical_id)
        for logical_id, resource in resources.items()
        if isinstance(resource, Mapping) and resource.get("Type") in ("AWS::IAM::Role", *_ATTACHABLE)
    }
    marker_kwargs = dict(resolve_kwargs)
    marker_kwargs["resources"] = {**dict(resolve_kwargs.get("resources") or {}), **markers}

    def resolve(value: Any, where: str, *, with_markers: bool = False) -> Any:
        kwargs = marker_kwargs if with_markers else resolve_kwargs
        return resolve_intrinsics(value, where=f"{template_name}: {where}", **kwargs)

    properties = role.get("Properties") or {}
    collected: list[dict[str, Any]] = []
    inline = resolve(properties.get("Policies", []), f"{role_logical_id}.Policies")
    for index, entry in enumerate(inline):
        if not isinstance(entry, Mapping) or "PolicyDocument" not in entry:
            raise IntrinsicError(f"{template_name}: {role_logical_id}.Policies[{index}] has no PolicyDocument")
        collected.append(
            {
                "name": str(entry.get("PolicyName", f"{role_logical_id}-inline-{index}")),
                "policy": entry["PolicyDocument"],
            }
        )

    attached_ids: list[str] = []
    arns = resolve(properties.get("ManagedPolicyArns", []), f"{role_logical_id}.ManagedPolicyArns", with_markers=True)
    reverse = {marker: logical_id for logical_id, marker in markers.items()}
    for arn in arns:
        if arn in reverse:
            attached_ids.append(reverse[arn])
        elif arn in external:
            collected.append({"name": arn, "policy": external[arn]})
        else:
            raise IntrinsicError(
                f"{template_name}: {role_logical_id} attaches {arn!r}, which is neither a managed policy in "
                "the template nor given in external_policies"
            )

    wrong = [i for i in attached_ids if resources[i].get("Type") not in _ATTACHABLE]
    if wrong:
        raise IntrinsicError(
            f"{template_name}: {role_logical_id}.ManagedPolicyArns refers to non-policy resources {wrong}"
        )
    role_marker = markers[role_logical_id]
    # Policies listed on the role first, in its order; then those naming the role, by logical id.
    candidates = attached_ids + sorted(
        logical_id
        for logical_id, resource in resources.items()
        if isinstance(resource, Mapping) and resource.get("Type") in _ATTACHABLE and logical_id not in attached_ids
    )
    for logical_id in candidates:
        resource = resources[logical_id]
        if not exists(logical_id, resource):
            if logical_id in attached_ids:
                raise IntrinsicError(f"{template_name}: {role_logical_id} attaches {logical_id}, which is not created")
            continue
        policy_properties = resource.get("Properties") or {}
        roles = resolve(policy_properties.get("Roles", []), f"{logical_id}.Roles", with_markers=True)
        if role_marker in roles and logical_id not in attached_ids:
            attached_ids.append(logical_id)
        if logical_id not in attached_ids:
            continue
        name_property = "ManagedPolicyName" if resource["Type"] == "AWS::IAM::ManagedPolicy" else "PolicyName"
        name = resolve(policy_properties.get(name_property, logical_id), f"{logical_id}.{name_property}")
        document = resolve(policy_properties.get("PolicyDocument"), f"{logical_id}.PolicyDocument")
        collected.append({"name": str(name), "policy": document})
    return collected


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """One API call as IAM sees it.

    ``tags`` are the tags sent with a create call: AWS puts each into ``aws:RequestTag/<key>`` and
    all keys into ``aws:TagKeys``. With no tags those keys are absent from the request, not empty.
    ``context`` adds or overrides other condition keys (``iam:PassedToService``, ...).
    ``aws:ResourceTag/...`` is never filled from ``tags``: on a create call the resource does not
    exist yet, so IAM has no resource tags to compare.
    """

    action: str
    resource_arn: str
    tags: Mapping[str, str] | None = None
    context: Mapping[str, str | Sequence[str]] | None = None

    def context_variables(self) -> dict[str, str | list[str]]:
        variables: dict[str, str | list[str]] = {}
        if self.tags:
            for key, value in self.tags.items():
                variables[f"aws:RequestTag/{key}"] = str(value)
            variables["aws:TagKeys"] = [str(key) for key in self.tags]
        for key, value in (self.context or {}).items():
            variables[key] = value if isinstance(value, str) else [str(item) for item in value]
        return variables


@dataclass(frozen=True)
class Case:
    """A request made by a principal holding ``policies`` (``[{name, policy}]``)."""

    policies: Sequence[Mapping[str, Any]]
    request: Request
    label: str = ""
    principal: str = DEFAULT_PRINCIPAL
    account: str = DEFAULT_ACCOUNT
    resource_policy: Mapping[str, Any] | None = field(default=None)
    # The principal's permissions boundary (``[{name, policy}]``; empty: none).
    boundaries: Sequence[Mapping[str, Any]] = ()

    @property
    def resource_owner(self) -> str:
        """The resource's account: the ARN's account field when it has one (S3 bucket ARNs do not)."""
        parts = self.request.resource_arn.split(":")
        return parts[4] if len(parts) > 5 and re.fullmatch(r"\d{12}", parts[4]) else self.account

    def to_json(self, case_id: str) -> dict[str, Any]:
        arn = self.request.resource_arn
        if "*" in arn and arn != "*":
            # The engine expands a wildcard request into one simulation per matching pattern and
            # reports a combined result: not the single concrete request a test means to check.
            raise IamSimError(f"{self.label or self.request.action}: use a concrete resource ARN, not {arn!r}")
        payload: dict[str, Any] = {
            "id": case_id,
            "identityPolicies": [{"name": str(p["name"]), "policy": p["policy"]} for p in self.policies],
            "request": {
                "principal": self.principal,
                "action": self.request.action,
                "resource": {"resource": self.request.resource_arn, "accountId": self.resource_owner},
                "contextVariables": self.request.context_variables(),
            },
        }
        if self.resource_policy is not None:
            payload["resourcePolicy"] = self.resource_policy
        if self.boundaries:
            payload["permissionBoundaryPolicies"] = [
                {"name": str(p["name"]), "policy": p["policy"]} for p in self.boundaries
            ]
        return payload


# --------------------------------------------------------------------------- running the engine


def engine_ready() -> str | None:
    """None when the engine can run, else why not."""
    if shutil.which("node") is None:
        return "node is not installed (the CI entry point installs nodejs and npm)"
    if not ENGINE_PACKAGE.is_file():
        return f"{IAMSIM_DIR / 'node_modules'} is missing: run `make test` (npm ci in tests/iamsim)"
    return None


def _describe(case: Case | Mapping[str, Any], case_id: str) -> str:
    if isinstance(case, Case):
        label = f"{case.label}: " if case.label else ""
        return f"case {case_id} ({label}{case.request.action} on {case.request.resource_arn})"
    request = case.get("request") or {}
    return f"case {case_id} ({request.get('action')} on {(request.get('resource') or {}).get('resource')})"


def simulate_detailed(
    cases: Iterable[Case | Mapping[str, Any]],
    *,
    allow_ignored_context: bool = False,
    timeout: float = 300,
) -> list[dict[str, Any]]:
    """Run a batch in one Node process; return the wrapper's result objects in input order.

    Raises ``IamSimError`` when the engine rejects any case (invalid policy, unknown action, a
    resource ARN no resource type of the action matches) and, unless ``allow_ignored_context``,
    when it dropped a supplied condition key as not applicable to the action: a test that
    believes it sent ``aws:RequestTag/project`` must not pass because the key was silently ignored.
    """
    problem = engine_ready()
    if problem:
        raise IamSimError(problem)
    cases = list(cases)
    payload = []
    for index, case in enumerate(cases):
        case_id = str(index)
        payload.append(case.to_json(case_id) if isinstance(case, Case) else {**case, "id": case_id})
    completed = subprocess.run(
        ["node", str(WRAPPER)],
        cwd=IAMSIM_DIR,
        input=json.dumps({"cases": payload}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise IamSimError(f"simulate.mjs exited {completed.returncode}: {completed.stderr.strip()[-2000:]}")
    results = json.loads(completed.stdout)["results"]
    if len(results) != len(cases):
        raise IamSimError(f"simulate.mjs answered {len(results)} of {len(cases)} cases")
    failures = []
    for index, (case, result) in enumerate(zip(cases, results, strict=True)):
        if result.get("id") != str(index):
            raise IamSimError(f"simulate.mjs answered out of order at {index}: {result.get('id')!r}")
        what = _describe(case, str(index))
        if result.get("errors"):
            failures.append(f"{what}: engine error {json.dumps(result['errors'], sort_keys=True)}")
        elif result.get("overallResult") not in RESULTS:
            failures.append(f"{what}: unexpected result {result.get('overallResult')!r}")
        elif result.get("ignoredContextKeys") and not allow_ignored_context:
            failures.append(
                f"{what}: the engine ignored context keys {result['ignoredContextKeys']} as not applicable "
                "to this action/resource type (pass allow_ignored_context=True if that is intended)"
            )
    if failures:
        raise IamSimError("iam-simulate rejected the batch:\n  " + "\n  ".join(failures))
    return results


def simulate(cases: Iterable[Case | Mapping[str, Any]], **options: Any) -> list[str]:
    """``overallResult`` of each case: ``Allowed``, ``ExplicitlyDenied`` or ``ImplicitlyDenied``."""
    return [result["overallResult"] for result in simulate_detailed(cases, **options)]


def explain(result: Mapping[str, Any]) -> str:
    """Which statements decided a result, for assertion messages."""

    def sid(entry: Mapping[str, Any]) -> str:
        policy = entry.get("policyIdentifier", entry.get("policyType"))
        statement = entry.get("statementId") or entry.get("statementIndex")
        return f"{policy}#{statement}"

    parts = [result["overallResult"]]
    explicit = [sid(item) for item in result.get("denials", []) if item.get("denialType") == "Explicit"]
    if explicit:
        parts.append("denied by " + ", ".join(explicit))
    if result.get("grants"):
        parts.append("granted by " + ", ".join(sid(item) for item in result["grants"]))
    return "; ".join(parts)

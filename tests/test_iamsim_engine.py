"""The IAM engine behind the policy tests evaluates conditions the way AWS documents them.

Every template test that says "this request is denied" trusts npm ``@cloud-copilot/iam-simulate``.
These cases pin the behaviours those tests rely on, on small hand-written policies (engine checks,
not project policies), so an engine upgrade that changes one of them fails here first, by name.
The second half checks the harness itself: intrinsic resolution, policy collection, error surfacing.
"""

from __future__ import annotations

import json
import time

import pytest
from troposphere import GetAtt, If, Join, Parameter, Ref, Sub, Template
from troposphere import iam as tiam

from iamsim_client import (
    Case,
    IamSimError,
    IntrinsicError,
    Request,
    explain,
    load_template,
    resolve_intrinsics,
    role_policies,
    simulate,
    simulate_detailed,
)

ACCOUNT = "111122223333"
TRAINING_JOB = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/fraud-custom-project-train-1"
ENDPOINT = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/fraud-custom-project-staging"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/fraud-custom-project-sagemaker-execution"
CREATE = "sagemaker:CreateTrainingJob"

ALLOW_CREATE = {"Sid": "AllowCreateTrainingJob", "Effect": "Allow", "Action": CREATE, "Resource": "*"}


def policy(*statements: dict) -> list[dict]:
    return [{"name": "engine-check", "policy": {"Version": "2012-10-17", "Statement": list(statements)}}]


def deny_create(sid: str, condition: dict) -> dict:
    return {"Sid": sid, "Effect": "Deny", "Action": CREATE, "Resource": "*", "Condition": condition}


# The original sample's "EnforceTagging" (defect B1): a Deny on aws:ResourceTag values.
B1_DENY = deny_create(
    "B1EnforceTagging",
    {"StringEquals": {"aws:ResourceTag/project": "custom-project", "aws:ResourceTag/env": "dev"}},
)
BOTH_KEYS_ONE_NULL = deny_create(
    "DenyIfBothMissing", {"Null": {"aws:RequestTag/project": "true", "aws:RequestTag/env": "true"}}
)
PER_KEY_NULL = [
    deny_create("DenyWithoutProjectTag", {"Null": {"aws:RequestTag/project": "true"}}),
    deny_create("DenyWithoutEnvTag", {"Null": {"aws:RequestTag/env": "true"}}),
]
# The planned exact-spelling guard: deny unless some tag key is exactly "project".
EXACT_PROJECT_KEY = deny_create(
    "DenyUnlessProjectKeySpelledExactly", {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["project"]}}
)
PASS_TO_SAGEMAKER = {
    "Sid": "PassExecutionRoleToSageMakerOnly",
    "Effect": "Allow",
    "Action": "iam:PassRole",
    "Resource": f"arn:aws:iam::{ACCOUNT}:role/*custom-project*",
    "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
}


def describe_endpoint(resource_pattern: str) -> list[dict]:
    return policy(
        {
            "Sid": "DescribeProjectEndpoints",
            "Effect": "Allow",
            "Action": "sagemaker:DescribeEndpoint",
            "Resource": resource_pattern,
        }
    )


# label -> (case, expected overallResult, why AWS decides so)
ENGINE_CASES: dict[str, tuple[Case, str, str]] = {
    "b1-resource-tag-deny-never-fires-on-untagged-create": (
        Case(policy(ALLOW_CREATE, B1_DENY), Request(CREATE, TRAINING_JOB)),
        "Allowed",
        "on a create call the resource has no tags yet: aws:ResourceTag is absent, "
        "StringEquals on an absent key is false",
    ),
    "b1-resource-tag-deny-never-fires-on-tagged-create": (
        Case(
            policy(ALLOW_CREATE, B1_DENY),
            Request(CREATE, TRAINING_JOB, tags={"project": "custom-project", "env": "dev"}),
        ),
        "Allowed",
        "request tags do not become resource tags during the create call",
    ),
    "resource-tag-null-deny-blocks-even-correctly-tagged-create": (
        Case(
            policy(ALLOW_CREATE, deny_create("DenyNoResourceTag", {"Null": {"aws:ResourceTag/project": "true"}})),
            Request(CREATE, TRAINING_JOB, tags={"project": "fraud"}),
        ),
        "ExplicitlyDenied",
        "the other face of B1: aws:ResourceTag is always absent on create, so a Null=true Deny always fires",
    ),
    "two-keys-in-one-null-block-let-one-tag-through": (
        Case(policy(ALLOW_CREATE, BOTH_KEYS_ONE_NULL), Request(CREATE, TRAINING_JOB, tags={"project": "fraud"})),
        "Allowed",
        "keys in one condition block are ANDed: the Deny needs both tags missing",
    ),
    "one-null-statement-per-key-denies-one-tag-request": (
        Case(policy(ALLOW_CREATE, *PER_KEY_NULL), Request(CREATE, TRAINING_JOB, tags={"project": "fraud"})),
        "ExplicitlyDenied",
        "separate statements are ORed: the missing env tag alone denies",
    ),
    "one-null-statement-per-key-allows-fully-tagged-request": (
        Case(
            policy(ALLOW_CREATE, *PER_KEY_NULL), Request(CREATE, TRAINING_JOB, tags={"project": "fraud", "env": "dev"})
        ),
        "Allowed",
        "both keys present: no Deny matches",
    ),
    "negated-operator-on-missing-key-matches": (
        Case(
            policy(
                ALLOW_CREATE, deny_create("DenyOtherProject", {"StringNotEquals": {"aws:RequestTag/project": "fraud"}})
            ),
            Request(CREATE, TRAINING_JOB),
        ),
        "ExplicitlyDenied",
        "IAM: a negated condition operator matches when the key is absent",
    ),
    "negated-operator-on-equal-value-does-not-match": (
        Case(
            policy(
                ALLOW_CREATE, deny_create("DenyOtherProject", {"StringNotEquals": {"aws:RequestTag/project": "fraud"}})
            ),
            Request(CREATE, TRAINING_JOB, tags={"project": "fraud"}),
        ),
        "Allowed",
        "the value equals: StringNotEquals is false",
    ),
    "request-tag-key-matches-case-insensitively": (
        Case(
            policy({**ALLOW_CREATE, "Condition": {"StringEquals": {"aws:RequestTag/project": "fraud"}}}),
            Request(CREATE, TRAINING_JOB, tags={"Project": "fraud"}),
        ),
        "Allowed",
        "condition key names, including the tag key inside aws:RequestTag/<key>, are case-insensitive",
    ),
    "null-check-on-request-tag-accepts-other-key-spelling": (
        Case(
            policy(ALLOW_CREATE, *PER_KEY_NULL), Request(CREATE, TRAINING_JOB, tags={"Project": "fraud", "ENV": "dev"})
        ),
        "Allowed",
        "so a Null check alone cannot enforce the key's exact spelling",
    ),
    "request-tag-value-compares-case-sensitively": (
        Case(
            policy({**ALLOW_CREATE, "Condition": {"StringEquals": {"aws:RequestTag/project": "fraud"}}}),
            Request(CREATE, TRAINING_JOB, tags={"project": "Fraud"}),
        ),
        "ImplicitlyDenied",
        "StringEquals compares values case-sensitively",
    ),
    "tag-keys-exact-spelling-denies-Project": (
        Case(
            policy(ALLOW_CREATE, EXACT_PROJECT_KEY),
            Request(CREATE, TRAINING_JOB, tags={"Project": "fraud", "env": "dev"}),
        ),
        "ExplicitlyDenied",
        "aws:TagKeys values are compared case-sensitively: no key is exactly 'project'",
    ),
    "tag-keys-exact-spelling-denies-PROJECT": (
        Case(policy(ALLOW_CREATE, EXACT_PROJECT_KEY), Request(CREATE, TRAINING_JOB, tags={"PROJECT": "fraud"})),
        "ExplicitlyDenied",
        "same, upper case",
    ),
    "tag-keys-exact-spelling-allows-project": (
        Case(
            policy(ALLOW_CREATE, EXACT_PROJECT_KEY),
            Request(CREATE, TRAINING_JOB, tags={"project": "fraud", "env": "dev"}),
        ),
        "Allowed",
        "one key is exactly 'project', so not every key differs from it",
    ),
    "tag-keys-for-all-values-on-absent-key-is-true": (
        Case(policy(ALLOW_CREATE, EXACT_PROJECT_KEY), Request(CREATE, TRAINING_JOB)),
        "ExplicitlyDenied",
        "IAM: ForAllValues on a missing key (empty set) evaluates to true, so the Deny fires on an untagged create",
    ),
    "tag-keys-for-all-values-on-empty-list-is-true": (
        Case(policy(ALLOW_CREATE, EXACT_PROJECT_KEY), Request(CREATE, TRAINING_JOB, context={"aws:TagKeys": []})),
        "ExplicitlyDenied",
        "an empty aws:TagKeys list is the same empty set",
    ),
    "for-any-value-on-absent-key-is-false": (
        Case(
            policy({**ALLOW_CREATE, "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["project"]}}}),
            Request(CREATE, TRAINING_JOB),
        ),
        "ImplicitlyDenied",
        "IAM: ForAnyValue on a missing key is false",
    ),
    "empty-tag-value-is-present-and-equals-empty-string": (
        Case(
            policy(ALLOW_CREATE, deny_create("DenyEmptyProject", {"StringEquals": {"aws:RequestTag/project": ""}})),
            Request(CREATE, TRAINING_JOB, tags={"project": ""}),
        ),
        "ExplicitlyDenied",
        "an empty tag value is sent: the key exists and equals ''",
    ),
    "ignore-case-tag-keys-catch-other-spellings-on-add-tags": (
        Case(
            policy(
                {"Sid": "AllowTagging", "Effect": "Allow", "Action": "sagemaker:AddTags", "Resource": "*"},
                {
                    "Sid": "DenyOverwritingProjectTag",
                    "Effect": "Deny",
                    "Action": "sagemaker:AddTags",
                    "Resource": "*",
                    "Condition": {
                        "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": ["project"]},
                        "Null": {"aws:ResourceTag/project": "false"},
                    },
                },
            ),
            # Tagging an existing resource: it has tags, so aws:ResourceTag is in the request.
            Request(
                "sagemaker:AddTags",
                TRAINING_JOB,
                tags={"PROJECT": "other"},
                context={"aws:ResourceTag/project": "fraud"},
            ),
        ),
        "ExplicitlyDenied",
        "StringEqualsIgnoreCase compares values ignoring case; the existing resource carries the tag",
    ),
    "delete-tags-sends-tag-keys": (
        Case(
            policy(
                {"Sid": "AllowUntagging", "Effect": "Allow", "Action": "sagemaker:DeleteTags", "Resource": "*"},
                {
                    "Sid": "DenyRemovingRequiredTags",
                    "Effect": "Deny",
                    "Action": "sagemaker:DeleteTags",
                    "Resource": "*",
                    "Condition": {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": ["project", "env"]}},
                },
            ),
            Request("sagemaker:DeleteTags", TRAINING_JOB, context={"aws:TagKeys": ["Env"]}),
        ),
        "ExplicitlyDenied",
        "DeleteTags carries the removed keys in aws:TagKeys",
    ),
    "pass-role-to-sagemaker-allowed": (
        Case(
            policy(PASS_TO_SAGEMAKER),
            Request("iam:PassRole", EXECUTION_ROLE, context={"iam:PassedToService": "sagemaker.amazonaws.com"}),
        ),
        "Allowed",
        "role name and receiving service both match",
    ),
    "pass-role-to-other-service-denied": (
        Case(
            policy(PASS_TO_SAGEMAKER),
            Request("iam:PassRole", EXECUTION_ROLE, context={"iam:PassedToService": "cloudformation.amazonaws.com"}),
        ),
        "ImplicitlyDenied",
        "iam:PassedToService is another service",
    ),
    "pass-role-without-passed-to-service-denied": (
        Case(policy(PASS_TO_SAGEMAKER), Request("iam:PassRole", EXECUTION_ROLE)),
        "ImplicitlyDenied",
        "StringEquals on an absent key is false",
    ),
    "pass-role-other-role-name-denied": (
        Case(
            policy(PASS_TO_SAGEMAKER),
            Request(
                "iam:PassRole",
                f"arn:aws:iam::{ACCOUNT}:role/admin",
                context={"iam:PassedToService": "sagemaker.amazonaws.com"},
            ),
        ),
        "ImplicitlyDenied",
        "the role name lacks 'custom-project' (defect B2's failure mode)",
    ),
    "resource-pattern-per-type-matches": (
        Case(
            describe_endpoint("arn:aws:sagemaker:*:*:endpoint/*custom-project*"),
            Request("sagemaker:DescribeEndpoint", ENDPOINT),
        ),
        "Allowed",
        "resource type written out, wildcard in the name only",
    ),
    "resource-pattern-per-type-rejects-other-name": (
        Case(
            describe_endpoint("arn:aws:sagemaker:*:*:endpoint/*custom-project*"),
            Request("sagemaker:DescribeEndpoint", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/other-staging"),
        ),
        "ImplicitlyDenied",
        "the name does not contain custom-project",
    ),
    "resource-pattern-wildcard-resource-type-does-not-match": (
        Case(
            describe_endpoint("arn:aws:sagemaker:*:*:*/*custom-project*"),
            Request("sagemaker:DescribeEndpoint", ENDPOINT),
        ),
        "ImplicitlyDenied",
        "the engine takes the part before '/' as a literal resource type (IAM ARN reference, 'incorrect "
        "wildcard usage'): write Resource ARNs per resource type",
    ),
}


@pytest.fixture(scope="module")
def engine_results() -> dict[str, dict]:
    labels = list(ENGINE_CASES)
    results = simulate_detailed([ENGINE_CASES[label][0] for label in labels])
    return dict(zip(labels, results, strict=True))


@pytest.mark.parametrize("label", list(ENGINE_CASES))
def test_engine_evaluates_as_aws_documents(label: str, engine_results: dict[str, dict]) -> None:
    case, expected, why = ENGINE_CASES[label]
    result = engine_results[label]
    assert result["overallResult"] == expected, (
        f"iam-simulate, {label}: expected {expected} ({why}), got {explain(result)}; "
        f"context {json.dumps(case.request.context_variables(), sort_keys=True)}"
    )


def test_deny_is_attributed_to_its_statement(engine_results: dict[str, dict]) -> None:
    denials = engine_results["one-null-statement-per-key-denies-one-tag-request"]["denials"]
    assert [d.get("statementId") for d in denials if d["denialType"] == "Explicit"] == ["DenyWithoutEnvTag"]


def test_request_fills_tag_keys_as_aws_does() -> None:
    request = Request(
        CREATE, TRAINING_JOB, tags={"project": "fraud", "env": "dev"}, context={"sagemaker:VolumeKmsKey": "k"}
    )
    assert request.context_variables() == {
        "aws:RequestTag/project": "fraud",
        "aws:RequestTag/env": "dev",
        "aws:TagKeys": ["project", "env"],
        "sagemaker:VolumeKmsKey": "k",
    }
    # No tags sent: the keys are absent, not empty; never aws:ResourceTag on a create.
    assert Request(CREATE, TRAINING_JOB).context_variables() == {}
    assert Request(CREATE, TRAINING_JOB, tags={}).context_variables() == {}


# ------------------------------------------------------------------ engine errors are loud


def test_invalid_policy_fails_the_batch_naming_the_case() -> None:
    broken = [
        {
            "name": "broken-policy",
            "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": CREATE}]},
        }
    ]
    with pytest.raises(IamSimError) as error:
        simulate(
            [
                Case(policy(ALLOW_CREATE), Request(CREATE, TRAINING_JOB)),
                Case(broken, Request(CREATE, TRAINING_JOB), label="broken"),
            ]
        )
    message = str(error.value)
    assert "case 1 (broken:" in message and "broken-policy" in message and "Effect" in message
    assert "case 0" not in message


@pytest.mark.parametrize(
    "request_, fragment",
    [
        (Request("sagemaker:CreateTrainingJobs", TRAINING_JOB), "invalid.action"),
        (Request("sagemaker:DescribeEndpoint", "arn:aws:s3:::some-bucket"), "no.resource.types"),
        # iam:PassedToService does not apply to CreateTrainingJob: the engine drops it, and so must the test.
        (
            Request(CREATE, TRAINING_JOB, context={"iam:PassedToService": "sagemaker.amazonaws.com"}),
            "ignored context keys",
        ),
    ],
    ids=["unknown-action", "arn-of-wrong-type", "inapplicable-context-key"],
)
def test_engine_rejections_raise(request_: Request, fragment: str) -> None:
    with pytest.raises(IamSimError, match=fragment):
        simulate([Case(policy(ALLOW_CREATE), request_)])


def test_wildcard_request_resource_is_refused() -> None:
    with pytest.raises(IamSimError, match="concrete resource ARN"):
        simulate(
            [Case(policy(ALLOW_CREATE), Request(CREATE, "arn:aws:sagemaker:us-east-1:111122223333:training-job/*"))]
        )


def test_batch_of_fifty_runs_in_one_process(record_property) -> None:
    tags = [
        {"project": "fraud", "env": "dev"},
        {"project": "fraud"},
        {"Project": "fraud", "env": "dev"},
        {},
        {"env": "dev"},
    ]
    statements = [ALLOW_CREATE, *PER_KEY_NULL, EXACT_PROJECT_KEY]
    cases = [Case(policy(*statements), Request(CREATE, f"{TRAINING_JOB}-{i}", tags=tags[i % 5])) for i in range(50)]
    started = time.perf_counter()
    results = simulate(cases)
    elapsed = time.perf_counter() - started
    record_property("iamsim_50_cases_seconds", round(elapsed, 3))
    assert results == ["Allowed", "ExplicitlyDenied", "ExplicitlyDenied", "ExplicitlyDenied", "ExplicitlyDenied"] * 10
    # Generous bound: one Node start plus ~1 ms a case; a process per case would take ~15 s.
    assert elapsed < 10, f"50 simulations took {elapsed:.1f} s"


# ------------------------------------------------------------------ intrinsic resolution

SNIPPET = """
Parameters:
  ProjectName: {Type: String}
Conditions:
  UseAsync: !Equals [a, a]
Resources:
  ArtifactBucket:
    Type: AWS::S3::Bucket
  Doc:
    Type: Custom::Doc
    Properties:
      Sub: !Sub 'arn:${AWS::Partition}:s3:::${ArtifactBucket}/${ProjectName}/*'
      SubList: !Sub ['${Prefix}-${AWS::Region}-${AWS::AccountId}', {Prefix: !Ref ProjectName}]
      Escaped: !Sub '${!aws:username}'
      Ref: !Ref ArtifactBucket
      GetAtt: !GetAtt ArtifactBucket.Arn
      GetAttList: !GetAtt [ArtifactBucket, Arn]
      LongForm: {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
      Join: !Join ['/', [!GetAtt ArtifactBucket.Arn, '*']]
      IfTrue: !If [UseAsync, async, realtime]
      IfNoValue: !If [UseAsync, !Ref 'AWS::NoValue', kept]
      List: [one, !If [UseAsync, !Ref 'AWS::NoValue', two], three]
      Dynamic: '{{resolve:ssm:/mlops/kms-key-arn}}'
      DynamicInSub: !Sub '{{resolve:ssm:/mlops/${ProjectName}/team}}'
      Select: !Select [1, !Split [',', 'a,b,c']]
      Suffix: !Sub '${AWS::URLSuffix}'
"""


def snippet_properties(**overrides):
    kwargs = dict(
        parameters={"ProjectName": "fraud-custom-project"},
        resources={"ArtifactBucket": "fraud-artifacts", "ArtifactBucket.Arn": "arn:aws:s3:::fraud-artifacts"},
        conditions={"UseAsync": True},
        dynamic_refs={
            "ssm:/mlops/kms-key-arn": "arn:aws:kms:us-east-1:111122223333:key/k",
            "ssm:/mlops/fraud-custom-project/team": "risk",
        },
        account="444455556666",
        region="eu-west-1",
        where="snippet: Doc",
    )
    kwargs.update(overrides)
    return resolve_intrinsics(load_template(SNIPPET)["Resources"]["Doc"]["Properties"], **kwargs)


def test_resolve_intrinsics_every_form() -> None:
    assert snippet_properties() == {
        "Sub": "arn:aws:s3:::fraud-artifacts/fraud-custom-project/*",
        "SubList": "fraud-custom-project-eu-west-1-444455556666",
        "Escaped": "${aws:username}",
        "Ref": "fraud-artifacts",
        "GetAtt": "arn:aws:s3:::fraud-artifacts",
        "GetAttList": "arn:aws:s3:::fraud-artifacts",
        "LongForm": "arn:aws:iam::444455556666:root",
        "Join": "arn:aws:s3:::fraud-artifacts/*",
        "IfTrue": "async",
        "List": ["one", "three"],
        "Dynamic": "arn:aws:kms:us-east-1:111122223333:key/k",
        "DynamicInSub": "risk",
        "Select": "b",
        "Suffix": "amazonaws.com",
    }


def test_resolve_intrinsics_false_condition_and_partition() -> None:
    resolved = snippet_properties(conditions={"UseAsync": False}, partition="aws-cn")
    assert resolved["IfTrue"] == "realtime"
    assert resolved["IfNoValue"] == "kept"
    assert resolved["List"] == ["one", "two", "three"]
    assert resolved["Sub"].startswith("arn:aws-cn:s3:::")
    assert resolved["Suffix"] == "amazonaws.com.cn"


@pytest.mark.parametrize(
    "override, fragment",
    [
        ({"resources": {"ArtifactBucket.Arn": "arn:aws:s3:::x"}}, "Ref 'ArtifactBucket'"),
        ({"resources": {"ArtifactBucket": "x"}}, "Fn::GetAtt 'ArtifactBucket.Arn'"),
        ({"parameters": {}}, "'ProjectName'"),
        ({"conditions": {}}, "condition 'UseAsync'"),
        ({"dynamic_refs": {}}, "resolve:ssm:/mlops/"),
    ],
    ids=["unknown-ref", "unknown-getatt", "missing-parameter", "missing-condition", "missing-dynamic-ref"],
)
def test_resolve_intrinsics_fails_loudly_on_unknowns(override: dict, fragment: str) -> None:
    with pytest.raises(IntrinsicError, match="snippet: Doc") as error:
        snippet_properties(**override)
    assert fragment in str(error.value)


def test_resolve_intrinsics_unknown_ref_and_stack_name() -> None:
    with pytest.raises(IntrinsicError, match="Ref 'Nowhere'"):
        resolve_intrinsics({"Ref": "Nowhere"}, parameters={})
    with pytest.raises(IntrinsicError, match="AWS::StackName"):
        resolve_intrinsics({"Fn::Sub": "${AWS::StackName}-x"}, parameters={})
    assert resolve_intrinsics({"Fn::Sub": "${AWS::StackName}-x"}, parameters={}, stack_name="s") == "s-x"
    with pytest.raises(IntrinsicError, match="not supported"):
        resolve_intrinsics({"Fn::ImportValue": "shared-key"}, parameters={})


# ------------------------------------------------------------------ role policies, end to end


def troposphere_template() -> Template:
    """A template rendered by troposphere, as the generator's are: inline, managed and attached policies."""
    template = Template()
    template.add_parameter(Parameter("ProjectName", Type="String"))
    template.add_condition("WithExtra", {"Fn::Equals": ["a", "b"]})
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }

    def doc(sid: str, action: str, resource) -> dict:
        return {
            "Version": "2012-10-17",
            "Statement": [{"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}],
        }

    template.add_resource(
        tiam.ManagedPolicy(
            "ListedManaged",
            ManagedPolicyName=Sub("${ProjectName}-listed"),
            PolicyDocument=doc(
                "DescribeEndpoints",
                "sagemaker:DescribeEndpoint",
                Sub("arn:${AWS::Partition}:sagemaker:*:*:endpoint/${ProjectName}*"),
            ),
        )
    )
    template.add_resource(
        tiam.Role(
            "ExecutionRole",
            AssumeRolePolicyDocument=trust,
            ManagedPolicyArns=[Ref("ListedManaged")],
            Policies=[
                tiam.Policy(
                    PolicyName="inline",
                    PolicyDocument=doc("CreateJobs", CREATE, Join("", [GetAtt("Jobs", "Arn"), "*"])),
                ),
                If(
                    "WithExtra",
                    tiam.Policy(PolicyName="extra", PolicyDocument=doc("Extra", "s3:GetObject", "*")),
                    Ref("AWS::NoValue"),
                ),
            ],
        )
    )
    template.add_resource(tiam.Role("OtherRole", AssumeRolePolicyDocument=trust))
    template.add_resource(
        tiam.ManagedPolicy(
            "AttachingManaged",
            Roles=[Ref("ExecutionRole")],
            PolicyDocument=doc("PassRole", "iam:PassRole", GetAtt("ExecutionRole", "Arn")),
        )
    )
    template.add_resource(
        tiam.PolicyType(
            "OtherPolicy", PolicyName="other", Roles=[Ref("OtherRole")], PolicyDocument=doc("Other", "s3:*", "*")
        )
    )
    template.add_resource(
        tiam.PolicyType(
            "SkippedPolicy",
            Condition="WithExtra",
            PolicyName="skipped",
            Roles=[Ref("ExecutionRole")],
            PolicyDocument=doc("S", "s3:*", "*"),
        )
    )
    return template


ROLE_RESOLVE = dict(
    parameters={"ProjectName": "fraud-custom-project"},
    resources={
        "Jobs.Arn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/fraud-custom-project",
        "ExecutionRole.Arn": EXECUTION_ROLE,
    },
    conditions={"WithExtra": False},
)


def test_role_policies_collects_inline_managed_and_attached() -> None:
    template = load_template(troposphere_template().to_yaml(), source="troposphere-snippet")
    policies = role_policies(template, "ExecutionRole", template_name="troposphere-snippet", **ROLE_RESOLVE)
    assert [p["name"] for p in policies] == ["inline", "fraud-custom-project-listed", "AttachingManaged"]
    sids = [statement["Sid"] for p in policies for statement in p["policy"]["Statement"]]
    assert sids == ["CreateJobs", "DescribeEndpoints", "PassRole"]

    with_extra = role_policies(template, "ExecutionRole", **{**ROLE_RESOLVE, "conditions": {"WithExtra": True}})
    assert [p["name"] for p in with_extra] == [
        "inline",
        "extra",
        "fraud-custom-project-listed",
        "AttachingManaged",
        "skipped",
    ]

    assert [p["name"] for p in role_policies(template, "OtherRole", **ROLE_RESOLVE)] == ["other"]

    results = simulate(
        [
            Case(
                policies, Request(CREATE, f"{ROLE_RESOLVE['resources']['Jobs.Arn']}-train-1", tags={"project": "fraud"})
            ),
            Case(policies, Request("sagemaker:DescribeEndpoint", ENDPOINT)),
            Case(
                policies,
                Request("iam:PassRole", EXECUTION_ROLE, context={"iam:PassedToService": "sagemaker.amazonaws.com"}),
            ),
            Case(policies, Request("s3:GetObject", "arn:aws:s3:::fraud-artifacts/key")),
        ]
    )
    assert results == ["Allowed", "Allowed", "Allowed", "ImplicitlyDenied"]


def test_role_policies_fail_loudly() -> None:
    template = load_template(troposphere_template().to_yaml())
    with pytest.raises(IntrinsicError, match="ListedManaged is not an AWS::IAM::Role"):
        role_policies(template, "ListedManaged", **ROLE_RESOLVE)
    with pytest.raises(IntrinsicError, match="Fn::GetAtt 'Jobs.Arn'"):
        role_policies(template, "ExecutionRole", **{**ROLE_RESOLVE, "resources": {"ExecutionRole.Arn": EXECUTION_ROLE}})
    with pytest.raises(IntrinsicError, match="condition 'WithExtra'"):
        role_policies(template, "ExecutionRole", **{**ROLE_RESOLVE, "conditions": {}})

    external = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
    template["Resources"]["ExecutionRole"]["Properties"]["ManagedPolicyArns"].append(external)
    with pytest.raises(IntrinsicError, match="AmazonSageMakerFullAccess"):
        role_policies(template, "ExecutionRole", **ROLE_RESOLVE)
    given = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}]}
    names = [
        p["name"] for p in role_policies(template, "ExecutionRole", external_policies={external: given}, **ROLE_RESOLVE)
    ]
    assert external in names

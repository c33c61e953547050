"""Statement helpers every role shares, and the step from awacs documents to template data.

Every statement has a Sid that says its intent; a comment above it says why when the reason is
not the Sid itself.
"""

from __future__ import annotations

import json
import re

from awacs import logs, s3, sagemaker
from awacs.aws import Action, Allow, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals, StringLike

from generator.iam.scopes import Scope, in_this_account

ANYWHERE = ("*",)


def sid(text: str) -> str:
    """`codebuild`, `cost-center`, `sagemaker:project` as Sid words: `Codebuild`, `CostCenter`, ..."""
    return "".join(part[:1].upper() + part[1:] for part in text.replace(":", "-").split("-"))


def actions(names) -> list[Action]:
    """awacs actions from `service:Action` strings (the tables' spelling)."""
    return [Action(*name.split(":")) for name in names]


def document(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version="2012-10-17", Statement=list(statements))


def _optional(conditions: tuple, principal: Principal | None) -> dict:
    extra = {} if principal is None else {"Principal": principal}
    if len(conditions) == 1:
        only = conditions[0]
        extra["Condition"] = only if isinstance(only, Condition) else Condition(only)
    elif conditions:
        extra["Condition"] = Condition(list(conditions))
    return extra


def allow(name: str, granted, resources, *conditions, principal: Principal | None = None) -> Statement:
    """Allow, when given a Condition or condition elements, only while they all hold.

    ``principal`` only in resource policies (the key policy).
    """
    return Statement(
        Sid=name, Effect=Allow, Action=list(granted), Resource=list(resources), **_optional(conditions, principal)
    )


def deny(name: str, refused, *conditions, resources=ANYWHERE, principal: Principal | None = None) -> Statement:
    """Deny when every condition element holds (elements of one Condition are ANDed)."""
    return Statement(
        Sid=name, Effect=Deny, Action=list(refused), Resource=list(resources), **_optional(conditions, principal)
    )


# ---- pieces of the runtime roles -----------------------------------------------------------------


def bucket_read_write(scope: Scope) -> list[Statement]:
    return [
        allow(
            "AllowProjectBucketObjects",
            [s3.GetObject, s3.GetObjectVersion, s3.PutObject, s3.DeleteObject, s3.AbortMultipartUpload],
            [scope.objects()],
            in_this_account(),
        ),
        allow(
            "AllowListProjectBucket",
            [s3.ListBucket, s3.GetBucketLocation, s3.GetBucketVersioning],
            [scope.bucket()],
            in_this_account(),
        ),
    ]


def no_self_approval() -> Statement:
    """Separation of duties: approving a model version is a person's decision, never a role's.

    Approval starts the deploy pipeline; a build or job running a data scientist's code must
    not be able to register a version as Approved or move one there.
    """
    return deny(
        "DenyApprovingModelVersions",
        [sagemaker.CreateModelPackage, sagemaker.UpdateModelPackage],
        StringEquals("sagemaker:ModelApprovalStatus", "Approved"),
    )


def write_logs(scope: Scope, service: str) -> Statement:
    return allow(
        f"AllowWriting{sid(service)}Logs",
        [logs.CreateLogGroup, logs.CreateLogStream, logs.PutLogEvents],
        scope.log_groups(service),
    )


def project_tagged(scope: Scope, key: str = "aws:RequestTag") -> Condition:
    """Jobs whose names SageMaker chooses are scoped by the project tag they carry (on a create,
    the request's tag; afterwards, ``aws:ResourceTag``, the job's)."""
    return Condition(StringLike(f"{key}/sagemaker:project-name", scope.project_name))


# ---- template data ---------------------------------------------------------------------------

# IAM policy variables (``${aws:ResourceTag/env}``): Fn::Sub would read them as its own.
_POLICY_VARIABLE = re.compile(r"\$\{(aws|sagemaker|s3|kms):")


def to_cfn(document: PolicyDocument) -> dict:
    """The policy as template data: every string naming a pseudo parameter becomes Fn::Sub.

    awacs builds plain strings; CloudFormation needs Fn::Sub around `${AWS::Partition}` and
    friends. An IAM policy variable inside such a string is escaped (`${!aws:...}`) so it
    reaches IAM as written; a string with policy variables only stays a plain string.
    """

    def convert(value):
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, str) and "${" in value:
            escaped = _POLICY_VARIABLE.sub(lambda m: "${!" + m.group(1) + ":", value)
            return {"Fn::Sub": escaped} if "${" in escaped.replace("${!", "") else value
        return value

    return convert(json.loads(document.to_json()))

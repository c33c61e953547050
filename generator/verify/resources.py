"""What a verify run creates, how each is deleted, and finding a run's leftovers by its tag.

A project is deleted through SageMaker (which deletes its stack), then what it leaves is removed
by `generator.teardown` (deploy stacks, pipeline, and the data: a verify project's data is
throw-away). The product stack's key and key parameter outlive the stack on purpose, so they
are removed after it: the key scheduled for deletion, the parameter deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from generator import aws
from generator import teardown as removal
from generator.config import Config
from generator.release import Release
from generator.verify.engine import Run, StepFailed
from generator.verify.plan import KEY_PENDING_DAYS, TAG

SERVICES = {
    "sts": "sts",
    "s3": "s3",
    "cloudformation": "cloudformation",
    "servicecatalog": "servicecatalog",
    "sagemaker": "sagemaker",
    "runtime": "sagemaker-runtime",
    "codepipeline": "codepipeline",
    "codecommit": "codecommit",
    "iam": "iam",
    "kms": "kms",
    "ssm": "ssm",
    "logs": "logs",
    "tagging": "resourcegroupstaggingapi",
}
_GONE_STACK = re.compile(r"does not exist", re.IGNORECASE)


@dataclass
class Clients:
    sts: Any
    s3: Any
    cloudformation: Any
    servicecatalog: Any
    sagemaker: Any
    runtime: Any
    codepipeline: Any
    codecommit: Any
    iam: Any
    kms: Any
    ssm: Any
    logs: Any
    tagging: Any
    session: Any = None  # for clients under other credentials (the guardrail step)

    def for_teardown(self) -> removal.Clients:
        return removal.Clients(self.cloudformation, self.s3, self.logs, self.sagemaker, self.sts)


@dataclass
class Target:
    """Where the run happens and what it runs with."""

    config: Config
    clients: Clients
    account: str
    region: str
    bucket: str
    dist: Path
    profile: str | None
    release: Release | None = None
    caller_arn: str = ""


def connect(profile: str | None, region: str | None) -> Clients:
    session = aws.session(profile, region, "verify")
    return Clients(**{field: session.client(service) for field, service in SERVICES.items()}, session=session)


def tag_list(run_id: str) -> list[dict[str, str]]:
    return [{"Key": TAG, "Value": run_id}]


def _code(error: ClientError) -> str:
    return aws.error_code(error)


# ---- deleting -------------------------------------------------------------------------------


def delete_prefix(target: Target, run: Run, prefix: str) -> str:
    """Every object version under `prefix/` of the bucket (the bucket may be versioned)."""
    s3 = target.clients.s3
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=target.bucket, Prefix=prefix + "/")
    objects = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for page in pages
        for v in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
    ]
    for start in range(0, len(objects), removal.S3_MAX_KEYS):
        batch = objects[start : start + removal.S3_MAX_KEYS]
        errors = s3.delete_objects(Bucket=target.bucket, Delete={"Objects": batch, "Quiet": True}).get("Errors")
        if errors:
            raise StepFailed(f"{len(errors)} object version(s) not deleted, first {errors[0].get('Key')}")
    return f"{len(objects)} object version(s)"


def delete_portfolio(target: Target, run: Run, portfolio_id: str) -> str:
    catalog = target.clients.servicecatalog
    principals = catalog.list_principals_for_portfolio(PortfolioId=portfolio_id).get("Principals", [])
    for principal in principals:
        catalog.disassociate_principal_from_portfolio(PortfolioId=portfolio_id, PrincipalARN=principal["PrincipalARN"])
    catalog.delete_portfolio(Id=portfolio_id)
    return f"with {len(principals)} principal(s) removed" if principals else ""


def _stack_status(cloudformation, name: str) -> str | None:
    try:
        return cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if _code(error) == "ValidationError" and _GONE_STACK.search(str(error)):
            return None
        raise


def delete_stack(target: Target, run: Run, name: str) -> str:
    """Delete a stack and wait; then the key and key parameter it retains, if it made them."""
    cloudformation = target.clients.cloudformation
    if _stack_status(cloudformation, name) is None:
        return "already gone"
    retained = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    }
    cloudformation.delete_stack(StackName=name)

    def deleted():
        status = _stack_status(cloudformation, name)
        if status == "DELETE_FAILED":
            raise StepFailed(f"stack {name} is DELETE_FAILED")
        return True if status in (None, "DELETE_COMPLETE") else None

    run.wait(f"stack {name} to be deleted", deleted)
    done = [f"stack {name}"]
    if retained.get("ProjectKey"):
        done.append(schedule_key_deletion(target, run, retained["ProjectKey"]))
    if retained.get("KeyArnParameter"):
        done.append(delete_parameter(target, run, retained["KeyArnParameter"]))
    return "; ".join(done)


def schedule_key_deletion(target: Target, run: Run, key_id: str) -> str:
    try:
        target.clients.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=KEY_PENDING_DAYS)
    except ClientError as error:
        if _code(error) not in ("KMSInvalidStateException", "NotFoundException"):
            raise
        return f"key {key_id} already pending deletion or gone"
    return f"key {key_id} scheduled for deletion in {KEY_PENDING_DAYS} days"


def delete_parameter(target: Target, run: Run, name: str) -> str:
    try:
        target.clients.ssm.delete_parameter(Name=name)
    except ClientError as error:
        if _code(error) != "ParameterNotFound":
            raise
        return f"parameter {name} already gone"
    return f"parameter {name} deleted"


def delete_project(target: Target, run: Run, name: str) -> str:
    """Delete the project's deploy stacks and pipeline, then the project, then its data.

    The deploy stacks go first: CloudFormation deletes them as the project's own role, which
    goes with the project stack.
    """
    sagemaker, clients = target.clients.sagemaker, target.clients.for_teardown()
    found = removal.look_up_project(clients, name)
    project_id = found[0] if found else run.values.get("project_id")
    said: list[str] = []
    if project_id:
        removal.execute(clients, removal.plan(target.config, clients, name, project_id), False, said.append)
    if found:
        sagemaker.delete_project(ProjectName=name)

        def gone():
            state = removal.look_up_project(clients, name)
            if state is not None and state[1] == "DeleteFailed":
                raise StepFailed(f"project {name} is DeleteFailed")
            return True if state is None else None

        run.wait(f"project {name} to be deleted", gone)
    if not project_id:
        return "project gone; its id is unknown, so nothing it may have left was looked for"
    removal.execute(clients, removal.plan(target.config, clients, name, project_id), True, said.append)
    # The first pass lists the kept data; the second deletes it.
    return f"project {project_id}" + "".join(f"; {line}" for line in said if not line.startswith("kept "))


# ---- leftovers of a run, by tag -------------------------------------------------------------

_ARN = re.compile(r"^arn:[^:]+:(?P<service>[^:]+):[^:]*:[^:]*:(?P<resource>.+)$")


def _kind(arn: str) -> tuple[int, str, str] | None:
    """(deletion order, what, identifier) of a tagged resource verify knows how to delete."""
    match = _ARN.match(arn)
    if not match:
        return None
    service, resource = match["service"], match["resource"]
    kinds = {
        ("sagemaker", "project/"): (0, "SageMaker project"),
        ("cloudformation", "stack/"): (1, "stack"),
        ("catalog", "portfolio/"): (2, "portfolio"),
        ("ssm", "parameter/"): (3, "SSM parameter"),
        ("kms", "key/"): (4, "key"),
    }
    for (owner, prefix), (order, what) in kinds.items():
        if service == owner and resource.startswith(prefix):
            identifier = resource.removeprefix(prefix)
            if what == "stack":
                identifier = identifier.split("/")[0]
            elif what == "SSM parameter":
                identifier = "/" + identifier
            return order, what, identifier
    return None


_DELETERS = {
    "SageMaker project": delete_project,
    "stack": delete_stack,
    "portfolio": delete_portfolio,
    "SSM parameter": delete_parameter,
    "key": schedule_key_deletion,
}


def find_leftovers(target: Target, run: Run, prefix: str) -> list[str]:
    """Register every resource tagged with the run's id as created; returns the ARNs verify cannot delete."""
    pages = target.clients.tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": TAG, "Values": [run.run_id]}]
    )
    arns = sorted(m["ResourceARN"] for page in pages for m in page.get("ResourceTagMappingList", []))
    known = sorted((kind, arn) for arn in arns if (kind := _kind(arn)) is not None)
    # The published objects carry the tag too, but the tagging API does not list objects.
    run.create(f"objects s3://{target.bucket}/{prefix}/", lambda r: delete_prefix(target, r, prefix))
    # Teardown deletes newest first: register in reverse of the deletion order.
    for (_, what, identifier), _arn in reversed(known):
        run.create(f"{what} {identifier}", lambda r, w=what, i=identifier: _DELETERS[w](target, r, i))
    return [arn for arn in arns if _kind(arn) is None]

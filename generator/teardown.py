"""What a deleted SageMaker project leaves behind, and removing it in the right order.

Deleting a project in Studio deletes its project stack only. What stays:
- the deploy stacks the deploy pipeline created (`<name>-<id>-deploy-staging`, `-deploy-prod`;
  the prod endpoint is billed every hour) and the SageMaker pipeline the seed code created:
  these are deleted;
- what the project template retains on purpose (artifact bucket, build log groups, model
  package group): the project's data, kept unless asked otherwise.

Every name comes from `naming` (the same patterns the project template renders), filled in
with the project's name and id and the caller's account and region.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from generator import aws, naming
from generator.config import PROJECT_NAME_MAX, Config
from generator.errors import AwsError, UserError

# S3's largest listing page, and the most keys one delete_objects call takes.
S3_MAX_KEYS = 1000
S3_PAGE_SIZE = S3_MAX_KEYS  # listing page and delete batch (tests make it small)
# Deleting an endpoint takes minutes; CloudFormation gives up on a stack long before this.
STACK_WAITER = {"Delay": 10, "MaxAttempts": 180}


@dataclass(frozen=True)
class Clients:
    """The boto3 clients teardown uses, all for the project's account and region."""

    cloudformation: Any
    s3: Any
    logs: Any
    sagemaker: Any
    sts: Any
    # The role CloudFormation deletes the deploy stacks with, when the one they were created with
    # is gone: each project's roles are its stack's, so deleting the project deletes them.
    stack_role_arn: str | None = None


def connect(profile: str | None, region: str | None, stack_role_arn: str | None = None) -> Clients:
    session = aws.session(profile, region, "teardown")
    services = ("cloudformation", "s3", "logs", "sagemaker", "sts")
    return Clients(*(session.client(service) for service in services), stack_role_arn=stack_role_arn)


# CloudFormation's answer when a stack's role no longer exists (DeleteStack, or the stack's reason).
_ROLE_GONE = "cannot be assumed"
ROLE_GONE_HINT = (
    "the stack's CloudFormation role was deleted with the project's stack: run teardown again with "
    "--stack-role-arn, a role CloudFormation may assume that can delete the endpoint's resources "
    "(the product's ProjectRoleBoundaryArn policy is a fitting permissions policy for it)"
)


def _count(number: int, what: str) -> str:
    return f"{number} {what}{'' if number == 1 else 's'}"


# ---- what a project leaves, one class per kind of thing -------------------------------------


class Kind:
    """A kind of leftover: how to find one by name and how to delete it."""

    label = ""
    # Why it is kept unless --delete-data; None: always deleted.
    keep_reason: str | None = None

    def find(self, clients: Clients, name: str) -> str | None:
        """A short description of what is there, or None when it is absent."""
        raise NotImplementedError

    def delete(self, clients: Clients, name: str) -> str:
        """Delete it; returns what went with it ("" when nothing worth saying)."""
        raise NotImplementedError


class DeployStack(Kind):
    def __init__(self, stage: str, note: str = ""):
        self.label = f"deploy stack ({stage})"
        self.note = note

    def find(self, clients, name):
        def status():
            stack = clients.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
            return stack["StackStatus"]

        found = aws.found(status)
        return None if found in (None, "DELETE_COMPLETE") else found + self.note

    def delete(self, clients, name):
        role = {"RoleARN": clients.stack_role_arn} if clients.stack_role_arn else {}
        try:
            clients.cloudformation.delete_stack(StackName=name, **role)
        except ClientError as error:
            if _ROLE_GONE in aws.describe(error):
                raise AwsError(f"{aws.describe(error)}; {ROLE_GONE_HINT}") from error
            raise
        try:
            clients.cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=STACK_WAITER)
        except WaiterError as error:
            stack = (error.last_response.get("Stacks") or [{}])[0]
            reason = stack.get("StackStatusReason") or str(error)
            hint = f"; {ROLE_GONE_HINT}" if _ROLE_GONE in reason else ""
            raise AwsError(f"{stack.get('StackStatus', 'not deleted')}: {reason}{hint}") from error
        return ""


class SageMakerPipeline(Kind):
    label = "SageMaker pipeline"

    def find(self, clients, name):
        return aws.found(lambda: clients.sagemaker.describe_pipeline(PipelineName=name).get("PipelineStatus", ""))

    def delete(self, clients, name):
        clients.sagemaker.delete_pipeline(PipelineName=name)  # boto3 fills in ClientRequestToken
        return ""


class ArtifactBucket(Kind):
    label = "artifact bucket"
    keep_reason = "models, data and pipeline outputs of the project (every version)"

    def find(self, clients, name):
        if aws.found(lambda: clients.s3.head_bucket(Bucket=name)) is None:
            return None
        page = clients.s3.list_object_versions(Bucket=name, MaxKeys=S3_MAX_KEYS)
        held = len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        return f"{'more than ' if page.get('IsTruncated') else ''}{_count(held, 'object version')}"

    def delete(self, clients, name):
        # Listed in full first: deleting while paging would move the listing under its markers.
        pages = clients.s3.get_paginator("list_object_versions").paginate(
            Bucket=name, PaginationConfig={"PageSize": S3_PAGE_SIZE}
        )
        objects = [
            {"Key": version["Key"], "VersionId": version["VersionId"]}
            for page in pages
            for version in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
        ]
        for start in range(0, len(objects), S3_PAGE_SIZE):
            batch = objects[start : start + S3_PAGE_SIZE]
            response = clients.s3.delete_objects(Bucket=name, Delete={"Objects": batch, "Quiet": True})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise AwsError(
                    f"{len(response['Errors'])} object version(s) not deleted, first "
                    f"{first.get('Key')} ({first.get('Code')}: {first.get('Message')})"
                )
        clients.s3.delete_bucket(Bucket=name)
        return f"emptied: {_count(len(objects), 'object version')} and delete markers"


class BuildLogGroup(Kind):
    label = "build log group"
    keep_reason = "build history of the project"

    def find(self, clients, name):
        groups = clients.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == name), None)
        return None if group is None else _count(group.get("storedBytes", 0), "byte")

    def delete(self, clients, name):
        clients.logs.delete_log_group(logGroupName=name)
        return ""


class ModelPackageGroup(Kind):
    label = "model package group"
    keep_reason = "the project's model registry (every model version and its approval)"

    @staticmethod
    def _packages(clients, name) -> list[str]:
        pages = clients.sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=name)
        return [p["ModelPackageArn"] for page in pages for p in page["ModelPackageSummaryList"]]

    def find(self, clients, name):
        if aws.found(lambda: clients.sagemaker.describe_model_package_group(ModelPackageGroupName=name)) is None:
            return None
        return _count(len(self._packages(clients, name)), "model version")

    def delete(self, clients, name):
        # A group that still holds versions cannot be deleted.
        packages = self._packages(clients, name)
        for arn in packages:
            clients.sagemaker.delete_model_package(ModelPackageName=arn)
        clients.sagemaker.delete_model_package_group(ModelPackageGroupName=name)
        return f"with {_count(len(packages), 'model version')}"


def leftovers(config: Config) -> list[tuple[Kind, naming.DerivedName]]:
    """Everything a deleted project can leave, in the order it must be deleted.

    Prod first: its endpoint costs most. The pipeline after the stacks, the data last.
    """
    names = naming.project_template_names(config)
    return [
        (DeployStack("prod", "; its endpoint is billed every hour"), names["prod_stack"]),
        (DeployStack("staging"), names["staging_stack"]),
        (SageMakerPipeline(), names["sagemaker_pipeline"]),
        (ArtifactBucket(), names["artifact_bucket"]),
        *(
            (BuildLogGroup(), naming.build_log_group(names[project]))
            for project in ("build_project", "deploy_project", "gate_project", "test_project")
        ),
        (ModelPackageGroup(), names["model_package_group"]),
    ]


# ---- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    kind: Kind
    name: str
    found: str | None  # what is there (status, size); None: absent

    def deletes(self, delete_data: bool) -> bool:
        return self.found is not None and (self.kind.keep_reason is None or delete_data)

    def action(self, delete_data: bool) -> str:
        if self.found is None:
            return "absent"
        if self.deletes(delete_data):
            return f"delete ({self.found})"
        return f"keep ({self.found}): {self.kind.keep_reason}; --delete-data deletes it"


def check_project(config: Config, project_name: str, project_id: str | None) -> None:
    """Refuse what the project template would refuse, before any request."""
    if len(project_name) > PROJECT_NAME_MAX or not re.fullmatch(naming.project_name_pattern(config), project_name):
        raise UserError(
            f"--project-name {project_name!r} is not a project name of this configuration "
            f"(a letter first, letters and digits joined by single hyphens, ending in "
            f"-{config.project_suffix}, at most {PROJECT_NAME_MAX} characters)"
        )
    if project_id is not None and not re.fullmatch(naming.PROJECT_ID_PATTERN, project_id):
        raise UserError(
            f"--project-id {project_id!r} is not a SageMaker project id (p- followed by 12 lowercase letters or digits)"
        )


def look_up_project(clients: Clients, project_name: str) -> tuple[str, str] | None:
    """(project id, status) of a project that still exists, else None."""
    return aws.look_up_project(clients.sagemaker, project_name)


def plan(config: Config, clients: Clients, project_name: str, project_id: str) -> list[Item]:
    """Each leftover of the project, by its derived name, with what is there now. Reads only."""
    try:
        values = {
            "SageMakerProjectName": project_name,
            "SageMakerProjectId": project_id,
            "AWS::AccountId": clients.sts.get_caller_identity()["Account"],
        }
    except (ClientError, BotoCoreError) as error:
        raise AwsError(f"cannot find the AWS account: {aws.reason(error)}") from error
    items = []
    for kind, derived in leftovers(config):
        name = derived.resolve(values)
        try:
            items.append(Item(kind, name, kind.find(clients, name)))
        except (ClientError, BotoCoreError) as error:
            raise AwsError(f"cannot read {kind.label} {name}: {aws.reason(error)}; nothing was deleted") from error
    return items


def execute(clients: Clients, items: list[Item], delete_data: bool, echo: Callable[[str], None]) -> None:
    """Delete what the plan deletes, in its order; stop at the first failure and say what went."""
    deleted: list[str] = []
    for item in items:
        if not item.deletes(delete_data):
            continue
        what = f"{item.kind.label} {item.name}"
        try:
            detail = item.kind.delete(clients, item.name)
        except (ClientError, BotoCoreError, AwsError) as error:
            raise AwsError(
                f"deleting {what} failed ({aws.reason(error)}); deleted: {', '.join(deleted) or 'nothing'}; "
                "fix the cause and run teardown again (what is gone shows as absent)"
            ) from error
        deleted.append(item.name)
        echo(f"deleted {what}{f' ({detail})' if detail else ''}")
    for item in items:
        if item.found is not None and not item.deletes(delete_data):
            echo(f"kept {item.kind.label} {item.name}: {item.kind.keep_reason}; --delete-data deletes it")

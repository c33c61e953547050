"""What the commands that call AWS share: a checked boto3 session and one-line error text.

boto3 reads `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) by itself, so every command
built on this session can be pointed at another endpoint (a local moto server) without code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from generator.errors import AwsError, UserError

# How services say a thing does not exist: their own codes, or a validation error whose message
# says so (SageMaker for a pipeline, group or project; CloudFormation for a stack).
MISSING_CODES = frozenset(
    {"404", "NoSuchBucket", "PipelineNotFoundException", "ResourceNotFound", "ResourceNotFoundException"}
)
_MISSING_MESSAGE = re.compile(r"does not exist|could not find|not found", re.IGNORECASE)
# A project in any other state still has its stack (and pipelines that can redeploy).
GONE_PROJECT_STATES = frozenset({"DeleteCompleted"})


def error_code(error) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_missing(error) -> bool:
    """The service answered that the thing asked about does not exist."""
    code = error_code(error)
    message = error.response.get("Error", {}).get("Message") or ""
    return code in MISSING_CODES or (
        code in ("ValidationError", "ValidationException") and bool(_MISSING_MESSAGE.search(message))
    )


def found(call: Callable[[], Any]) -> Any | None:
    """What ``call`` answers, or None when AWS says the thing does not exist."""
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as error:
        if is_missing(error):
            return None
        raise


def reason(error: Exception) -> str:
    """A botocore error as one line."""
    return describe(error) if hasattr(error, "response") else str(error)


def look_up_project(sagemaker, project_name: str) -> tuple[str, str] | None:
    """(project id, status) of a SageMaker project that still exists, else None."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        project = found(lambda: sagemaker.describe_project(ProjectName=project_name))
    except (ClientError, BotoCoreError) as error:
        raise AwsError(f"cannot look up SageMaker project {project_name!r}: {reason(error)}") from error
    if project is None or project.get("ProjectStatus") in GONE_PROJECT_STATES:
        return None
    return project["ProjectId"], project.get("ProjectStatus", "")


def describe(error) -> str:
    detail = error.response.get("Error", {})
    return f"{detail.get('Code', 'error')}: {detail.get('Message') or 'no message'}"


def session(profile: str | None, region: str | None, command: str):
    """A session with a region and credentials, or a one-line error naming what is missing."""
    try:
        import boto3
        import botocore.exceptions as botocore_errors
    except ImportError as error:  # boto3 is only needed by the commands that call AWS
        raise UserError(f"{command} needs boto3: pip install boto3") from error
    try:
        found = boto3.Session(profile_name=profile, region_name=region)
    except botocore_errors.ProfileNotFound as error:
        raise UserError(f"AWS profile {profile!r} not found in the AWS config files") from error
    if not found.region_name:
        raise UserError("no AWS region: pass --region (or set AWS_REGION or a profile region)")
    try:
        credentials = found.get_credentials()
    except botocore_errors.BotoCoreError as error:
        raise AwsError(f"cannot load AWS credentials: {error}") from error
    if credentials is None:
        raise AwsError("no AWS credentials found: configure a profile (--profile) or the AWS_* environment variables")
    return found

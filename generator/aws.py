"""What the commands that call AWS share: a checked boto3 session and one-line error text.

boto3 reads `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) by itself, so every command
built on this session can be pointed at another endpoint (a local moto server) without code.
"""

from __future__ import annotations

from generator.errors import AwsError, UserError


def error_code(error) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


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

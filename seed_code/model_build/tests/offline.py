"""Render the pipeline definition with no AWS and no network.

- moto's `mock_aws` answers the SDK's S3 calls (bucket check, script uploads) and STS.
- The SDK's telemetry sender (it calls STS and an HTTPS endpoint with no timeout) is replaced
  by a recorder, so a test can also prove the seed code's opt-out keeps it from being called.
- moto has no SageMaker Projects (ListTags on a project ARN crashes inside moto). The project's
  ListTags answer therefore comes from botocore's Stubber, which validates the response against
  botocore's SageMaker service model; that a real project carries these tags is NOT checked
  offline.
"""

from __future__ import annotations

import contextlib
import json
import os
from unittest import mock

SAMPLE_ENV = {
    "AWS_REGION": "eu-west-1",
    "SAGEMAKER_PROJECT_NAME": "fraud-custom-project",
    "SAGEMAKER_PROJECT_ID": "p-abcdef123456",
    "SAGEMAKER_PROJECT_ARN": "arn:aws:sagemaker:eu-west-1:123456789012:project/fraud-custom-project",
    "ARTIFACT_BUCKET": "mlops-p-abcdef123456-123456789012",
    "KMS_KEY_ARN": "arn:aws:kms:eu-west-1:123456789012:key/0f0e0d0c-0b0a-4909-8807-060504030201",
    "REQUIRED_TAGS": json.dumps({"project": "fraud", "env": "dev"}),
    "MODEL_PACKAGE_GROUP_NAME": "fraud-custom-project-p-abcdef123456",
    "SAGEMAKER_PIPELINE_ROLE_ARN": "arn:aws:iam::123456789012:role/mlops-custom-project-sagemaker",
    "PROCESSING_INSTANCE_TYPE": "ml.m5.large",
    "TRAINING_INSTANCE_TYPE": "ml.m5.2xlarge",
}


def sample_env(**changes: str | None) -> dict[str, str]:
    env = dict(SAMPLE_ENV)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@contextlib.contextmanager
def recorded_telemetry():
    """Replace the SDK's telemetry sender; yields the list of calls it would have made."""
    import sagemaker.telemetry.telemetry_logging as telemetry

    calls: list = []
    with mock.patch.object(telemetry, "_send_telemetry_request", lambda *a, **k: calls.append(a)):
        yield calls


def project_tags_client(boto_session, settings, project_tags=None, error_code=None):
    """A SageMaker client whose one ListTags call on the project is answered by Stubber."""
    from botocore.stub import Stubber

    client = boto_session.client("sagemaker")
    stubber = Stubber(client)
    if error_code:
        stubber.add_client_error(
            "list_tags",
            service_error_code=error_code,
            service_message="not allowed",
            expected_params={"ResourceArn": settings.project_arn},
        )
    else:
        if project_tags is None:
            project_tags = [
                {"Key": "sagemaker:project-name", "Value": settings.project_name},
                {"Key": "sagemaker:project-id", "Value": settings.project_id},
            ]
        stubber.add_response("list_tags", {"Tags": project_tags}, expected_params={"ResourceArn": settings.project_arn})
    stubber.activate()
    return client


@contextlib.contextmanager
def offline_aws(settings):
    """moto with the project's artifact bucket created; yields a boto3 session."""
    import boto3
    from moto import mock_aws

    with (
        mock.patch.dict(os.environ, {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}),
        mock_aws(),
    ):
        session = boto3.Session(region_name=settings.region)
        # us-east-1 refuses an explicit LocationConstraint (an S3 quirk).
        location = (
            {}
            if settings.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": settings.region}}
        )
        session.client("s3").create_bucket(Bucket=settings.bucket, **location)
        yield session


def render(env: dict[str, str]):
    """(definition dict, uploaded S3 keys, telemetry calls) for the abalone pipeline."""
    from pipelines.run_pipeline import build_pipeline
    from pipelines.settings import ProjectSettings

    settings = ProjectSettings.from_env(env)
    with recorded_telemetry() as calls, offline_aws(settings) as session:
        pipeline, _tags = build_pipeline(
            settings, boto_session=session, sagemaker_client=project_tags_client(session, settings)
        )
        definition = json.loads(pipeline.definition())
        listing = session.client("s3").list_objects_v2(Bucket=settings.bucket)
        keys = sorted(item["Key"] for item in listing.get("Contents", []))
    return definition, keys, calls


def walk_steps(steps):
    """Every step, nested condition branches included, in definition order."""
    for step in steps:
        yield step
        arguments = step.get("Arguments", {})
        yield from walk_steps(arguments.get("IfSteps", []))
        yield from walk_steps(arguments.get("ElseSteps", []))

"""What the seed code knows about its project: environment variables, and the project's tags.

The project template's CodeBuild project sets every variable below (see the contract in the
template repository's docs/architecture.md); each command also takes them as options. A
missing value stops the build with one line naming the variable, never a half-tagged job.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

PROJECT_NAME_TAG = "sagemaker:project-name"
PROJECT_ID_TAG = "sagemaker:project-id"
DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"
# Key inside the artifact bucket where the build uploads the shipped data set.
DATA_KEY = "data/abalone/abalone.data"

_PROJECT_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:project/([A-Za-z0-9-]{1,32})$")
_PROJECT_ID_RE = re.compile(r"^p-[a-z0-9]{12}$")
_KMS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,128}$")
_INSTANCE_TYPE_RE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line meant for the user."""


class ProjectTagsError(Exception):
    """The project's tags could not be read; the message is one line meant for the user."""


@dataclass(frozen=True)
class Variable:
    env: str
    option: str
    help: str
    required: bool = True
    default: str | None = None


# Field name -> environment variable / command-line option.
VARIABLES: dict[str, Variable] = {
    "region": Variable("AWS_REGION", "--region", "AWS region"),
    "project_name": Variable("SAGEMAKER_PROJECT_NAME", "--project-name", "SageMaker project name"),
    "project_id": Variable("SAGEMAKER_PROJECT_ID", "--project-id", "SageMaker project id (p-...)"),
    "project_arn": Variable(
        "SAGEMAKER_PROJECT_ARN", "--project-arn", "SageMaker project ARN; its tags are read from it"
    ),
    "bucket": Variable("ARTIFACT_BUCKET", "--bucket", "the project's KMS-encrypted artifact bucket"),
    "kms_key_arn": Variable("KMS_KEY_ARN", "--kms-key-arn", "customer key for job volumes, outputs and uploads"),
    "required_tags": Variable(
        "REQUIRED_TAGS", "--required-tags", 'JSON object of required tags, e.g. {"project": "x"}'
    ),
    "model_package_group_name": Variable(
        "MODEL_PACKAGE_GROUP_NAME",
        "--model-package-group-name",
        "<project name>-<project id>: model package group, pipeline name and job prefix",
    ),
    "role_arn": Variable("SAGEMAKER_PIPELINE_ROLE_ARN", "--role-arn", "role the pipeline and its jobs run as"),
    "processing_instance_type": Variable(
        "PROCESSING_INSTANCE_TYPE",
        "--processing-instance-type",
        "default processing instance type",
        required=False,
        default=DEFAULT_INSTANCE_TYPE,
    ),
    "training_instance_type": Variable(
        "TRAINING_INSTANCE_TYPE",
        "--training-instance-type",
        "default training instance type",
        required=False,
        default=DEFAULT_INSTANCE_TYPE,
    ),
}


def parse_required_tags(text: str) -> tuple[tuple[str, str], ...]:
    """`REQUIRED_TAGS` JSON -> ((key, value), ...) in the order given."""
    where = f"{VARIABLES['required_tags'].env}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise SettingsError(f'{where} is not valid JSON; expected an object such as {{"project": "fraud"}}') from None
    if not isinstance(value, dict) or not value:
        raise SettingsError(
            f'{where} must be a non-empty JSON object of tag key -> value, such as {{"project": "fraud"}}'
        )
    pairs = []
    for key, tag_value in value.items():
        if not isinstance(tag_value, str) or not tag_value.strip():
            raise SettingsError(
                f"{where}: required tag {key!r} has no value; every required tag needs a non-empty string"
            )
        if key.lower().startswith(("aws:", "sagemaker:")):
            raise SettingsError(f"{where}: tag key {key!r} uses a reserved prefix (aws:, sagemaker:)")
        pairs.append((key, tag_value))
    return tuple(pairs)


@dataclass(frozen=True)
class ProjectSettings:
    region: str
    project_name: str
    project_id: str
    project_arn: str
    bucket: str
    kms_key_arn: str
    required_tags: tuple[tuple[str, str], ...]
    model_package_group_name: str
    role_arn: str
    processing_instance_type: str = DEFAULT_INSTANCE_TYPE
    training_instance_type: str = DEFAULT_INSTANCE_TYPE

    @property
    def prefix(self) -> str:
        """`<project name>-<project id>`: pipeline name, model package group and job prefix."""
        return self.model_package_group_name

    @property
    def input_data_uri(self) -> str:
        return f"s3://{self.bucket}/{DATA_KEY}"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, str | None] | None = None
    ) -> ProjectSettings:
        """Settings from options (when given) or the environment; SettingsError names what is wrong."""
        environ = os.environ if environ is None else environ
        overrides = overrides or {}
        values: dict[str, str] = {}
        for name, variable in VARIABLES.items():
            value = overrides.get(name)
            if value is None:
                value = environ.get(variable.env)
            value = (value or "").strip()
            if not value:
                if variable.required:
                    raise SettingsError(
                        f"{variable.env} is not set ({variable.help}); the project's CodeBuild "
                        f"project sets it, or pass {variable.option}"
                    )
                value = variable.default or ""
            values[name] = value
        return cls._checked(values)

    @classmethod
    def _checked(cls, values: dict[str, str]) -> ProjectSettings:
        def bad(name: str, allowed: str) -> SettingsError:
            return SettingsError(f"{VARIABLES[name].env}={values[name]!r} is not valid: {allowed}")

        if not _PROJECT_ID_RE.match(values["project_id"]):
            raise bad("project_id", "expected p- followed by 12 lowercase letters and digits")
        arn = _PROJECT_ARN_RE.match(values["project_arn"])
        if not arn:
            raise bad("project_arn", "expected arn:<partition>:sagemaker:<region>:<account>:project/<name>")
        if arn.group(1) != values["project_name"]:
            raise bad(
                "project_arn",
                f"it names project {arn.group(1)!r}, not SAGEMAKER_PROJECT_NAME {values['project_name']!r}",
            )
        if not _KMS_ARN_RE.match(values["kms_key_arn"]):
            raise bad("kms_key_arn", "expected a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)")
        if not _ROLE_ARN_RE.match(values["role_arn"]):
            raise bad("role_arn", "expected an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)")
        expected_group = f"{values['project_name']}-{values['project_id']}"
        if values["model_package_group_name"] != expected_group:
            raise bad("model_package_group_name", f"expected <project name>-<project id> = {expected_group!r}")
        for name in ("processing_instance_type", "training_instance_type"):
            if not _INSTANCE_TYPE_RE.match(values[name]):
                raise bad(name, "expected an instance type such as ml.m5.xlarge")
        if values["bucket"].startswith("s3://") or "/" in values["bucket"]:
            raise bad("bucket", "expected a bucket name, without s3:// or a key")
        return cls(**{**values, "required_tags": parse_required_tags(values["required_tags"])})


def read_project_tags(sagemaker_client, settings: ProjectSettings) -> list[dict[str, str]]:
    """`sagemaker:project-name` / `sagemaker:project-id` for the jobs, read from the project.

    A failure to read them stops the build: jobs without their project tags drop out of the
    project's view in Studio and out of tag-scoped permissions, which is worse than no job.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    tags: dict[str, str] = {}
    kwargs = {"ResourceArn": settings.project_arn}
    try:
        while True:
            response = sagemaker_client.list_tags(**kwargs)
            tags.update({tag["Key"]: tag["Value"] for tag in response.get("Tags", [])})
            if not response.get("NextToken"):
                break
            kwargs["NextToken"] = response["NextToken"]
    except ClientError as error:
        detail = error.response.get("Error", {})
        raise ProjectTagsError(
            f"cannot read the tags of project {settings.project_arn}: "
            f"{detail.get('Code', 'error')}: {detail.get('Message', '')}".rstrip(": ")
        ) from None
    except BotoCoreError as error:
        raise ProjectTagsError(f"cannot read the tags of project {settings.project_arn}: {error}") from None

    # The project's own tags win; the contract's name and id stand in when the project carries
    # none, and a disagreement means the variables point at another project.
    result = []
    for key, expected in ((PROJECT_NAME_TAG, settings.project_name), (PROJECT_ID_TAG, settings.project_id)):
        value = tags.get(key, expected)
        if value != expected:
            raise ProjectTagsError(
                f"project {settings.project_arn} has tag {key}={value!r} but the environment says {expected!r}"
            )
        result.append({"Key": key, "Value": value})
    return result


def job_tags(settings: ProjectSettings, project_tags: list[dict[str, str]]) -> list[dict[str, str]]:
    """Project tags then required tags: what every job, the model package and the pipeline carry."""
    return [*project_tags, *({"Key": key, "Value": value} for key, value in settings.required_tags)]

"""Pick the newest approved model of this project and write the deploy configuration files.

Reads the project from the environment the deploy CodeBuild project sets (see README.md),
finds the newest *Approved* version in the project's model package group, and writes one
CloudFormation template configuration file per stage::

    staging-config.json + environment -> staging-config-export.json
    prod-config.json    + environment -> prod-config-export.json

each ``{"Parameters": {...}, "Tags": {...}}`` for ``endpoint-config-template.yml``.

In the project's deploy pipeline this script only proposes: the deploy gate (a separate build
action of the project template, after the one running this script, with none of this
repository's code) asks the model registry itself for the newest Approved version, sets
MODEL_APPROVED from that answer, and fails unless both exports name exactly that
ModelPackageArn. ``build-result.json`` is for local runs (buildspec.yml
reads it); the pipeline ignores it.

Exit codes: 0 written (or, with --allow-no-model, nothing approved yet); 1 no approved model;
2 bad input (environment, config files). Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

STAGES = ("staging", "prod")
TEMPLATE = "endpoint-config-template.yml"
RESULT_FILE = "build-result.json"
CONFIG_HASH_LENGTH = 7
REQUIRED_ENV = (
    "SAGEMAKER_PROJECT_NAME",
    "SAGEMAKER_PROJECT_ID",
    "ARTIFACT_BUCKET",
    "KMS_KEY_ARN",
    "REQUIRED_TAGS",
    "MODEL_PACKAGE_GROUP_NAME",
    "SAGEMAKER_EXECUTION_ROLE_ARN",
    "ENDPOINT_KIND",
    "ENDPOINT_INSTANCE_TYPE",
)
ENDPOINT_KINDS = ("async", "realtime")
# Parameters that come from the environment; a stage file must not override them.
FROM_ENVIRONMENT = (
    "SageMakerProjectName",
    "SageMakerProjectId",
    "ModelPackageArn",
    "ModelExecutionRoleArn",
    "KmsKeyArn",
    "ArtifactBucket",
    "ConfigHash",
)

AUTOSCALING_PARAMETERS = {"MinCapacity", "MaxCapacity"}


class BuildError(Exception):
    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def tag_parameter_name(key: str) -> str:
    """`cost-center` -> `TagCostCenter` (the generator names the template's tag parameters so)."""
    words = re.split(r"[^A-Za-z0-9]+", key)
    return "Tag" + "".join(word[:1].upper() + word[1:] for word in words if word)


def read_environment(env: dict) -> dict:
    missing = [name for name in REQUIRED_ENV if not env.get(name, "").strip()]
    if missing:
        raise BuildError(f"environment variable(s) not set: {', '.join(missing)}")
    values = {name: env[name].strip() for name in REQUIRED_ENV}
    if values["ENDPOINT_KIND"] not in ENDPOINT_KINDS:
        raise BuildError(f"ENDPOINT_KIND is {values['ENDPOINT_KIND']!r}; allowed: {', '.join(ENDPOINT_KINDS)}")
    try:
        tags = json.loads(values["REQUIRED_TAGS"])
    except json.JSONDecodeError as error:
        raise BuildError('REQUIRED_TAGS is not JSON; expected an object such as {"env": "dev"}') from error
    if not isinstance(tags, dict) or not tags:
        raise BuildError("REQUIRED_TAGS must be a non-empty JSON object of tag keys and values")
    empty = [key for key, value in tags.items() if not isinstance(value, str) or not value.strip()]
    if empty:
        raise BuildError(f"REQUIRED_TAGS has no value for: {', '.join(empty)}")
    values["REQUIRED_TAGS"] = tags
    return values


class _AnyTagLoader:
    """YAML loader that reads CloudFormation short-form intrinsics (!Ref, !Sub ...) as plain data."""

    @staticmethod
    def load(text: str):
        import yaml

        class Loader(yaml.SafeLoader):
            pass

        def construct(loader, suffix, node):
            if isinstance(node, yaml.ScalarNode):
                return loader.construct_scalar(node)
            if isinstance(node, yaml.SequenceNode):
                return loader.construct_sequence(node)
            return loader.construct_mapping(node)

        Loader.add_multi_constructor("!", construct)
        return yaml.load(text, Loader=Loader)


def read_template(path: Path) -> tuple[str, set[str], str]:
    """Template text, its parameter names and its endpoint kind."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BuildError(f"cannot read the endpoint template {path}") from error
    body = _AnyTagLoader.load(text) or {}
    parameters = set((body.get("Parameters") or {}).keys())
    kind = ((body.get("Outputs") or {}).get("EndpointKind") or {}).get("Value", "")
    return text, parameters, kind


def read_stage_config(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BuildError(f"cannot read {path}") from error
    except json.JSONDecodeError as error:
        raise BuildError(f"{path} is not valid JSON (line {error.lineno})") from error
    if not isinstance(data, dict) or set(data) - {"Parameters", "Tags"}:
        raise BuildError(f"{path} must be an object with only the keys Parameters and Tags")
    for key in ("Parameters", "Tags"):
        section = data.get(key, {})
        if not isinstance(section, dict) or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in section.values()
        ):
            raise BuildError(f"{path}: {key} must map names to strings or numbers")
    return data


def newest_approved(sagemaker, group: str, page_size: int = 100) -> dict | None:
    """The newest Approved package of the group, or None.

    The API's default SortOrder is Ascending (the oldest first), so the order is explicit.
    A filtered list can come back as an empty page with a NextToken: keep paging until a page
    has an entry; with the descending sort its first entry is the newest.
    """
    kwargs = {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": page_size,
    }
    while True:
        page = sagemaker.list_model_packages(**kwargs)
        summaries = page.get("ModelPackageSummaryList", [])
        if summaries:
            return summaries[0]
        token = page.get("NextToken")
        if not token:
            return None
        kwargs["NextToken"] = token


def stage_export(
    stage: str,
    stage_config: dict,
    env: dict,
    package_arn: str,
    template_text: str,
    template_parameters: set[str],
) -> dict:
    overrides = {k: str(v) for k, v in stage_config.get("Parameters", {}).items()}
    clash = sorted(set(overrides) & set(FROM_ENVIRONMENT))
    if clash:
        raise BuildError(f"{stage}-config.json must not set {', '.join(clash)}: it comes from the environment")
    if overrides.get("StageName", stage) != stage:
        raise BuildError(f"{stage}-config.json sets StageName to {overrides['StageName']!r}; expected {stage!r}")
    # The seed's stage files set the async template's autoscaling limits; a real-time
    # template has no autoscaling, so they do not apply there.
    for name in AUTOSCALING_PARAMETERS - template_parameters:
        overrides.pop(name, None)
    unknown = sorted(set(overrides) - template_parameters)
    if unknown:
        raise BuildError(f"{stage}-config.json sets {', '.join(unknown)}, which {TEMPLATE} does not declare")
    parameters = {
        "SageMakerProjectName": env["SAGEMAKER_PROJECT_NAME"],
        "SageMakerProjectId": env["SAGEMAKER_PROJECT_ID"],
        "StageName": stage,
        "ModelPackageArn": package_arn,
        "ModelExecutionRoleArn": env["SAGEMAKER_EXECUTION_ROLE_ARN"],
        "KmsKeyArn": env["KMS_KEY_ARN"],
        "ArtifactBucket": env["ARTIFACT_BUCKET"],
        "EndpointInstanceType": env["ENDPOINT_INSTANCE_TYPE"],
    }
    for key, value in env["REQUIRED_TAGS"].items():
        parameters[tag_parameter_name(key)] = value
    parameters.update(overrides)
    # Keep only what the template declares: the real-time template has no autoscaling
    # parameters, and CloudFormation refuses parameters a template does not declare.
    parameters = {k: v for k, v in parameters.items() if k in template_parameters}
    missing_tags = sorted(p for p in template_parameters if p.startswith("Tag") and p not in parameters)
    if missing_tags:
        raise BuildError(f"REQUIRED_TAGS lacks values for the template's tag parameters: {', '.join(missing_tags)}")
    tags = {
        "sagemaker:project-name": env["SAGEMAKER_PROJECT_NAME"],
        "sagemaker:project-id": env["SAGEMAKER_PROJECT_ID"],
        "sagemaker:deployment-stage": stage,
        **{str(k): str(v) for k, v in stage_config.get("Tags", {}).items()},
        **env["REQUIRED_TAGS"],
    }
    # Model and endpoint config are immutable: a new hash whenever the template or any value
    # changes gives them new names, so CloudFormation can replace them.
    digest = hashlib.sha256(json.dumps([template_text, parameters, tags], sort_keys=True).encode("utf-8")).hexdigest()
    if "ConfigHash" in template_parameters:
        parameters["ConfigHash"] = digest[:CONFIG_HASH_LENGTH]
    return {"Parameters": dict(sorted(parameters.items())), "Tags": dict(sorted(tags.items()))}


def run(argv: list[str] | None, env: dict, sagemaker=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=".", help="folder with the template and stage configs (default .)")
    parser.add_argument("--page-size", type=int, default=100, help=argparse.SUPPRESS)
    parser.add_argument(
        "--allow-no-model",
        action="store_true",
        help="exit 0 when nothing is approved yet (the pipeline then skips its deploy stages)",
    )
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    values = read_environment(env)
    text, template_parameters, kind = read_template(folder / TEMPLATE)
    if kind and kind != values["ENDPOINT_KIND"]:
        raise BuildError(f"ENDPOINT_KIND is {values['ENDPOINT_KIND']!r} but {TEMPLATE} deploys a {kind!r} endpoint")
    stage_configs = {stage: read_stage_config(folder / f"{stage}-config.json") for stage in STAGES}

    if sagemaker is None:
        import boto3

        sagemaker = boto3.client("sagemaker")
    group = values["MODEL_PACKAGE_GROUP_NAME"]
    package = newest_approved(sagemaker, group, args.page_size)
    result_path = folder / RESULT_FILE
    if package is None:
        message = (
            f"no approved model package in group {group} yet: nothing to deploy "
            "(approve a model version in SageMaker Studio to deploy it)"
        )
        result_path.write_text(json.dumps({"model_approved": "false"}) + "\n", encoding="utf-8")
        if args.allow_no_model:
            print(f"build.py: {message}; the deploy stages are skipped")
            return 0
        raise BuildError(message, code=1)

    arn = package["ModelPackageArn"]
    for stage in STAGES:
        export = stage_export(stage, stage_configs[stage], values, arn, text, template_parameters)
        (folder / f"{stage}-config-export.json").write_text(json.dumps(export, indent=2) + "\n", encoding="utf-8")
    result_path.write_text(json.dumps({"model_approved": "true", "model_package_arn": arn}) + "\n", encoding="utf-8")
    print(f"build.py: deploying {arn} (created {package.get('CreationTime')})")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv, dict(os.environ))
    except BuildError as error:
        print(f"build.py: {error}", file=sys.stderr)
        return error.code
    except Exception as error:  # AWS errors: one line, not a traceback, in the build log
        print(f"build.py: {error.__class__.__name__}: {error}".splitlines()[0], file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

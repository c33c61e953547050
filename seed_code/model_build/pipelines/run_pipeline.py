"""Console scripts `run-pipeline` and `get-pipeline-definition`.

Both build the pipeline from the project's settings (options, else environment variables set
by the project's CodeBuild project) and the project's tags. `run-pipeline` creates or updates
the pipeline with those tags and starts an execution; `get-pipeline-definition` prints the
definition JSON.

The build runs `python -m pipelines.run_pipeline` (the same as `run-pipeline`): a console script
that `pip install` has just created is not on PATH under pyenv's shims (CodeBuild's Amazon Linux
images) until `pyenv rehash`; the module needs nothing on PATH but `python`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from pipelines.settings import (
    VARIABLES,
    ProjectSettings,
    ProjectTagsError,
    SettingsError,
    job_tags,
    read_project_tags,
)

DEFAULT_MODULE = "pipelines.abalone.pipeline"


def build_pipeline(
    settings: ProjectSettings,
    module_name: str = DEFAULT_MODULE,
    boto_session=None,
    sagemaker_client=None,
):
    """(pipeline, tags): the module's `get_pipeline` with the project's tags on every job.

    `sagemaker_client` reads the project's tags; by default it comes from `boto_session`.
    """
    import boto3
    from sagemaker.workflow.pipeline_context import PipelineSession

    boto_session = boto_session or boto3.Session(region_name=settings.region)
    sagemaker_client = sagemaker_client or boto_session.client("sagemaker")
    tags = job_tags(settings, read_project_tags(sagemaker_client, settings))
    # The artifact bucket replaces the SDK's sagemaker-<region>-<account> default: code and
    # outputs stay in the project's encrypted bucket.
    session = PipelineSession(boto_session=boto_session, default_bucket=settings.bucket)
    module = importlib.import_module(module_name)
    return module.get_pipeline(settings, tags, session), tags


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "-n", "--module-name", default=DEFAULT_MODULE, help=f"module with get_pipeline (default {DEFAULT_MODULE})"
    )
    for name, variable in VARIABLES.items():
        parser.add_argument(variable.option, dest=name, help=f"{variable.help} (default: ${variable.env})")
    return parser


def _settings(args: argparse.Namespace) -> ProjectSettings:
    return ProjectSettings.from_env(overrides={name: getattr(args, name) for name in VARIABLES})


def _fail(prog: str, message: str, code: int) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def _create_or_update(pipeline, role_arn: str, description: str, tags: list[dict]) -> dict:
    """Create the pipeline with its tags, or update an existing one without touching its tags.

    The SDK's upsert re-sends every tag on update, and the project's tag guardrail denies
    writing a required tag on an existing resource: the pipeline keeps the tags it was
    created with.
    """
    from botocore.exceptions import ClientError

    try:
        return pipeline.create(role_arn=role_arn, description=description, tags=tags)
    except ClientError as error:
        detail = error.response.get("Error", {})
        if not (detail.get("Code") == "ValidationException" and "already exists" in detail.get("Message", "")):
            raise
    return pipeline.update(role_arn=role_arn, description=description)


def run_pipeline_main(argv: list[str] | None = None, *, boto_session=None, sagemaker_client=None) -> int:
    prog = "run-pipeline"
    parser = _parser(prog, "Create or update the project's pipeline (tagged) and start it.")
    parser.add_argument("--description", default="Abalone model build", help="pipeline description")
    parser.add_argument("--no-start", action="store_true", help="upsert only; do not start an execution")
    parser.add_argument("--no-wait", action="store_true", help="start the execution and return at once")
    args = parser.parse_args(argv)

    from botocore.exceptions import BotoCoreError, ClientError

    try:
        settings = _settings(args)
        pipeline, tags = build_pipeline(settings, args.module_name, boto_session, sagemaker_client)
        response = _create_or_update(pipeline, settings.role_arn, args.description, tags)
        print(f"pipeline: {response['PipelineArn']}")
        if args.no_start:
            return 0
        execution = pipeline.start()
        print(f"execution: {execution.arn}")
        if args.no_wait:
            return 0
        # Waiting keeps the build red when the pipeline fails; the pipeline's own runtime
        # bounds it (a CodeBuild timeout still applies).
        execution.wait(delay=30, max_attempts=240)
        print("steps:")
        for step in execution.list_steps():
            print(f"  {step['StepName']}: {step['StepStatus']}")
        return 0
    except (SettingsError, ProjectTagsError) as error:
        return _fail(prog, str(error), 2)
    except ClientError as error:
        detail = error.response.get("Error", {})
        return _fail(prog, f"{error.operation_name}: {detail.get('Code')}: {detail.get('Message')}", 1)
    except BotoCoreError as error:  # includes the WaiterError of a failed execution
        return _fail(prog, str(error).splitlines()[0], 1)


def get_pipeline_definition_main(argv: list[str] | None = None, *, boto_session=None, sagemaker_client=None) -> int:
    prog = "get-pipeline-definition"
    parser = _parser(prog, "Print the project's pipeline definition (JSON).")
    parser.add_argument("-f", "--file-name", type=Path, help="write the definition to this file instead")
    args = parser.parse_args(argv)

    from botocore.exceptions import BotoCoreError, ClientError

    try:
        pipeline, _tags = build_pipeline(_settings(args), args.module_name, boto_session, sagemaker_client)
        text = json.dumps(json.loads(pipeline.definition()), indent=2, sort_keys=True)
    except (SettingsError, ProjectTagsError) as error:
        return _fail(prog, str(error), 2)
    except ClientError as error:
        detail = error.response.get("Error", {})
        return _fail(prog, f"{error.operation_name}: {detail.get('Code')}: {detail.get('Message')}", 1)
    except BotoCoreError as error:
        return _fail(prog, str(error), 1)
    if args.file_name:
        args.file_name.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":  # python -m pipelines.run_pipeline (what the buildspec runs)
    sys.exit(run_pipeline_main())

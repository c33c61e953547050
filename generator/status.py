"""A project at a glance: its pipelines and their last runs, model versions, endpoints, deploy stacks.

Reads only. Every name comes from `naming` (and the endpoint's from `endpoint_template`), as in
`teardown`, filled in with the project's name and id. Endpoints show the instances running per
variant now: what the project costs by the hour.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from generator import aws, endpoint_template, naming
from generator.config import Config
from generator.errors import AwsError, UserError

# How many of the newest SageMaker pipeline runs and model versions the table shows.
EXECUTIONS_SHOWN = 3
VERSIONS_SHOWN = 5
ABSENT = "absent"


@dataclass(frozen=True)
class Clients:
    codepipeline: Any
    sagemaker: Any
    cloudformation: Any
    region: str


def connect(profile: str | None, region: str | None) -> Clients:
    session = aws.session(profile, region, "status")
    clients = (session.client(service) for service in ("codepipeline", "sagemaker", "cloudformation"))
    return Clients(*clients, region=session.region_name)


@dataclass(frozen=True)
class Row:
    what: str
    name: str
    state: str
    detail: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    # Instance type -> instances running now, over both endpoints.
    instances: Counter = field(default_factory=Counter)

    @property
    def found_anything(self) -> bool:
        return any(row.state != ABSENT for row in self.rows)


def when(moment: datetime.datetime | None) -> str:
    """A timestamp as UTC to the minute (boto3 gives aware datetimes)."""
    if moment is None:
        return "?"
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _newest(items: list[dict], key: str, then: str = "") -> list[dict]:
    """Newest first (the APIs sort on request; moto does not), ties broken by `then`."""
    epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return sorted(items, key=lambda item: (item.get(key) or epoch, item.get(then) or 0), reverse=True)


# ---- one reader per kind of thing ---------------------------------------------------------------


def code_pipeline(clients: Clients, label: str, name: str) -> list[Row]:
    def last_run():
        page = clients.codepipeline.list_pipeline_executions(pipelineName=name, maxResults=1)
        return page["pipelineExecutionSummaries"]

    runs = aws.found(last_run)
    if runs is None:
        return [Row(label, name, ABSENT)]
    if not runs:
        return [Row(label, name, "never run")]
    run = runs[0]
    detail = f"last run {when(run.get('lastUpdateTime') or run.get('startTime'))}"
    summary = (run.get("statusSummary") or "").strip()
    return [Row(label, name, run["status"], f"{detail}: {summary}" if summary else detail)]


def sagemaker_pipeline(clients: Clients, name: str) -> list[Row]:
    described = aws.found(lambda: clients.sagemaker.describe_pipeline(PipelineName=name))
    if described is None:
        return [Row("SageMaker pipeline", name, ABSENT)]
    page = clients.sagemaker.list_pipeline_executions(
        PipelineName=name, SortBy="CreationTime", SortOrder="Descending", MaxResults=EXECUTIONS_SHOWN
    )
    runs = _newest(page["PipelineExecutionSummaries"], "StartTime")[:EXECUTIONS_SHOWN]
    shown = f"last {len(runs)} run{'' if len(runs) == 1 else 's'} below" if runs else "never run"
    rows = [Row("SageMaker pipeline", name, described.get("PipelineStatus", "?"), shown)]
    for run in runs:
        reason = run.get("PipelineExecutionFailureReason")
        detail = f"started {when(run.get('StartTime'))}" + (f": {reason}" if reason and reason != "None" else "")
        run_name = run.get("PipelineExecutionDisplayName") or run["PipelineExecutionArn"].rsplit("/", 1)[-1]
        rows.append(Row("  run", run_name, run.get("PipelineExecutionStatus", "?"), detail))
    return rows


def model_versions(clients: Clients, group: str) -> list[Row]:
    label = "model package group"
    if aws.found(lambda: clients.sagemaker.describe_model_package_group(ModelPackageGroupName=group)) is None:
        return [Row(label, group, ABSENT)]
    pages = clients.sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"
    )
    packages = _newest(
        [p for page in pages for p in page["ModelPackageSummaryList"]], "CreationTime", "ModelPackageVersion"
    )
    approved = [p for p in packages if p.get("ModelApprovalStatus") == "Approved"]
    newest_approved = f"newest approved: version {_version(approved[0])}" if approved else "none approved"
    count = f"{len(packages)} version{'' if len(packages) == 1 else 's'}"
    rows = [Row(label, group, count, newest_approved if packages else "")]
    for package in packages[:VERSIONS_SHOWN]:
        rows.append(
            Row(
                "  model version",
                f"{group}/{_version(package)}",
                package.get("ModelApprovalStatus", "?"),
                f"created {when(package.get('CreationTime'))}",
            )
        )
    if len(packages) > VERSIONS_SHOWN:
        rows.append(Row("  model version", f"({len(packages) - VERSIONS_SHOWN} older)", "", ""))
    return rows


def _version(package: dict) -> str:
    return str(package.get("ModelPackageVersion") or package["ModelPackageArn"].rsplit("/", 1)[-1])


def endpoint(clients: Clients, stage: str, name: str, instances: Counter) -> list[Row]:
    """The endpoint's status and, per variant, the instances running now and their type."""
    label = f"endpoint ({stage})"
    described = aws.found(lambda: clients.sagemaker.describe_endpoint(EndpointName=name))
    if described is None:
        return [Row(label, name, ABSENT)]
    config_name = described.get("EndpointConfigName")
    config = aws.found(lambda: clients.sagemaker.describe_endpoint_config(EndpointConfigName=config_name))
    types = {v["VariantName"]: v.get("InstanceType", "?") for v in (config or {}).get("ProductionVariants", [])}
    parts = []
    for variant in described.get("ProductionVariants", []):
        current = variant.get("CurrentInstanceCount", 0)
        desired = variant.get("DesiredInstanceCount", current)
        instance_type = types.get(variant["VariantName"], "?")
        instances[instance_type] += current
        wanted = f" (scaling to {desired})" if desired != current else ""
        parts.append(f"{variant['VariantName']}: {current} x {instance_type}{wanted}")
    return [Row(label, name, described.get("EndpointStatus", "?"), "; ".join(parts) or "no variant")]


def deploy_stack(clients: Clients, stage: str, name: str) -> list[Row]:
    label = f"deploy stack ({stage})"
    found = aws.found(lambda: clients.cloudformation.describe_stacks(StackName=name)["Stacks"])
    if not found or found[0]["StackStatus"] == "DELETE_COMPLETE":
        return [Row(label, name, ABSENT)]
    stack = found[0]
    return [
        Row(
            label,
            name,
            stack["StackStatus"],
            f"updated {when(stack.get('LastUpdatedTime') or stack.get('CreationTime'))}",
        )
    ]


# ---- the report -----------------------------------------------------------------------------------


def look_up_project(clients: Clients, project_name: str) -> tuple[str, str] | None:
    """(project id, status) of a project that still exists, else None."""
    return aws.look_up_project(clients.sagemaker, project_name)


def readers(config: Config, project_name: str, project_id: str) -> list[tuple[str, Callable[..., list[Row]]]]:
    """(what is read, how) in the table's order: pipelines, runs, models, endpoints, stacks."""
    values = {"SageMakerProjectName": project_name, "SageMakerProjectId": project_id}
    derived = naming.project_template_names(config)
    used = (
        "build_pipeline",
        "deploy_pipeline",
        "sagemaker_pipeline",
        "model_package_group",
        "staging_stack",
        "prod_stack",
    )
    names = {key: derived[key].resolve(values) for key in used}
    endpoint_pattern = endpoint_template.names()["Endpoint"]
    steps: list[tuple[str, Callable[..., list[Row]]]] = [
        (names["build_pipeline"], lambda c, _: code_pipeline(c, "CodePipeline (model build)", names["build_pipeline"])),
        (names["deploy_pipeline"], lambda c, _: code_pipeline(c, "CodePipeline (deploy)", names["deploy_pipeline"])),
        (names["sagemaker_pipeline"], lambda c, _: sagemaker_pipeline(c, names["sagemaker_pipeline"])),
        (names["model_package_group"], lambda c, _: model_versions(c, names["model_package_group"])),
    ]
    for stage in endpoint_template.STAGES:
        name = endpoint_pattern.resolve({**values, "StageName": stage})
        steps.append((name, lambda c, counter, stage=stage, name=name: endpoint(c, stage, name, counter)))
    for stage in endpoint_template.STAGES:
        name = names[f"{stage}_stack"]
        steps.append((name, lambda c, _, stage=stage, name=name: deploy_stack(c, stage, name)))
    return steps


def report(config: Config, clients: Clients, project_name: str, project_id: str) -> Report:
    """Everything the table shows, read in one pass; the first AWS refusal stops it."""
    result = Report()
    for name, read in readers(config, project_name, project_id):
        try:
            result.rows.extend(read(clients, result.instances))
        except (ClientError, BotoCoreError) as error:
            raise AwsError(f"cannot read {name}: {aws.reason(error)}") from error
    if not result.found_anything:
        raise UserError(
            f"nothing of project {project_name} ({project_id}) found in {clients.region}: check the name, "
            "--project-id, --region and --profile"
        )
    return result


def cost_line(instances: Counter) -> str:
    """One line: the endpoint instances billed by the hour right now."""
    running = {kind: count for kind, count in sorted(instances.items()) if count}
    if not running:
        return "endpoint instances running now: 0"
    total = sum(running.values())
    return f"endpoint instances running now: {total} ({', '.join(f'{n} x {kind}' for kind, n in running.items())})"

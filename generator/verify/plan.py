"""The ordered steps of a verify run: what each creates and checks, its timeout and what it costs.

Pure data: nothing here calls AWS, so `verify --plan` works offline and from a fresh clone. The
prices come from `generator/data/verify_prices.json`, which states its source and date.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from generator import naming, sources
from generator.config import Config

PRICES_FILE = Path(__file__).resolve().parent.parent / "data" / "verify_prices.json"
# CodeBuild compute type of every build project the project template creates.
BUILD_COMPUTE = "BUILD_GENERAL1_SMALL"
# A key scheduled for deletion waits at least this long; counted as if billed, an upper bound.
KEY_PENDING_DAYS = 7
TAG = "verify-run"
DEFAULT_TIMEOUT_MINUTES = 240


@dataclass(frozen=True)
class Usage:
    """One billed quantity: `amount` of `unit` of `item` (an instance type, compute type or key)."""

    service: str  # sagemaker-training | sagemaker-processing | sagemaker-hosting | codebuild | kms
    item: str
    amount: float
    unit: str  # hour | minute | day


@dataclass(frozen=True)
class StepSpec:
    name: str
    creates: str
    checks: str
    timeout_minutes: int
    usage: tuple[Usage, ...] = ()
    # A step that may be skipped with a reason without failing the run.
    optional: bool = False

    @property
    def instance_types(self) -> tuple[str, ...]:
        return tuple(sorted({u.item for u in self.usage if u.service.startswith("sagemaker")}))


def run_prefix(run_id: str) -> str:
    """Where the run publishes the release in the bucket (a unique, never reused prefix)."""
    return f"verify/{run_id}"


def project_name(config: Config, run_id: str) -> str:
    """`v<run id>-<suffix>`, shortened to SageMaker's 32 characters; matches the template's pattern."""
    room = 32 - len(config.project_suffix) - 2
    return f"v{run_id[:room]}-{config.project_suffix}"


def product_stack_name(config: Config, run_id: str) -> str:
    return f"{naming.product_stack(config).pattern}-verify-{run_id}"


def steps(config: Config) -> tuple[StepSpec, ...]:
    """Every step, in the order they run."""
    return _setting_up(config) + _watching(config)


def _setting_up(config: Config) -> tuple[StepSpec, ...]:
    """Publishing the release up to the project's seeded repositories."""
    # The stack creates (and seeds) repositories only when its source provider names them.
    codecommit = "build_repository" in sources.project_names(config)
    return (
        StepSpec(
            "publish",
            "the release (seed zips, project and product templates) under s3://<bucket>/verify/<run id>/",
            "every object uploaded SSE-KMS and tagged",
            5,
        ),
        StepSpec("portfolio", "Service Catalog portfolio verify-<run id>", "created and tagged", 2),
        StepSpec(
            "product_stack",
            "product stack <namespace>-<suffix>-product-verify-<run id>: KMS key (retained by the template: "
            f"scheduled for deletion at teardown, {KEY_PENDING_DAYS}-day wait), launch role, permissions boundary, "
            "tag guardrail policies, SSM parameters, Service Catalog product",
            "CREATE_COMPLETE, outputs ProductId and KmsKeyArn",
            25,
            # The run's hours and the deletion wait, counted as billed: an upper bound.
            (Usage("kms", "key", KEY_PENDING_DAYS + 1, "day"),),
        ),
        StepSpec("grant_portfolio", "the caller's principal associated with the portfolio", "association made", 2),
        StepSpec(
            "create_project",
            f"SageMaker project v<run id>-{config.project_suffix} through sagemaker:CreateProject "
            "(the API Studio uses) with the required tags",
            "CreateProject accepted",
            2,
        ),
        StepSpec(
            "project_stack",
            "the project stack: the project's roles, artifact bucket, "
            + ("repositories, " if codecommit else "")
            + "builds, pipelines, rules",
            "project CreateCompleted",
            30,
        ),
        StepSpec(
            "repositories_seeded",
            "nothing",
            "both repositories have the seed code on main" if codecommit else "skipped: team's own repositories",
            5,
            optional=not codecommit,
        ),
    )


def _watching(config: Config) -> tuple[StepSpec, ...]:
    """The project at work: pipelines, jobs, deployments, an invocation, the guardrail."""
    types = config.instance_types
    return (
        StepSpec(
            "build_run",
            "the model-build pipeline's first run (CodeBuild) and the SageMaker pipeline it starts",
            "build pipeline run Succeeded",
            60,
            (Usage("codebuild", BUILD_COMPUTE, 15, "minute"),),
        ),
        StepSpec(
            "sagemaker_pipeline",
            "processing jobs (preprocess, evaluate), a training job, a model version",
            "SageMaker pipeline execution Succeeded, a model version PendingManualApproval",
            60,
            (
                Usage("sagemaker-processing", types.processing, 2 * 0.15, "hour"),
                Usage("sagemaker-training", types.training, 0.15, "hour"),
            ),
        ),
        StepSpec(
            "jobs_tagged_encrypted",
            "nothing",
            "every job of the execution (Describe*): the required tags and sagemaker:project-id; volume and "
            "output key are the product's key",
            5,
        ),
        StepSpec(
            "first_deploy_run",
            "nothing (the deploy pipeline's first run)",
            "run Succeeded with every stage after Build Skipped",
            30,
            (Usage("codebuild", BUILD_COMPUTE, 4, "minute"),),
        ),
        StepSpec("approve_model", "nothing", "newest model version set to Approved", 2),
        StepSpec(
            "staging_deploy",
            f"staging deploy stack and its {config.endpoint_kind.value} endpoint",
            "DeployStaging Succeeded, endpoint InService with the required tags and the product's key",
            60,
            (
                Usage("codebuild", BUILD_COMPUTE, 4, "minute"),
                Usage("sagemaker-hosting", types.endpoint, 1.0, "hour"),
            ),
        ),
        StepSpec(
            "staging_test",
            "nothing",
            "TestStaging Succeeded (the seed code's test against the endpoint)",
            30,
            (Usage("codebuild", BUILD_COMPUTE, 4, "minute"),),
        ),
        StepSpec(
            "async_invocation",
            "one request and its answer in the artifact bucket",
            "InvokeEndpointAsync answered; the output object is SSE-KMS under the product's key",
            20,
            optional=config.endpoint_kind.value != "async",
        ),
        StepSpec(
            "second_deployment",
            "nothing (the deploy pipeline runs again: the stack update re-sends the tags)",
            "DeployStaging Succeeded again, endpoint InService",
            45,
            (Usage("codebuild", BUILD_COMPUTE, 8, "minute"),),
        ),
        StepSpec(
            "guardrail_refusal",
            "nothing (a refused request)",
            "as the project's SageMaker role (sts:AssumeRole), an untagged CreateTrainingJob is denied; "
            "skipped with the reason when the caller may not assume the role",
            5,
            optional=True,
        ),
    )


def load_prices(path: Path = PRICES_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def price_of(prices: dict, usage: Usage) -> float | None:
    """The cost of one usage in the table's currency, or None when the table has no price for it."""
    if usage.service.startswith("sagemaker-"):
        rate = prices["sagemaker_per_hour"][usage.service.removeprefix("sagemaker-")].get(usage.item)
    elif usage.service == "codebuild":
        rate = prices["codebuild_per_minute"].get(usage.item)
    else:
        rate = prices["kms_key_per_month"] / 30  # per day
    return None if rate is None else rate * usage.amount


def _usage_text(usage: Usage, cost: float | None) -> str:
    what = f"{usage.service} {usage.item}: {usage.amount:g} {usage.unit}{'' if usage.amount == 1 else 's'}"
    return f"{what} = {'no price in the table' if cost is None else f'${cost:.3f}'}"


def render_plan(config: Config, prices: dict | None = None) -> str:
    """Every step, what it creates, its instance types and an on-demand cost estimate. Calls nothing."""
    prices = load_prices() if prices is None else prices
    lines = [
        f"verify plan: namespace {config.namespace}, suffix {config.project_suffix}, "
        f"source {sources.source_for(config).__name__}, endpoint {config.endpoint_kind.value}",
        f"every resource created is tagged {TAG}=<run id>; `verify --cleanup <run id>` finds leftovers by it",
        "",
    ]
    total, unpriced = 0.0, []
    skippable = ", may be skipped"
    for number, step in enumerate(steps(config), 1):
        lines += [
            f"{number:2}. {step.name} (timeout {step.timeout_minutes} min{skippable if step.optional else ''})",
            f"    creates:   {step.creates}",
            f"    checks:    {step.checks}",
            f"    instances: {', '.join(step.instance_types) or 'none'}",
        ]
        for usage in step.usage:
            cost = price_of(prices, usage)
            lines.append(f"    cost:      {_usage_text(usage, cost)}")
            if cost is None:
                unpriced.append(usage.item)
            else:
                total += cost
    lines += [
        f"{len(steps(config)) + 1:2}. teardown (unless --keep; also after a failure or Ctrl-C)",
        "    deletes what the run created, newest first: the project, its deploy stacks, pipeline and data; "
        "the product stack, its retained key and SSM parameter; the portfolio; the published objects",
        "",
        f"estimated on-demand cost of a run: ${total:.2f} ({prices['currency']}, {prices['region']} prices)"
        + (f", plus {', '.join(sorted(set(unpriced)))} (not in the price table)" if unpriced else ""),
        "not counted: S3 storage and requests, CloudWatch Logs, SNS, data transfer (cents)",
        "time of a run: tens of minutes, mostly SageMaker jobs and endpoint start-up",
        f"prices: {prices['source']}; recorded {prices['recorded']} ({prices['caveat']})",
    ]
    return "\n".join(lines) + "\n"

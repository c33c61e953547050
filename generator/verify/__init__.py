"""`mlops-templates verify`: drive a sandbox account through the whole life of a project.

`plan` lists the steps (data, no AWS), `engine` runs them with timeouts and tears down what they
created, `steps` and `checks` make the AWS calls, `resources` deletes (also by tag, for
`--cleanup`), `report` writes the outcome.
"""

from __future__ import annotations

import functools
import secrets
import string

from generator.config import Config
from generator.verify import checks, steps
from generator.verify.engine import Action, Run
from generator.verify.plan import StepSpec
from generator.verify.plan import steps as planned
from generator.verify.resources import Target, connect

ACTIONS = {
    "publish": steps.publish,
    "portfolio": steps.portfolio,
    "product_stack": steps.product_stack,
    "grant_portfolio": steps.grant_portfolio,
    "create_project": steps.create_project,
    "project_stack": checks.project_stack,
    "repositories_seeded": checks.repositories_seeded,
    "build_run": checks.build_run,
    "sagemaker_pipeline": checks.sagemaker_pipeline,
    "jobs_tagged_encrypted": checks.jobs_tagged_encrypted,
    "first_deploy_run": checks.first_deploy_run,
    "approve_model": checks.approve_model,
    "staging_deploy": checks.staging_deploy,
    "staging_test": checks.staging_test,
    "async_invocation": checks.async_invocation,
    "second_deployment": checks.second_deployment,
    "guardrail_refusal": checks.guardrail_refusal,
}
RUN_ID_LENGTH = 8
__all__ = ["connect", "new_run", "new_run_id", "step_actions"]


def new_run_id() -> str:
    """Lowercase letters and digits: usable in bucket keys, stack and project names."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(RUN_ID_LENGTH))


def new_run(run_id: str) -> Run:
    return Run(run_id)


def step_actions(config: Config, target: Target) -> list[tuple[StepSpec, Action]]:
    return [(spec, functools.partial(ACTIONS[spec.name], target)) for spec in planned(config)]

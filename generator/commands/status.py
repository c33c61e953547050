"""`status`: one table of a project's pipelines, runs, model versions, endpoints and deploy stacks."""

from __future__ import annotations

import click

from generator import status as state
from generator import teardown
from generator.commands.common import Context, expected_errors, pass_context
from generator.errors import UserError


@click.command()
@click.option("--project-name", required=True, help="The SageMaker project's name (ends in -<suffix>).")
@click.option("--project-id", help="p-xxxxxxxxxxxx (default: from DescribeProject, while the project exists).")
@click.option("--region", default=None, help="Region of the project (default: from the profile/environment).")
@click.option("--profile", default=None, help="AWS named profile.")
@pass_context
@expected_errors
def status(ctx: Context, project_name: str, project_id: str | None, region: str | None, profile: str | None) -> None:
    """Show a project's pipelines, last runs, model versions, endpoints (instances running) and stacks.

    Reads only. Names are the ones the project template derives (--config gives the namespace
    and suffix). Honours AWS_ENDPOINT_URL (boto3 reads it).
    """
    teardown.check_project(ctx.config, project_name, project_id)
    clients = state.connect(profile, region)
    if project_id is None:
        existing = state.look_up_project(clients, project_name)
        if existing is None:
            raise UserError(
                f"SageMaker project {project_name!r} not found in {clients.region}: check --region and --profile, "
                "or pass --project-id to see what a deleted project left"
            )
        project_id, project_status = existing
        click.echo(f"SageMaker project {project_name} ({project_id}): {project_status}")
    found = state.report(ctx.config, clients, project_name, project_id)
    rows = [("what", "name", "state", "detail")] + [(r.what, r.name, r.state, r.detail) for r in found.rows]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for what, name, current, detail in rows:
        click.echo(f"{what:<{widths[0]}}  {name:<{widths[1]}}  {current:<{widths[2]}}  {detail}".rstrip())
    click.echo(state.cost_line(found.instances))

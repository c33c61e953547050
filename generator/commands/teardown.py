"""`teardown`: remove what a deleted SageMaker project left behind (dry run unless --yes)."""

from __future__ import annotations

import re

import click

from generator import teardown as removal
from generator.commands.common import Context, expected_errors, pass_context
from generator.errors import UserError

ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")


@click.command()
@click.option("--project-name", required=True, help="The SageMaker project's name (ends in -<suffix>).")
@click.option("--project-id", help="p-xxxxxxxxxxxx (default: from DescribeProject, while the project exists).")
@click.option("--region", default=None, help="Region of the project (default: from the profile/environment).")
@click.option("--profile", default=None, help="AWS named profile.")
@click.option("--yes", is_flag=True, help="Delete. Without it: a dry run that only prints the plan.")
@click.option("--delete-data", is_flag=True, help="Also delete the data: artifact bucket, build logs, model registry.")
@click.option(
    "--stack-role-arn",
    default=None,
    help="Role CloudFormation deletes the deploy stacks with (their own was deleted with the project).",
)
@pass_context
@expected_errors
def teardown(
    ctx: Context,
    project_name: str,
    project_id: str | None,
    region: str | None,
    profile: str | None,
    yes: bool,
    delete_data: bool,
    stack_role_arn: str | None,
) -> None:
    """Remove what a deleted SageMaker project left: deploy stacks, pipeline, (data).

    Deleting a project in Studio deletes only its project stack. This finds what stays by the
    names the project template derives (--config gives the namespace and suffix) and prints a
    plan; with --yes it deletes the deploy stacks (prod, then staging) and the SageMaker
    pipeline. The artifact bucket, build log groups and model package group are kept unless
    --delete-data. Honours AWS_ENDPOINT_URL (boto3 reads it).
    """
    removal.check_project(ctx.config, project_name, project_id)
    if stack_role_arn is not None and not ROLE_ARN.fullmatch(stack_role_arn):
        raise UserError(
            f"--stack-role-arn {stack_role_arn!r}: expected an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
        )
    clients = removal.connect(profile, region, stack_role_arn)
    existing = removal.look_up_project(clients, project_name) if project_id is None else None
    if project_id is None and existing is None:
        raise UserError(
            f"SageMaker project {project_name!r} not found: pass --project-id (the p-... in the names "
            f"it left, e.g. the stack {project_name}-p-xxxxxxxxxxxx-deploy-prod)"
        )
    if existing is not None:
        project_id, status = existing
        if delete_data:
            raise UserError(
                f"SageMaker project {project_name} still exists ({status}): delete it in Studio first; "
                "--delete-data would delete the data it uses"
            )
        click.echo(
            f"SageMaker project {project_name} ({project_id}) still exists ({status}): its deploy "
            "pipeline can create the deploy stacks again; delete it in Studio"
        )
    items = removal.plan(ctx.config, clients, project_name, project_id)
    rows = [("what", "name", "action")] + [(i.kind.label, i.name, i.action(delete_data)) for i in items]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    for what, name, action in rows:
        click.echo(f"{what:<{widths[0]}}  {name:<{widths[1]}}  {action}")
    if not yes:
        click.echo("dry run: nothing deleted; run again with --yes")
        return
    removal.execute(clients, items, delete_data, click.echo)

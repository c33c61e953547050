"""`verify`: prove the templates in a sandbox account, step by step, and tear down after."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from generator import __version__, packaging
from generator import publish as publishing
from generator import verify as verification
from generator.commands.common import Context, expected_errors, pass_context
from generator.commands.package import dist_option
from generator.errors import UserError
from generator.release import Release, check_dist
from generator.verify import engine, report, resources
from generator.verify.plan import DEFAULT_TIMEOUT_MINUTES, render_plan, run_prefix
from generator.verify.steps import refuse_wrong_target

RUN_ID_RE = re.compile(rf"^[a-z0-9]{{{verification.RUN_ID_LENGTH}}}$")


def _check_arguments(config, bucket: str | None, account_id: str | None, cleanup: str | None, release, dist) -> None:
    missing = [name for name, value in (("--bucket", bucket), ("--account-id", account_id)) if not value]
    if missing:
        raise UserError(f"verify needs {' and '.join(missing)} (or --plan, which calls nothing)")
    if not re.fullmatch(r"\d{12}", account_id):
        raise UserError(f"--account-id {account_id!r} is not an AWS account id (12 digits)")
    if cleanup is not None and not RUN_ID_RE.match(cleanup):
        raise UserError(f"--cleanup {cleanup!r} is not a verify run id ({verification.RUN_ID_LENGTH} of a-z, 0-9)")
    if cleanup is None:
        # Refused here rather than by the publish step, so a wrong dist/ creates nothing.
        check_dist(release, dist)
        present = {item.path for item in packaging.read_dist(dist, release.make("package"))}
        lacking = [name for name in publishing.published(config) if name not in present]
        if lacking:
            raise UserError(f"{dist} lacks {', '.join(lacking)}; run `{release.make('package')}` first")


@click.command()
@click.option("--profile", default=None, help="AWS named profile of the sandbox account.")
@click.option("--region", default=None, help="Region (default: from the profile/environment).")
@click.option("--bucket", default=None, help="Bucket of the sandbox account the release is published to.")
@click.option("--account-id", default=None, help="The sandbox account; verify refuses any other.")
@click.option("--keep", is_flag=True, help="Keep what the run created (delete it later with --cleanup).")
@click.option("--plan", "show_plan", is_flag=True, help="Print the steps, instance types and cost; call nothing.")
@click.option("--cleanup", default=None, metavar="RUN_ID", help="Delete what run RUN_ID left (found by its tag).")
@click.option(
    "--timeout-minutes",
    type=click.IntRange(1, 24 * 60),
    default=DEFAULT_TIMEOUT_MINUTES,
    show_default=True,
    help="Budget of the whole run; each step also has its own timeout.",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default="the current directory",
    help="Where verify-<run id>.json and .md are written.",
)
@dist_option
@pass_context
@expected_errors
def verify(
    ctx: Context,
    profile: str | None,
    region: str | None,
    bucket: str | None,
    account_id: str | None,
    keep: bool,
    show_plan: bool,
    cleanup: str | None,
    timeout_minutes: int,
    report_dir: Path,
    dist_dir: Path | None,
) -> None:
    """Create a project from the built release in a sandbox account and check every step of its life.

    Publishes dist/ to a new prefix, creates a portfolio, the product stack and a SageMaker
    project (CreateProject, as Studio does), then waits for and checks its pipelines, jobs,
    deployments, an asynchronous invocation and the tag guardrail; then deletes all of it
    unless --keep. Exit 0 only when every step held.
    """
    config = ctx.config
    if show_plan:
        click.echo(render_plan(config), nl=False)
        return
    release = Release(config, ctx.config_path)
    dist = dist_dir if dist_dir is not None else release.dist
    _check_arguments(config, bucket, account_id, cleanup, release, dist)
    clients = verification.connect(profile, region)
    target = resources.Target(config, clients, account_id, clients.session.region_name, bucket, dist, profile, release)
    target.caller_arn = refuse_wrong_target(target)
    run = verification.new_run(cleanup or verification.new_run_id())
    runner = engine.Engine(run, click.echo, timeout_minutes * 60)
    click.echo(f"verify run {run.run_id} in account {account_id}, {target.region}, as {target.caller_arn}")
    if cleanup is None:
        held = runner.execute(verification.step_actions(config, target), keep)
    else:
        unknown = resources.find_leftovers(target, run, run_prefix(cleanup))
        held = runner.teardown(keep=False)
        for arn in unknown:
            runner.results.append(
                engine.Result(f"cleanup: {arn}", engine.LEFT, 0.0, "verify does not delete this kind")
            )
        held = held and not unknown
    meta = {
        "run_id": run.run_id,
        "mode": "cleanup" if cleanup else "verify",
        "account": account_id,
        "region": target.region,
        "bucket": bucket,
        "caller": target.caller_arn,
        "version": __version__,
        "namespace": config.namespace,
        "project_suffix": config.project_suffix,
        "outcome": "held" if held else "did not hold",
    }
    click.echo(report.table(runner.results))
    for path in report.write(report_dir, meta, runner.results):
        click.echo(f"wrote {path}")
    if keep and cleanup is None:
        click.echo(f"kept what the run created: mlops-templates verify --cleanup {run.run_id} ... deletes it")
    if not held:
        problem = engine.first_problem(runner.results)
        reason = f"{problem.step} {problem.result}: {problem.evidence}" if problem else "a step did not hold"
        click.echo(f"error: verify run {run.run_id} did not hold: {reason}", err=True)
        sys.exit(1)

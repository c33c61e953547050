"""`publish`: upload dist/ to S3 under a versioned prefix and print the console steps.

With `--config` it reads `build/<config stem>/dist/` and refuses one packaged for another
configuration (its `release.json` records the configuration's hash).
"""

from __future__ import annotations

from pathlib import Path

import click

from generator import publish as publishing
from generator.commands.common import Context, expected_errors, pass_context
from generator.commands.package import dist_option
from generator.release import Release


@click.command()
@click.option("--bucket", required=True, help="Existing S3 bucket in the target region.")
@click.option(
    "--prefix",
    default=None,
    help="Key prefix the release goes under.",
    show_default=publishing.default_prefix(),
)
@click.option(
    "--kms-key-id",
    default=None,
    help="KMS key (id, ARN or alias) for SSE-KMS; default: the AWS-managed key aws/s3.",
)
@click.option("--region", default=None, help="Region of the bucket (default: from the profile/environment).")
@click.option("--profile", default=None, help="AWS named profile.")
@dist_option
@pass_context
@expected_errors
def publish(
    ctx: Context,
    bucket: str,
    prefix: str | None,
    kms_key_id: str | None,
    region: str | None,
    profile: str | None,
    dist_dir: Path | None,
) -> None:
    """Upload the templates and seed zips (SSE-KMS, never overwriting) and print the next steps."""
    release = Release(ctx.config, ctx.config_path)
    outcome = publishing.publish(
        ctx.config,
        dist_dir if dist_dir is not None else release.dist,
        bucket,
        prefix=prefix,
        kms_key_id=kms_key_id,
        region=region,
        profile=profile,
        release=release,
    )
    for key in outcome.uploaded:
        click.echo(f"uploaded s3://{bucket}/{key}")
    for key in outcome.unchanged:
        click.echo(f"unchanged s3://{bucket}/{key} (same bytes already there)")
    click.echo(publishing.next_steps(ctx.config, outcome))

"""`build`: render every template and policy, check each, and write them only if all pass.

Templates go through cfn-lint; the organisation's SCP (not CloudFormation) through
``validation.check_policies``. One finding anywhere and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import click

from generator import render, validation
from generator.commands.common import Context, expected_errors, pass_context
from generator.errors import GateError, UserError


@click.command()
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=render.ROOT,
    show_default="the repository",
    help="Root under which templates_out/ and seed_code/ are written.",
)
@pass_context
@expected_errors
def build(ctx: Context, output_dir: Path) -> None:
    """Render every template and the organisation SCP, check them, and write them only if all pass."""
    texts = render.render_all(ctx.config)
    policies = render.render_policies(ctx.config)
    findings = validation.lint_all({t.path: text for t, text in texts.items()}, ctx.config)
    findings += validation.check_policies({t.path: text for t, text in policies.items()})
    if findings:
        for finding in findings:
            click.echo(str(finding), err=True)
        raise GateError(
            f"{len(findings)} finding(s) in the generated templates; nothing was written (first: {findings[0]})"
        )
    try:
        written = render.write_outputs(output_dir, {**texts, **policies})
    except OSError as error:
        raise UserError(
            f"cannot write under {output_dir} ({error.strerror or error.__class__.__name__}); "
            "give a writable --output-dir"
        ) from error
    for path in written:
        click.echo(f"wrote {path}")

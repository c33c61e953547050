"""`build`: render every template, lint it, and write it only if all pass."""

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
    """Render every template, lint it, and write it only if all pass."""
    texts = render.render_all(ctx.config)
    findings = validation.lint_all({t.path: text for t, text in texts.items()}, ctx.config)
    if findings:
        for finding in findings:
            click.echo(str(finding), err=True)
        raise GateError(
            f"{len(findings)} finding(s) in the generated templates; nothing was written "
            f"(first: {findings[0]})"
        )
    try:
        written = render.write_outputs(output_dir, texts)
    except OSError as error:
        raise UserError(
            f"cannot write under {output_dir} ({error.strerror or error.__class__.__name__}); "
            "give a writable --output-dir"
        ) from error
    for path in written:
        click.echo(f"wrote {path}")

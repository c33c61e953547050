"""`validate`: lint templates on disk with cfn-lint and the project rules."""

from __future__ import annotations

from pathlib import Path

import click

from generator import render, validation
from generator.commands.common import Context, expected_errors, pass_context
from generator.errors import GateError, UserError


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@pass_context
@expected_errors
def validate(ctx: Context, files: tuple[Path, ...]) -> None:
    """Lint templates on disk (default: the generated ones) with cfn-lint and the project rules."""
    paths = list(files) or [render.ROOT / t.path for t in render.TARGETS]
    texts = {}
    for path in paths:
        try:
            texts[str(path)] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"{path}: cannot read it ({error.__class__.__name__}); give a template file") from error
    findings = validation.lint_all(texts, ctx.config)
    for finding in findings:
        click.echo(str(finding))
    if findings:
        raise GateError(f"{len(findings)} finding(s) in {len(texts)} template(s)")
    click.echo(f"{len(texts)} template(s) valid for {len(ctx.config.regions)} region(s)")

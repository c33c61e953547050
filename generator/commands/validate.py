"""`validate`: lint templates on disk with cfn-lint and the project rules."""

from __future__ import annotations

from pathlib import Path

import click

from generator import render, validation
from generator.commands.build import no_cache_option
from generator.commands.common import Context, expected_errors, pass_context
from generator.errors import GateError, UserError
from generator.release import Release


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@no_cache_option
@pass_context
@expected_errors
def validate(ctx: Context, files: tuple[Path, ...], no_cache: bool) -> None:
    """Lint templates on disk (default: the generated ones, with --config its build/ folder's)."""
    release = Release(ctx.config, ctx.config_path)
    if not files:
        release.check_folder()  # a configuration's folder must exist and be built from it
    paths = list(files) or [release.root / t.path for t in render.targets(ctx.config)]
    texts = {}
    for path in paths:
        try:
            texts[str(path)] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            hint = "give a template file" if files else f"run `{release.make('build')}`"
            raise UserError(f"{path}: cannot read it ({error.__class__.__name__}); {hint}") from error
    findings = validation.lint_all(texts, ctx.config, use_cache=not no_cache)
    for finding in findings:
        click.echo(str(finding))
    if findings:
        raise GateError(f"{len(findings)} finding(s) in {len(texts)} template(s)")
    click.echo(f"{len(texts)} template(s) valid for {len(ctx.config.regions)} region(s)")

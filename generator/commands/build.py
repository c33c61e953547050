"""`build`: render every template and policy, check each, and write them only if all pass.

Templates go through cfn-lint; the organisation's SCP (not CloudFormation) through
``validation.check_policies``. One finding anywhere and nothing is written. With `--config`
the files go to that configuration's release folder (`build/<config stem>/`, with its
`release.json` manifest and a copy of the configuration), never over the committed defaults.
"""

from __future__ import annotations

from pathlib import Path

import click

from generator import render, validation
from generator.commands.common import Context, expected_errors, pass_context
from generator.errors import GateError, UserError
from generator.release import Release

no_cache_option = click.option(
    "--no-cache", is_flag=True, help="Run cfn-lint on every template even if a cached result (.cache/lint/) matches."
)


@click.command()
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    show_default="the repository; with --config, build/<config stem>/",
    help="Root under which templates_out/ and seed_code/ are written.",
)
@no_cache_option
@pass_context
@expected_errors
def build(ctx: Context, output_dir: Path | None, no_cache: bool) -> None:
    """Render every template and the organisation SCP, check them, and write them only if all pass."""
    release = Release(ctx.config, ctx.config_path)
    output_dir = output_dir if output_dir is not None else release.root
    texts = render.render_all(ctx.config)
    policies = render.render_policies(ctx.config)
    findings = validation.lint_all({t.path: text for t, text in texts.items()}, ctx.config, use_cache=not no_cache)
    findings += validation.check_policies({t.path: text for t, text in policies.items()})
    if findings:
        for finding in findings:
            click.echo(str(finding), err=True)
        raise GateError(
            f"{len(findings)} finding(s) in the generated templates; nothing was written (first: {findings[0]})"
        )
    everything = {**texts, **policies}
    extra = release.extra_files({t.path: text for t, text in everything.items()})
    try:
        written = render.write_outputs(output_dir, everything, extra)
    except OSError as error:
        raise UserError(
            f"cannot write under {output_dir} ({error.strerror or error.__class__.__name__}); "
            "give a writable --output-dir"
        ) from error
    for path in written:
        click.echo(f"wrote {path}")

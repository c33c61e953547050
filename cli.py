"""Command line: `mlops-templates build | validate | ...`.

Expected failures (bad configuration, a template that fails the gate, AWS errors) print one
line and exit non-zero; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import functools
import sys
import traceback
from pathlib import Path

import click

from generator import __version__, render, validation
from generator.config import Config, load_config
from generator.errors import GateError, UserError


class Context:
    def __init__(self, debug: bool, config_path: Path | None):
        self.debug = debug
        self.config_path = config_path

    @functools.cached_property
    def config(self) -> Config:
        return load_config(self.config_path)


def expected_errors(command):
    """Turn expected errors into one line on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context().find_object(Context)
        try:
            return command(*args, **kwargs)
        except (UserError, GateError) as error:
            if ctx is not None and ctx.debug:
                traceback.print_exc()
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlops-templates")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Organisation configuration (YAML). Defaults build the committed templates.",
)
@click.pass_context
def main(ctx: click.Context, debug: bool, config_path: Path | None) -> None:
    """Generate and check the secure SageMaker custom project templates."""
    ctx.obj = Context(debug, config_path)


@main.command()
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=render.ROOT,
    show_default="the repository",
    help="Root under which templates_out/ and seed_code/ are written.",
)
@click.pass_obj
@expected_errors
def build(ctx: Context, output_dir: Path) -> None:
    """Render every template, lint it, and write it only if all pass."""
    texts = render.render_all(ctx.config)
    findings = validation.lint_all({t.path: text for t, text in texts.items()}, ctx.config)
    if findings:
        for finding in findings:
            click.echo(str(finding), err=True)
        raise GateError(
            f"{len(findings)} finding(s) in the generated templates; nothing was written (first: {findings[0]})"
        )
    for path in render.write_outputs(output_dir, texts):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
@expected_errors
def validate(ctx: Context, files: tuple[Path, ...]) -> None:
    """Lint templates on disk (default: the generated ones) with cfn-lint and the project rules."""
    paths = list(files) or [render.ROOT / t.path for t in render.available_targets()]
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


if __name__ == "__main__":
    main()

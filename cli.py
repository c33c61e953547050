"""Command line: `mlops-templates build | validate | ... | teardown`.

Expected failures (bad configuration, a template that fails the gate, AWS errors) print one
line and exit non-zero; `--debug` shows the traceback instead.
"""

from __future__ import annotations

from pathlib import Path

import click

from generator import __version__
from generator.commands.build import build
from generator.commands.common import Context
from generator.commands.docs import docs
from generator.commands.package import package
from generator.commands.publish import publish
from generator.commands.seed_run import seed_run
from generator.commands.teardown import teardown
from generator.commands.validate import validate

COMMANDS = (build, validate, package, publish, docs, seed_run, teardown)


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


for command in COMMANDS:
    main.add_command(command)


if __name__ == "__main__":
    main()

"""Command line: `mlops-templates build | validate | ... | teardown`.

Expected failures (bad configuration, a template that fails the gate, AWS errors) print one
line and exit non-zero; `--debug` shows the traceback instead.
"""

from __future__ import annotations

from pathlib import Path

import click

from generator import __version__
from generator.commands.build import build
from generator.commands.common import Context, shared_options, with_shared_options
from generator.commands.docs import docs
from generator.commands.package import package
from generator.commands.publish import publish
from generator.commands.seed_run import seed_run
from generator.commands.status import status
from generator.commands.teardown import teardown
from generator.commands.validate import validate
from generator.commands.verify import verify

COMMANDS = (build, validate, package, publish, docs, seed_run, status, teardown, verify)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.version_option(__version__, prog_name="mlops-templates")
@click.pass_context
def main(ctx: click.Context, debug: bool, config_path: Path | None, allow_empty: bool) -> None:
    """Generate and check the secure SageMaker custom project templates."""
    ctx.obj = Context(debug, config_path, allow_empty)


# --debug, --config and --allow-empty go before or after the command name.
main.params.extend(shared_options())
for command in COMMANDS:
    main.add_command(with_shared_options(command))


if __name__ == "__main__":
    main()

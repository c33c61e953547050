"""`docs`: write (or, with --check, compare) the template reference pages in docs/templates/.

With `--config` the pages of that configuration go to `build/<config stem>/docs/templates/`;
the committed pages stay the defaults'.
"""

from __future__ import annotations

from pathlib import Path

import click

from generator import docs as reference
from generator.commands.common import Context, expected_errors, pass_context
from generator.errors import GateError
from generator.release import Release


@click.command()
@click.option("--check", is_flag=True, help="Exit 1 if docs/templates/ is out of date; write nothing.")
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    show_default=f"{reference.DOCS_DIR}; with --config, build/<config stem>/{reference.DOCS_DIR}",
    help="Directory of the pages and diagrams.",
)
@pass_context
@expected_errors
def docs(ctx: Context, check: bool, output_dir: Path | None) -> None:
    """Write the parameter tables, resource inventories and diagrams of every template."""
    release = Release(ctx.config, ctx.config_path)
    output_dir = output_dir if output_dir is not None else release.root / reference.DOCS_DIR
    files = reference.generate(ctx.config)
    if check:
        stale = reference.differences(output_dir, files)
        if stale:
            raise GateError(f"{output_dir} is out of date ({', '.join(stale)}): run `{release.make('docs')}`")
        click.echo(f"{output_dir} is up to date ({len(files)} files)")
        return
    written = reference.write(output_dir, files)
    for path in written:
        click.echo(f"wrote {path}")
    if not written:
        click.echo(f"{output_dir} already up to date ({len(files)} files)")

"""`package`: the release artifacts in dist/ (templates, reproducible seed zips, SHA256SUMS)."""

from __future__ import annotations

from pathlib import Path

import click

from generator import packaging, render
from generator.commands.common import Context, expected_errors, pass_context

# `publish` reads what `package` writes: one option, one default.
dist_option = click.option(
    "--dist",
    "dist_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=render.ROOT / "dist",
    show_default="dist/ in the repository",
    help="Directory of the release artifacts (templates, seed zips, SHA256SUMS).",
)


@click.command()
@dist_option
@pass_context
@expected_errors
def package(ctx: Context, dist_dir: Path) -> None:
    """Write the templates, the seed-code zips and SHA256SUMS into dist/."""
    items = packaging.artifacts(render.ROOT, ctx.config)
    for path in packaging.write_dist(dist_dir, items):
        click.echo(f"wrote {path}")

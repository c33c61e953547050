"""`package`: the release artifacts in dist/ (templates, reproducible seed zips, SHA256SUMS).

With `--config` it reads that configuration's release folder (`build/<config stem>/`), refuses
one built from another configuration, and writes `build/<config stem>/dist/` with a copy of the
folder's `release.json`, which `publish` checks.
"""

from __future__ import annotations

from pathlib import Path

import click

from generator import packaging
from generator.commands.common import Context, expected_errors, pass_context
from generator.release import MANIFEST, Release

# `publish` reads what `package` writes: one option, one default.
dist_option = click.option(
    "--dist",
    "dist_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    show_default="dist/ in the repository; with --config, build/<config stem>/dist/",
    help="Directory of the release artifacts (templates, seed zips, SHA256SUMS).",
)


@click.command()
@dist_option
@pass_context
@expected_errors
def package(ctx: Context, dist_dir: Path | None) -> None:
    """Write the templates, the seed-code zips and SHA256SUMS into dist/."""
    release = Release(ctx.config, ctx.config_path)
    release.check_folder()
    items = packaging.artifacts(release.root, ctx.config, fix=release.make("build"))
    if not release.is_default:
        items.append(packaging.Artifact(MANIFEST, release.manifest_path.read_bytes()))
    for path in packaging.write_dist(dist_dir if dist_dir is not None else release.dist, items):
        click.echo(f"wrote {path}")

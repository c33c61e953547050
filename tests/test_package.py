"""`package`: reproducible seed zips, the templates and SHA256SUMS in dist/.

Engines: Info-ZIP's `zipinfo`/`unzip` read the archives, coreutils' `sha256sum -c` checks the
checksum file, and the seed code's own pytest suite runs from the unpacked zip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from generator import naming, packaging, render
from generator.config import build_config

# Local leftovers the zips must never carry (relative to each seed directory).
JUNK = (
    "__pycache__/junk.cpython-311.pyc",
    "pipelines/__pycache__/settings.cpython-311.pyc",
    "stray.pyc",
    ".pytest_cache/v/cache/lastfailed",
    ".DS_Store",
    "pipelines/.DS_Store",
    "seed.egg-info/PKG-INFO",
    "myenv/pyvenv.cfg",
    "myenv/lib/site.py",
    ".venv/bin/python3",
    ".ipynb_checkpoints/notebook-checkpoint.ipynb",
    "only-caches/__pycache__/x.pyc",  # a directory left with nothing packaged in it
)


def make_source_root(root: Path) -> Path:
    """A copy of the seed code plus freshly rendered templates, with local junk sprinkled in."""
    for name in naming.SEED_CODE_KEYS:
        shutil.copytree(
            render.ROOT / packaging.SEED_CODE_DIRS[name],
            root / packaging.SEED_CODE_DIRS[name],
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"),
        )
        for junk in JUNK:
            path = root / packaging.SEED_CODE_DIRS[name] / junk
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("local state\n")
    render.write_outputs(root, render.render_all(build_config()))
    return root


def run_cli(*args: str, root: Path | None = None):
    """Invoke the CLI with the repository root pointed at `root`."""
    with pytest.MonkeyPatch.context() as patch:
        if root is not None:
            patch.setattr(render, "ROOT", root)
        return CliRunner().invoke(cli.main, list(args))


@pytest.fixture(scope="module")
def source_root(tmp_path_factory) -> Path:
    return make_source_root(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def dist(source_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    result = run_cli("package", "--dist", str(out), root=source_root)
    assert result.exit_code == 0, result.output
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_dist_holds_exactly_the_published_layout(dist):
    expected = {
        packaging.CHECKSUMS_FILE,
        *(Path(t.path).name for t in packaging.template_targets(build_config())),
        *naming.SEED_CODE_KEYS.values(),
    }
    assert set(_tree(dist)) == expected, f"dist/ layout differs from the S3 contract: {sorted(_tree(dist))}"


def test_two_runs_give_identical_bytes_even_after_files_are_touched(source_root, dist, tmp_path):
    # New mtimes and a different umask must not change a byte.
    for path in source_root.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    previous = os.umask(0o077)
    try:
        result = run_cli("package", "--dist", str(tmp_path), root=source_root)
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    first, second = _tree(dist), _tree(tmp_path)
    changed = [name for name in first if first[name] != second.get(name)]
    assert not changed, f"package is not reproducible: {changed} differ between two runs"


def test_sha256sums_verifies_with_coreutils(dist):
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", packaging.CHECKSUMS_FILE],
        cwd=dist,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    listed = sorted(line.split("  ", 1)[1] for line in (dist / packaging.CHECKSUMS_FILE).read_text().splitlines())
    assert listed == sorted(set(_tree(dist)) - {packaging.CHECKSUMS_FILE})


@pytest.mark.parametrize("name", sorted(naming.SEED_CODE_KEYS))
def test_zip_entries_sorted_fixed_time_and_modes_no_junk(dist, source_root, name):
    archive = dist / naming.SEED_CODE_KEYS[name]
    listing = subprocess.run(["zipinfo", "-T", str(archive)], capture_output=True, text=True, check=True)
    rows = [line.split() for line in listing.stdout.splitlines() if line[:1] in "-d" and len(line.split()) == 8]
    names = [row[-1] for row in rows]
    assert names == sorted(names), f"{archive.name}: entries are not sorted"
    for row in rows:
        mode, stamp, entry = row[0], row[-2], row[-1]
        expected = "drwxr-xr-x" if entry.endswith("/") else "-rw-r--r--"
        assert mode == expected, f"{archive.name}:{entry}: mode {mode}, expected {expected}"
        assert stamp.startswith("19800101."), f"{archive.name}:{entry}: timestamp {stamp}"
    source = source_root / packaging.SEED_CODE_DIRS[name]
    # The copy was made without caches; what remains beyond the seed's files is the junk.
    wanted = {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()} - set(JUNK)
    files = {n for n in names if not n.endswith("/")}
    assert files == wanted, f"{archive.name}: unexpected {sorted(files - wanted)}, missing {sorted(wanted - files)}"
    # Directory entries only for directories holding packaged files (no junk-only leftovers).
    parents = {"/".join(f.split("/")[:i]) + "/" for f in wanted for i in range(1, f.count("/") + 1)}
    assert {n for n in names if n.endswith("/")} == parents, f"{archive.name}: directory entries differ"


def test_unpacked_model_build_zip_passes_its_own_tests(dist, tmp_path):
    """The zip is a working repository: unpack it with Info-ZIP and run the seed's test suite."""
    archive = dist / naming.SEED_CODE_KEYS["model_build"]
    subprocess.run(["unzip", "-q", str(archive), "-d", str(tmp_path)], check=True)
    test_dirs = sorted(p for p in tmp_path.rglob("tests") if p.is_dir())
    assert test_dirs, f"{archive.name} contains no tests/ directory"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *map(str, test_dirs)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, (
        f"{archive.name}: seed tests failed from the zip:\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
    )
    assert " passed" in result.stdout


def test_stale_templates_are_refused(source_root, tmp_path):
    project = next(t for t in render.TARGETS if t.name == "project")
    stale_root = tmp_path / "root"
    shutil.copytree(source_root, stale_root)
    path = stale_root / project.path
    path.write_text(path.read_text() + "# hand edit\n")
    result = run_cli("package", "--dist", str(tmp_path / "dist"), root=stale_root)
    assert result.exit_code == 2, result.output
    assert project.path in result.output and "make build" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "dist").exists(), "a refused package must write nothing"


def test_symbolic_links_are_refused(source_root, tmp_path):
    linked_root = tmp_path / "root"
    shutil.copytree(source_root, linked_root)
    (linked_root / "seed_code/model_deploy/link.json").symlink_to("/etc/hostname")
    result = run_cli("package", "--dist", str(tmp_path / "dist"), root=linked_root)
    assert result.exit_code == 2, result.output
    assert "link.json" in result.output and "regular files" in result.output


def test_publish_refuses_a_tampered_dist(dist, tmp_path):
    copy = tmp_path / "dist"
    shutil.copytree(dist, copy)
    zipped = copy / naming.SEED_CODE_KEYS["model_deploy"]
    zipped.write_bytes(zipped.read_bytes() + b"\0")
    with pytest.raises(Exception) as raised:
        packaging.read_dist(copy)
    assert "does not match" in str(raised.value) and "model_deploy.zip" in str(raised.value)
    assert zipfile.is_zipfile(dist / naming.SEED_CODE_KEYS["model_deploy"])

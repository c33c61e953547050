"""One release folder per configuration: `--config org.yaml` reads and writes `build/org/` only.

The repository root is a temporary copy (render.ROOT points at it), so what a command writes and
what it leaves alone are read back from disk. The configuration is the shipped
`examples/org.yaml` (the risk team: realtime endpoint, three tags, two regions).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

import cli
from generator import naming, packaging, release, render
from generator.config import load_config
from test_publish import BUCKET, REGION, aws  # noqa: F401 (the moto fixture)

EXAMPLE = render.ROOT / "examples" / "org.yaml"


def run(root: Path, *args: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render, "ROOT", root)
        return CliRunner().invoke(cli.main, list(args))


def tree(root: Path, skip: tuple[str, ...] = ("build", ".cache")) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] not in skip
    }


def one_error(result, code: int, *fragments: str) -> str:
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}: {result.output}"
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} missing from: {errors[0]}"
    return errors[0]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A repository copy with the committed defaults and the risk team's config at org.yaml."""
    base = tmp_path_factory.mktemp("repo")
    for name in ("templates_out", "seed_code", "docs/templates"):
        shutil.copytree(
            render.ROOT / name, base / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
        )
    shutil.copy(EXAMPLE, base / "org.yaml")
    return base


@pytest.fixture(scope="module")
def config_path(root) -> Path:
    return root / "org.yaml"


@pytest.fixture(scope="module")
def before(root) -> dict[str, bytes]:
    return tree(root)


@pytest.fixture(scope="module")
def built(root, config_path, before) -> Path:
    for command in ("build", "docs", "package"):
        result = run(root, "--config", str(config_path), command)
        assert result.exit_code == 0, f"{command}: {result.output}"
    return root / "build" / "org"


def test_org_build_writes_everything_into_its_folder_and_nothing_else(root, config_path, before, built):
    assert tree(root) == before, "an org build changed the committed defaults (templates_out/, docs/, seed_code/)"
    config = load_config(config_path)
    for target in render.targets(config):
        assert (built / target.path).is_file(), f"{target.path} missing from build/org/"
    assert (built / "docs/templates/README.md").is_file()
    assert (built / release.CONFIG_COPY).read_bytes() == config_path.read_bytes()
    manifest = json.loads((built / release.MANIFEST).read_text())
    assert manifest["config_sha256"] == release.config_hash(config)
    for path, digest in manifest["files"].items():
        assert hashlib.sha256((built / path).read_bytes()).hexdigest() == digest, path
    # The release is the risk team's: its names, not the defaults'.
    product = next(t for t in render.targets(config) if t.name == "product")
    assert "riskteam" in (built / product.path).read_text()


def test_package_ships_the_folder_with_the_org_endpoint_template(built, config_path):
    dist = built / "dist"
    check = subprocess.run(["sha256sum", "--check", "--strict", packaging.CHECKSUMS_FILE], cwd=dist)
    assert check.returncode == 0
    config = load_config(config_path)
    for target in packaging.template_targets(config):
        assert (dist / target.file_name).read_bytes() == (built / target.path).read_bytes()
    endpoint = next(t for t in render.targets(config) if t.name == "endpoint")
    inside = endpoint.path.removeprefix(packaging.SEED_CODE_DIRS["model_deploy"] + "/")
    with zipfile.ZipFile(dist / naming.SEED_CODE_KEYS["model_deploy"]) as archive:
        shipped = archive.read(inside)
    assert shipped == (built / endpoint.path).read_bytes(), "the deploy zip must carry the org's endpoint template"
    assert shipped != (render.ROOT / endpoint.path).read_bytes(), "realtime and the default async template differ"
    assert json.loads((dist / release.MANIFEST).read_text()) == json.loads((built / release.MANIFEST).read_text())


def test_explicit_output_dir_wins(root, config_path, tmp_path):
    result = run(root, "--config", str(config_path), "build", "--output-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / release.MANIFEST).is_file()
    assert all((tmp_path / t.path).is_file() for t in render.targets(load_config(config_path)))


@pytest.fixture(scope="module")
def other_config(root, built) -> Path:
    """Same file stem as org.yaml (so the same build/org/ folder), another configuration."""
    other = root / "other" / "org.yaml"
    other.parent.mkdir()
    other.write_text(EXAMPLE.read_text().replace("namespace: riskteam", "namespace: fraudteam"))
    return other


def test_package_refuses_a_folder_built_from_another_config(root, built, other_config):
    dist_before = tree(built / "dist", skip=())
    result = run(root, "--config", str(other_config), "package")
    one_error(result, 2, "another configuration", f"make build CONFIG={other_config}")
    assert tree(built / "dist", skip=()) == dist_before, "a refused package must write nothing"


def test_package_refuses_a_missing_folder(root, tmp_path):
    config = tmp_path / "nobuild.yaml"
    shutil.copy(EXAMPLE, config)
    one_error(run(root, "--config", str(config), "package"), 2, "not found", f"make build CONFIG={config}")
    assert not (root / "build" / "nobuild").exists()
    one_error(run(root, "--config", str(config), "validate"), 2, f"make build CONFIG={config}")


def test_publish_refuses_a_dist_of_another_config(root, built, other_config):
    result = run(root, "--config", str(other_config), "publish", "--bucket", BUCKET, "--region", REGION)
    one_error(
        result, 2, "another configuration", f"make build CONFIG={other_config} && make package CONFIG={other_config}"
    )


def test_publish_refuses_a_missing_dist(root, tmp_path):
    config = tmp_path / "nodist.yaml"
    shutil.copy(EXAMPLE, config)
    result = run(root, "--config", str(config), "publish", "--bucket", BUCKET, "--region", REGION)
    one_error(result, 2, "not found", f"make package CONFIG={config}")


def test_publish_refuses_a_dist_packaged_before_the_last_build(root, built, config_path, tmp_path):
    stale = tmp_path / "dist"
    shutil.copytree(built / "dist", stale)
    manifest = json.loads((stale / release.MANIFEST).read_text())
    manifest["generator_version"] = "0.0.0"
    (stale / release.MANIFEST).write_text(json.dumps(manifest))
    result = run(root, "--config", str(config_path), "publish", "--bucket", BUCKET, "--dist", str(stale))
    one_error(result, 2, "older than the build", f"make package CONFIG={config_path}")


def test_default_publish_refuses_an_org_dist(root, built):
    result = run(root, "publish", "--bucket", BUCKET, "--region", REGION, "--dist", str(built / "dist"))
    one_error(result, 2, "--config", "make package")


def test_org_publish_names_the_org_stack(root, built, config_path, aws):  # noqa: F811
    result = run(root, "--config", str(config_path), "publish", "--bucket", BUCKET, "--region", REGION)
    assert result.exit_code == 0, result.output
    link = next(word for word in result.output.split() if "quickcreate" in word)
    query = parse_qs(urlsplit(link).fragment.split("?", 1)[1])
    assert query["stackName"] == [naming.product_stack(load_config(config_path)).pattern]
    assert "riskteam" in query["stackName"][0]


def test_docs_check_names_the_config(root, built, config_path):
    pages = built / "docs" / "templates"
    (pages / "project.md").write_text("edited\n")
    one_error(run(root, "--config", str(config_path), "docs", "--check"), 1, f"make docs CONFIG={config_path}")
    assert run(root, "--config", str(config_path), "docs").exit_code == 0


@pytest.mark.parametrize(
    "target, command",
    [("build", "build"), ("build", "docs"), ("validate", "validate"), ("docs", "docs"), ("package", "package")]
    + [("publish", "package"), ("publish", "publish --bucket b")],
)
def test_makefile_passes_config(target, command):
    lines = subprocess.run(
        ["make", "-n", target, "CONFIG=x.yaml", "BUCKET=b"], cwd=render.ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert any(f"mlops-templates --config x.yaml {command}" in line for line in lines), lines
    default = subprocess.run(
        ["make", "-n", target, "BUCKET=b"], cwd=render.ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "--config" not in default

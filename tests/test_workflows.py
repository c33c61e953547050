"""GitHub workflows: valid against the workflow schema (check-jsonschema, offline), limited to
first-party actions, and the release's shell steps run here on the real CHANGELOG.md.

Not checked offline: that GitHub accepts the tag filter and token permissions at run time, and
`gh release create` itself (it needs GitHub); the asset step's commands are run below instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator import __version__, render

WORKFLOWS = sorted((render.ROOT / ".github" / "workflows").glob("*.y*ml"))
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
ALLOWED_ACTIONS = {"actions/checkout", "actions/setup-python", "actions/setup-node"}


def _load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def _schema_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _step(workflow: dict, name: str) -> dict:
    steps = [s for job in workflow["jobs"].values() for s in job["steps"] if s.get("name") == name]
    assert len(steps) == 1, f"release.yml: expected one step named {name!r}"
    return steps[0]


def test_both_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "release.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_schema(path):
    result = _schema_check(path)
    assert result.returncode == 0, f"{path.name}: {result.stdout}{result.stderr}"


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: 3\n")
    result = _schema_check(broken)
    assert result.returncode == 1, f"a broken workflow passed the schema check: {result.stdout}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_only_first_party_actions_and_pinned_toolchains(path):
    workflow = _load(path)
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "uses" in step:
                action = step["uses"].split("@")[0]
                assert action in ALLOWED_ACTIONS, f"{path.name} job {job_name}: third-party action {action}"
                assert "@" in step["uses"], f"{path.name} job {job_name}: {action} has no version"
            if step.get("uses", "").startswith("actions/setup-python"):
                assert step["with"]["python-version"] == "3.11", path.name
            if step.get("uses", "").startswith("actions/setup-node"):
                assert step["with"]["node-version"] == "20", path.name


def test_ci_runs_the_ci_entry_point_on_push_and_pull_request():
    workflow = _load(render.ROOT / ".github/workflows/ci.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    runs = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]
    assert "bash .ci/run" in runs


def test_release_runs_on_v_tags_builds_tests_packages_then_releases():
    workflow = _load(render.ROOT / ".github/workflows/release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {"contents": "write"}
    runs = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]
    order = [
        next(i for i, r in enumerate(runs) if needle in r)
        for needle in ("make build", "make test", "make package", "gh release create")
    ]
    assert order == sorted(order), "release.yml: build, test, package and release are out of order"
    release = _step(workflow, "Create the GitHub release")
    assert release["env"] == {"GH_TOKEN": "${{ github.token }}"}
    assert "--notes-file" in release["run"] and "--verify-tag" in release["run"]


def _run_step(step: dict, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    # GitHub runs `run:` with `bash -e {0}` (plus pipefail when shell: bash is given).
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_release_notes_step_extracts_this_versions_changelog_section(tmp_path):
    step = _step(_load(render.ROOT / ".github/workflows/release.yml"), "Release notes from CHANGELOG.md")
    result = _run_step(step, render.ROOT, {"GITHUB_REF_NAME": f"v{__version__}", "RUNNER_TEMP": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    notes = (tmp_path / "notes.md").read_text()
    changelog = (render.ROOT / "CHANGELOG.md").read_text()
    section = changelog.split(f"## [{__version__}]", 1)[1].split("\n", 1)[1].split("\n## ", 1)[0]
    assert notes.strip() == section.strip() and "### Added" in notes


def test_release_notes_step_fails_for_a_version_missing_from_the_changelog(tmp_path):
    step = _step(_load(render.ROOT / ".github/workflows/release.yml"), "Release notes from CHANGELOG.md")
    result = _run_step(step, render.ROOT, {"GITHUB_REF_NAME": "v99.0.0", "RUNNER_TEMP": str(tmp_path)})
    assert result.returncode != 0 and "no section for [99.0.0]" in result.stdout


@pytest.mark.parametrize("tag, ok", [(f"v{__version__}", True), ("v99.0.0", False)])
def test_release_refuses_a_tag_that_is_not_the_generator_version(tag, ok):
    step = _step(_load(render.ROOT / ".github/workflows/release.yml"), "Tag matches the generator version")
    result = _run_step(step, render.ROOT, {"GITHUB_REF_NAME": tag})
    assert (result.returncode == 0) == ok, result.stdout + result.stderr


def test_asset_step_produces_flat_assets_whose_checksums_verify(tmp_path):
    """Run the asset step on a real `package` output; the flat SHA256SUMS then verifies."""
    from test_package import make_source_root, run_cli

    work = tmp_path / "checkout"
    make_source_root(work)
    assert run_cli("package", "--dist", str(work / "dist"), root=work).exit_code == 0
    (work / "docs").mkdir()
    (work / "docs" / "page.md").write_text("page\n")
    step = _step(_load(render.ROOT / ".github/workflows/release.yml"), "Assets and their checksums")
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    env = {"GITHUB_REF_NAME": f"v{__version__}", "RUNNER_TEMP": str(runner_temp)}
    result = _run_step(step, work, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assets = runner_temp / "assets"
    assert sorted(p.name for p in assets.iterdir()) == sorted(
        [
            "MLOps-template-example.yml",
            "create-async-endpoint-product.yaml",
            "model_build.zip",
            "model_deploy.zip",
            f"docs-v{__version__}.tar.gz",
            "SHA256SUMS",
        ]
    )
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=assets, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SHA256SUMS" not in (assets / "SHA256SUMS").read_text()
    # The docs archive is reproducible too: a second run gives the same bytes.
    first = (assets / f"docs-v{__version__}.tar.gz").read_bytes()
    for path in assets.iterdir():
        path.unlink()
    assert _run_step(step, work, env).returncode == 0
    assert (assets / f"docs-v{__version__}.tar.gz").read_bytes() == first

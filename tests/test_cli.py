"""The command line, driven through click's CliRunner: good input, bad input, the gate."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from generator import __version__, render


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(cli.main, ["build", "--output-dir", str(out)])
    return out, result


def test_build_writes_every_template_identical_to_the_committed_ones(built):
    out, result = built
    assert result.exit_code == 0, result.output
    for target in render.TARGETS:
        written = out / target.path
        assert written.read_bytes() == (render.ROOT / target.path).read_bytes(), (
            f"{target.path}: build output differs from the committed file: run `make build`"
        )
        assert f"wrote {written}" in result.output


def test_validate_passes_on_the_generated_templates(built):
    out, _ = built
    files = [str(out / t.path) for t in render.TARGETS]
    result = CliRunner().invoke(cli.main, ["validate", *files])
    assert result.exit_code == 0, result.output
    assert f"{len(files)} template(s) valid" in result.output


def test_validate_reports_a_broken_template_with_rule_and_resource(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      Nope: 1\n")
    result = CliRunner().invoke(cli.main, ["validate", str(broken)])
    assert result.exit_code == 1
    assert "E3002" in result.output and "Resources/Bucket" in result.output


def test_version_and_help():
    runner = CliRunner()
    assert __version__ in runner.invoke(cli.main, ["--version"]).output
    assert "build" in runner.invoke(cli.main, ["--help"]).output


@pytest.mark.parametrize(
    "content, expected",
    [
        ("namespace: BAD\n", "config field namespace:"),
        ("project_suffix: 'two--hyphens'\n", "config field project_suffix:"),
        ("regions: [mars-1]\n", "config field regions:"),
        ("regions: [us-east-9]\n", "not a region the gate knows"),
        ("endpoint_kind: batch\n", "config field endpoint_kind:"),
        ("unknown_setting: 1\n", "is not a known setting"),
        ("required_tags: []\n", "config field required_tags:"),
        ("required_tags: [{key: 'aws:x'}]\n", "reserved prefixes"),
        ("instance_types: {training: m5.large}\n", "config field instance_types.training:"),
        ("- a list\n", "must be a mapping"),
        ("namespace: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_is_one_line_exit_2_and_nothing_written(tmp_path, content, expected):
    config = tmp_path / "org.yaml"
    config.write_text(content)
    out = tmp_path / "out"
    out.mkdir()
    (out / "templates_out").mkdir()
    (out / "templates_out" / "keep.yaml").write_text("unchanged")
    before = _tree_digest(out)
    result = CliRunner().invoke(cli.main, ["--config", str(config), "build", "--output-dir", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.output
    assert "Traceback" not in result.output
    assert _tree_digest(out) == before


def test_missing_config_file_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli.main, ["--config", str(tmp_path / "nope.yaml"), "build"])
    assert result.exit_code == 2
    assert "cannot read it" in result.output and len(result.output.strip().splitlines()) == 1


def test_debug_shows_the_traceback(tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text("namespace: BAD\n")
    result = CliRunner().invoke(cli.main, ["--debug", "--config", str(config), "build"])
    assert result.exit_code == 2
    assert "Traceback" in result.output


def build(config):
    """A template cfn-lint rejects (a Ref to nothing), used as a stand-in generator module."""
    from troposphere import Ref, Template
    from troposphere.s3 import Bucket

    template = Template()
    template.add_resource(Bucket("Broken", BucketName=Ref("NoSuchParameter")))
    return template


def test_gate_failure_writes_nothing(tmp_path, monkeypatch):
    """One failing template stops the build before any file, even a valid one, is touched."""
    broken = render.Target("broken", sys.modules[__name__], "templates_out/broken.yaml")
    monkeypatch.setattr(render, "TARGETS", (render.TARGETS[0], broken))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.main, ["build", "--output-dir", str(out)])
    assert result.exit_code == 1, result.output
    assert "nothing was written" in result.output and "Resources/Broken" in result.output
    assert not out.exists() or not any(out.rglob("*.y*ml")), "the gate let a file through"


def test_seed_run_runs_the_seed_scripts_on_the_shipped_data():
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-c", "import cli; cli.main()", "seed-run"],
        cwd=render.ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "total 4177" in completed.stdout and "verdict:" in completed.stdout, completed.stdout


def test_unwritable_output_dir_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(cli.main, ["build", "--output-dir", str(blocker / "sub")])
    assert result.exit_code == 2, result.output
    assert "cannot write under" in result.output and "Traceback" not in result.output
    assert blocker.read_text() == "not a directory"

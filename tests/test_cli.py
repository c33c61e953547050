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


# ---- friendlier input: shared options anywhere, one line for each mistake --------------------


def _one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Usage:" not in result.output, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def out_dir(tmp_path):
    """An output folder holding one file, to show a refused build writes nothing."""
    out = tmp_path / "out"
    (out / "templates_out").mkdir(parents=True)
    (out / "templates_out" / "keep.yaml").write_text("unchanged")
    return out


@pytest.mark.parametrize("content", ["", "# only a comment\n", "{}\n"], ids=["empty", "comment", "empty-mapping"])
def test_a_config_that_sets_nothing_is_refused_unless_allow_empty(tmp_path, out_dir, content):
    config = tmp_path / "org.yaml"
    config.write_text(content)
    before = _tree_digest(out_dir)
    refused = CliRunner().invoke(cli.main, ["--config", str(config), "build", "--output-dir", str(out_dir)])
    _one_line_error(refused, f"config file {config}: sets nothing", "--allow-empty")
    assert _tree_digest(out_dir) == before
    for args in (
        ["--allow-empty", "--config", str(config), "build"],
        ["build", "--config", str(config), "--allow-empty"],
    ):
        accepted = CliRunner().invoke(cli.main, [*args, "--output-dir", str(out_dir)])
        assert accepted.exit_code == 0, accepted.output


def test_a_directory_as_config_is_one_line(tmp_path, out_dir):
    before = _tree_digest(out_dir)
    for args in (["--config", str(tmp_path), "build"], ["build", "--config", str(tmp_path)]):
        result = CliRunner().invoke(cli.main, [*args, "--output-dir", str(out_dir)])
        _one_line_error(result, f"config file {tmp_path}: is a directory")
    assert _tree_digest(out_dir) == before


def test_config_goes_before_or_after_the_command_and_after_wins(tmp_path, out_dir):
    bad = tmp_path / "bad.yaml"
    bad.write_text("namespace: BAD\n")
    good = tmp_path / "good.yaml"
    good.write_text("namespace: good\n")
    runner = CliRunner()
    before = runner.invoke(cli.main, ["--config", str(bad), "build", "--output-dir", str(out_dir)])
    after = runner.invoke(cli.main, ["build", "--output-dir", str(out_dir), "--config", str(bad)])
    assert _one_line_error(before, "config field namespace:") == _one_line_error(after)
    # The value after the command name wins over the one before it, both ways round.
    _one_line_error(runner.invoke(cli.main, ["--config", str(good), "build", "--config", str(bad)]), "namespace")
    debug_after = runner.invoke(cli.main, ["build", "--config", str(bad), "--debug"])
    assert debug_after.exit_code == 2 and "Traceback" in debug_after.output


def test_every_command_takes_the_shared_options():
    for command in cli.COMMANDS:
        names = {option for param in command.params for option in param.opts}
        assert {"--config", "--allow-empty", "--debug"} <= names, command.name


def test_help_shows_each_commands_whole_first_line():
    output = CliRunner().invoke(cli.main, ["--help"]).output
    flat = " ".join(output.split())
    for command in cli.COMMANDS:
        first = command.help.strip().splitlines()[0]
        assert f"{command.name} {first}" in flat, f"{command.name}: {first!r} cut short in:\n{output}"
    commands = output.split("Commands:")[1]
    assert not [line for line in commands.splitlines() if line.rstrip().endswith("...")], output


@pytest.mark.parametrize(
    "content, fragments",
    [
        ("regions: us-east-1\n", ["config field regions: expected a list of region names, got the text 'us-east-1'"]),
        ("regions: [us-est-1]\n", ["'us-est-1' is not a region the gate knows; did you mean", "us-east-1"]),
        ("endpoint_kind: batch\n", ["endpoint_kind: must be one of async, realtime, got the text 'batch'"]),
        ("instance_types: {endpoint: ml.g5.xlarge}\n", ["instance_types.endpoint: ml.g5.xlarge has local NVMe"]),
        (
            "namespace: riskteam\nregions: [us-east-1,\n  eu-west-1\n",
            ["not valid YAML at line 2, column 10:", "the end of the file"],
        ),
    ],
    ids=["type", "region", "enum", "nvme", "yaml"],
)
def test_config_mistakes_in_the_clis_own_words(tmp_path, out_dir, content, fragments):
    config = tmp_path / "org.yaml"
    config.write_text(content)
    before = _tree_digest(out_dir)
    result = CliRunner().invoke(cli.main, ["build", "--config", str(config), "--output-dir", str(out_dir)])
    line = _one_line_error(result, *fragments)
    assert "Input should be" not in line and "valid tuple" not in line, line
    assert _tree_digest(out_dir) == before


@pytest.mark.parametrize(
    "args, code, stream, text",
    [
        (["--version"], 0, "stdout", "mlops-templates, version"),
        (["--config", "/nonexistent/org.yaml", "build"], 2, "stderr", "error: config file /nonexistent/org.yaml"),
        (["no-such-command"], 2, "stderr", "No such command"),
    ],
)
def test_the_console_script_exits_with_the_commands_code_and_flushes_its_output(args, code, stream, text):
    """`cli.run` (the console script) ends the process without interpreter teardown: its exit code
    and everything it printed must still be exactly what `main` produced."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import cli; cli.run()", *args],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert text in getattr(done, stream), (done.stdout, done.stderr)

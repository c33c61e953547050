"""The lint cache and the parallel gate: same findings as cfn-lint itself, cfn-lint run only when needed.

cfn-lint's runs are counted twice, through the gate's own hook (`validation.LINT_HOOKS`, called
for every template cfn-lint really lints) and by a spy around cfn-lint's
`Runner.validate_template` that still calls it, so a hit is proven to run no cfn-lint at all.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from cfnlint.runner import Runner
from click.testing import CliRunner

import cli
from generator import render, validation
from generator.config import build_config

# A template cfn-lint finds fault with (an unknown property): the cache must keep findings too.
BROKEN = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: demo
      NotAProperty: 1
"""


class Counter:
    def __init__(self):
        self.hooked: list[str] = []
        self.validated = 0


@pytest.fixture
def runs(monkeypatch, tmp_path) -> Counter:
    counter = Counter()
    monkeypatch.setattr(validation, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(validation, "LINT_HOOKS", [counter.hooked.append])
    real = Runner.validate_template

    def spy(self, template):
        counter.validated += 1
        return real(self, template)

    monkeypatch.setattr(Runner, "validate_template", spy)
    return counter


@pytest.fixture(scope="module")
def endpoint(rendered) -> str:
    return rendered["endpoint"]


def lint(texts, config=None, **kwargs):
    return validation.lint_all(texts, config or build_config(), workers=1, **kwargs)


def test_a_hit_returns_the_same_findings_without_running_cfn_lint(runs, endpoint):
    texts = {"broken.yaml": BROKEN, "endpoint.yml": endpoint}
    first = lint(texts)
    assert runs.hooked == ["broken.yaml", "endpoint.yml"] and runs.validated == 2
    assert first and {f.template for f in first} == {"broken.yaml"}, "the broken template must have findings"
    second = lint(texts)
    assert second == first
    assert runs.hooked == ["broken.yaml", "endpoint.yml"] and runs.validated == 2, "a hit must not run cfn-lint"
    # The findings are the template's, whatever it is called this time.
    renamed = lint({"other-name.yaml": BROKEN})
    assert [f.template for f in renamed] == ["other-name.yaml"] * len(renamed) and runs.validated == 2


def test_any_change_of_template_bytes_misses(runs, endpoint):
    lint({"e": endpoint})
    lint({"e": endpoint + "# one more byte\n"})
    lint({"e": endpoint.replace("Type:", "Type: ", 1)})  # one more space, same template data
    assert runs.validated == 3


def test_another_region_set_misses(runs, endpoint):
    lint({"e": endpoint})
    lint({"e": endpoint}, build_config({"regions": ["eu-west-1"]}))
    lint({"e": endpoint}, build_config({"regions": ["eu-west-1"]}))
    assert runs.validated == 2


def test_another_required_tag_misses(runs, endpoint):
    # The required-tags rule reads the tag keys as a rule option: another key, other findings.
    lint({"e": endpoint})
    lint({"e": endpoint}, build_config({"required_tags": [{"key": "project"}, {"key": "owner"}]}))
    assert runs.validated == 2


def test_a_change_to_a_project_rule_misses(runs, endpoint, monkeypatch, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(validation.RULES_DIR, rules, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(validation, "RULES_DIR", rules)
    lint({"e": endpoint})
    lint({"e": endpoint})
    assert runs.validated == 1
    rule = sorted(rules.glob("[!_]*.py"))[0]
    rule.write_text(rule.read_text() + "\n# a changed rule\n")
    lint({"e": endpoint})
    assert runs.validated == 2


def test_another_cfn_lint_version_misses(runs, endpoint, monkeypatch):
    lint({"e": endpoint})
    real = validation.metadata.version
    monkeypatch.setattr(validation.metadata, "version", lambda name: "0.0.1" if name == "cfn-lint" else real(name))
    lint({"e": endpoint})
    assert runs.validated == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: "",
        lambda text: text[: len(text) // 2],
        lambda text: "not json at all",
        lambda text: text.replace('"key": "', '"key": "0'),
        lambda text: text.replace('"findings": [', '"findings": [["E1", "r", "one", "m"], '),
        lambda text: '{"key": 1}',
        lambda text: "[]",
    ],
    ids=["empty", "truncated", "not-json", "other-key", "bad-line", "no-findings", "a-list"],
)
def test_a_corrupted_entry_is_ignored_and_repaired(runs, damage):
    first = lint({"broken.yaml": BROKEN})
    (entry,) = validation.cache_dir().glob("*.json")
    entry.write_text(damage(entry.read_text()))
    again = lint({"broken.yaml": BROKEN})
    assert again == first and runs.validated == 2, "a damaged entry must be linted again"
    assert lint({"broken.yaml": BROKEN}) == first and runs.validated == 2, "and rewritten"


def test_no_cache_forces_cfn_lint(runs, tmp_path):
    template = tmp_path / "broken.yaml"
    template.write_text(BROKEN)
    for args, expected in (([], 1), ([], 1), (["--no-cache"], 2)):
        result = CliRunner().invoke(cli.main, ["validate", *args, str(template)])
        assert result.exit_code == 1 and "E3002" in result.output, result.output
        assert runs.validated == expected, f"validate {args}: cfn-lint ran {runs.validated} times"


def test_build_no_cache_lints_every_template(runs, tmp_path):
    assert CliRunner().invoke(cli.main, ["build", "--output-dir", str(tmp_path / "a")]).exit_code == 0
    linted = len(runs.hooked)
    assert linted == len(render.TARGETS)
    assert CliRunner().invoke(cli.main, ["build", "--output-dir", str(tmp_path / "b")]).exit_code == 0
    assert len(runs.hooked) == linted, "an unchanged rebuild must lint nothing"
    result = CliRunner().invoke(cli.main, ["build", "--no-cache", "--output-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert len(runs.hooked) == 2 * linted


def test_parallel_lint_gives_the_findings_of_serial(rendered, tmp_path, monkeypatch):
    monkeypatch.setattr(validation, "CACHE_DIR", tmp_path)
    texts = {"broken.yaml": BROKEN, **{name: text for name, text in rendered.items()}}
    texts["endpoint-broken.yml"] = rendered["endpoint"].replace("Type: AWS::SageMaker::Model", "Type: AWS::Nope", 1)
    config = build_config()
    serial = validation.lint_all(texts, config, use_cache=False, workers=1)
    parallel = validation.lint_all(texts, config, use_cache=False, workers=2)
    assert parallel == serial
    assert {f.template for f in serial} == {"broken.yaml", "endpoint-broken.yml"}


def test_the_cache_lives_in_an_ignored_folder():
    assert validation.cache_dir() == render.ROOT / ".cache" / "lint"
    for path in (".cache/lint/x.json", "build/org/release.json"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=render.ROOT)
        assert ignored.returncode == 0, f"{path} is not ignored by git"


def test_bench_flags_a_figure_over_its_target_and_fails_only_when_strict(monkeypatch, capsys):
    import bench

    monkeypatch.setattr(bench, "generation", lambda: 0.1)
    monkeypatch.setattr(bench, "seed_run", lambda: 3.0)
    monkeypatch.setattr(bench, "builds", lambda: {"cached": 0.3, "changed": 2.0, "lint": 2.1})
    assert bench.main([]) == 0
    report = capsys.readouterr().out
    assert "OVER TARGET" in report and "0.95x (target <= 0.8x)" in report
    assert [line for line in report.splitlines() if "OVER TARGET" in line][0].startswith("ratio")
    assert bench.main(["--strict"]) == 1
    capsys.readouterr()
    monkeypatch.setattr(bench, "builds", lambda: {"cached": 0.3, "changed": 1.5, "lint": 2.1})
    assert bench.main(["--strict"]) == 0
    assert "OVER TARGET" not in capsys.readouterr().out

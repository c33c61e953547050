"""`docs`: the committed reference pages match the generator, and say what the templates say.

The pages are read back against cfn-lint's own parse of the rendered YAML (the `templates`
fixture) and against cfn-lint's resource graph, not against the objects they were written from.
"""

from __future__ import annotations

import json
import shutil
import typing
import xml.etree.ElementTree as ElementTree
from enum import Enum

import pytest
import yaml
from cfnlint.template import Template as LintTemplate
from click.testing import CliRunner
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

import cli
from generator import docs, render
from generator.config import Config, build_config, load_config

DOCS = render.ROOT / docs.DOCS_DIR
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def generated(config) -> dict[str, str]:
    return docs.generate(config)


def test_committed_docs_are_up_to_date(generated):
    stale = docs.differences(DOCS, generated)
    assert not stale, f"{docs.DOCS_DIR}/ is out of date ({', '.join(stale)}): run `make docs`"


def test_generation_is_deterministic(config, generated):
    assert docs.generate(config) == generated


def test_check_fails_on_a_changed_missing_or_extra_file(tmp_path):
    target = tmp_path / "docs"
    assert CliRunner().invoke(cli.main, ["docs", "--output-dir", str(target)]).exit_code == 0
    check = CliRunner().invoke(cli.main, ["docs", "--check", "--output-dir", str(target)])
    assert check.exit_code == 0, check.output
    for damage, word in (
        (lambda d: (d / "project.md").write_text("edited\n"), "changed project.md"),
        (lambda d: (d / "product.svg").unlink(), "missing product.svg"),
        (lambda d: (d / "old.md").write_text("gone\n"), "extra old.md"),
    ):
        copy = tmp_path / word.replace(" ", "-")
        shutil.copytree(target, copy)
        damage(copy)
        result = CliRunner().invoke(cli.main, ["docs", "--check", "--output-dir", str(copy)])
        assert result.exit_code == 1, f"{word}: {result.output}"
        assert word in result.output and "run `make docs`" in result.output
        assert "Traceback" not in result.output
    # Writing repairs every kind of damage (the extra file is removed).
    CliRunner().invoke(cli.main, ["docs", "--output-dir", str(copy)])
    assert CliRunner().invoke(cli.main, ["docs", "--check", "--output-dir", str(copy)]).exit_code == 0


def _table(page: str, heading: str) -> dict[str, list[str]]:
    """First-column name -> cells of the Markdown table under `heading`."""
    section = page.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines()[2:]:
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").replace("\\|", "\0").split("|")]
            rows[cells[0].strip("`")] = [c.replace("\0", "|") for c in cells]
    return rows


@pytest.mark.parametrize("name", ["product", "project", "endpoint"])
def test_parameter_table_matches_the_template(generated, templates, name):
    template = templates[name]
    rows = _table(generated[f"{name}.md"], "Parameters")
    groups = {
        p: g["Label"]["default"]
        for g in template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        for p in g["Parameters"]
    }
    parameters = template.get("Parameters", {})
    assert set(rows) == set(parameters), f"{name}.md: parameters differ"
    assert list(rows) == list(groups) + sorted(set(parameters) - set(groups)), f"{name}.md: not in console order"
    for parameter, spec in template.get("Parameters", {}).items():
        _, kind, default, allowed, description, group = rows[parameter]
        where = f"{name}.md parameter {parameter}"
        assert kind == spec["Type"], where
        assert ("*(required)*" in default) == ("Default" not in spec), where
        if spec.get("AllowedPattern"):
            assert f"`{spec['AllowedPattern']}`" in allowed, f"{where}: pattern missing or mangled"
        for value in spec.get("AllowedValues", []):
            assert f"`{value}`" in allowed, f"{where}: allowed value {value} missing"
        assert description == spec.get("Description", ""), where
        assert group == groups.get(parameter, ""), where


@pytest.mark.parametrize("name", ["product", "project", "endpoint"])
def test_inventory_and_diagram_match_cfn_lints_graph(generated, templates, name, config):
    template = templates[name]
    graph = LintTemplate(f"{name}.yaml", template, list(config.regions)[:1]).graph.graph
    resources = set(template["Resources"])
    edges: dict[tuple[str, str], set[str]] = {}
    for source, target, data in graph.edges(data=True):
        if source in resources and target in resources:
            edges.setdefault((source, target), set()).add(data["label"])
    rows = _table(generated[f"{name}.md"], "Resources")
    assert set(rows) == resources, f"{name}.md: inventory differs from the template's resources"
    for logical_id, cells in rows.items():
        assert cells[1] == template["Resources"][logical_id]["Type"], f"{name}.md {logical_id}: type"
        listed = {part.split("`")[1] for part in cells[3].split(", ") if part}
        expected = {t for (s, t) in edges if s == logical_id}
        assert listed == expected, f"{name}.md {logical_id}: references {listed}, cfn-lint sees {expected}"
    svg = ElementTree.fromstring(generated[f"{name}.svg"])
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    boxes = {t.split(" (")[0] for t in titles if " → " not in t}
    arrows = {tuple(t.split(" (")[0].split(" → ")) for t in titles if " → " in t}
    assert boxes == resources, f"{name}.svg: boxes differ from the resources"
    assert arrows == set(edges), f"{name}.svg: arrows differ from cfn-lint's graph: {arrows ^ set(edges)}"
    dashed = {
        tuple(p.find(f"{SVG}title").text.split(" (")[0].split(" → "))
        for p in svg.iter(f"{SVG}path")
        if p.get("stroke-dasharray")
    }
    assert dashed == {pair for pair, labels in edges.items() if labels == {"DependsOn"}}, f"{name}.svg: dashes"


def test_the_index_links_every_page(generated):
    for target in render.TARGETS:
        assert f"]({target.name}.md)" in generated["README.md"] and f"{target.name}.md" in generated


# ---- the configuration reference (docs/configuration.md) ----------------------------------------

CONFIG_PAGE = render.ROOT / "docs" / "configuration.md"
EXAMPLE = render.ROOT / "examples" / "org.yaml"


def _model_fields(model: type[BaseModel], prefix: str = "") -> dict[str, FieldInfo]:
    """Dotted setting name -> field, nested models included (`a.b`, and `a[].b` for a list of models)."""
    found = {}
    for name, field in model.model_fields.items():
        found[prefix + name] = field
        annotation = field.annotation
        arguments = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= _model_fields(annotation, f"{prefix}{name}.")
        elif len(arguments) == 1 and isinstance(arguments[0], type) and issubclass(arguments[0], BaseModel):
            found |= _model_fields(arguments[0], f"{prefix}{name}[].")
    return found


def _documented() -> dict[str, list[str]]:
    """Setting -> its row's cells, from every settings table of the page."""
    rows = {}
    for line in CONFIG_PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            assert len(cells) == 5, f"docs/configuration.md: a row needs 5 cells: {line}"
            name = cells[0].strip("`")
            assert name not in rows, f"docs/configuration.md: {name} documented twice"
            rows[name] = cells
    return rows


def test_configuration_page_documents_every_setting_and_nothing_else():
    real, documented = _model_fields(Config), _documented()
    assert sorted(set(real) - set(documented)) == [], "settings missing from docs/configuration.md"
    assert sorted(set(documented) - set(real)) == [], "docs/configuration.md documents settings that do not exist"


@pytest.mark.parametrize("name", sorted(_model_fields(Config)))
def test_configuration_page_states_the_real_default(name):
    field = _model_fields(Config)[name]
    cells = _documented()[name]
    default = cells[2]
    if field.is_required():
        assert default == "(required)", f"{name}: required, documented default {default}"
        return
    assert default.startswith("`") and default.endswith("`"), f"{name}: default must be a code span"
    real = to_jsonable_python(field.get_default(call_default_factory=True))
    assert json.loads(default.strip("`")) == real, f"{name}: documented {default}, real {json.dumps(real)}"
    assert cells[4], f"{name}: no example"
    for enum in [a for a in (field.annotation, *typing.get_args(field.annotation)) if isinstance(a, type)]:
        if issubclass(enum, Enum):
            for member in enum:
                assert f"`{member.value}`" in cells[3], f"{name}: allowed value {member.value} not documented"


def test_example_config_loads_and_builds(tmp_path):
    config = load_config(EXAMPLE)
    assert config.project_suffix == "risk-models" and config.namespace == "riskteam"
    assert len(config.required_tags) == 3 and len(config.regions) == 2
    assert config.endpoint_kind == "realtime"
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.main, ["--config", str(EXAMPLE), "build", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert all((out / t.path).is_file() for t in render.targets(config))


def test_the_page_s_whole_file_is_the_example_without_comments():
    block = CONFIG_PAGE.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    assert build_config(yaml.safe_load(block)) == load_config(EXAMPLE)

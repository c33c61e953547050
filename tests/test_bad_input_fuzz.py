"""Bad configuration never crashes the CLI and never touches the output directory.

Hypothesis builds invalid values by construction (each violates one documented rule) and also
throws arbitrary text and bytes at ``mlops-templates --config F build --output-dir D``: every
invalid case exits 2 with one line naming the problem, never a traceback, and D stays
byte-for-byte as it was. Arbitrary text that happens to be a valid configuration may build
(exit 0), but must not show a traceback either.
"""

from __future__ import annotations

import re
import string
import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from generator.config import PROJECT_NAME_MAX

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
PREEXISTING = {
    "templates_out/create-async-endpoint-product.yaml": b"# an earlier build\n",
    "templates_out/MLOps-template-example.yml": b"Resources: {}\n",
    "seed_code/model_deploy/endpoint-config-template.yml": b"\x00\xffnot even text",
    "notes.txt": b"keep me\n",
}

lower = st.sampled_from(string.ascii_lowercase)
word = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def invoke(config_bytes: bytes):
    """(result, output dir before, output dir after) of one build with the given config file."""
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        out = work_dir / "out"
        for relative, content in PREEXISTING.items():
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            (out / relative).write_bytes(content)
        config = work_dir / "org.yaml"
        config.write_bytes(config_bytes)
        before = snapshot(out)
        result = CliRunner().invoke(cli.main, ["--config", str(config), "build", "--output-dir", str(out)])
        return result, before, snapshot(out)


def assert_refused(config_bytes: bytes, field: str | None = None) -> None:
    result, before, after = invoke(config_bytes)
    shown = config_bytes[:200]
    assert "Traceback" not in result.output, f"config {shown!r}: traceback shown:\n{result.output}"
    assert result.exit_code == 2, f"config {shown!r}: exit {result.exit_code}, expected 2; output {result.output!r}"
    assert isinstance(result.exception, SystemExit), f"config {shown!r}: raised {result.exception!r}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (
        f"config {shown!r}: expected one error line, got {result.stderr!r}"
    )
    if field:
        assert field in lines[0], f"config {shown!r}: message {lines[0]!r} does not name {field}"
    # The CLI's own words, not pydantic's ("Input should be a valid tuple").
    assert not re.search(r"Input should be|valid (tuple|string|dictionary|integer)", lines[0]), lines[0]
    assert after == before, f"config {shown!r}: the output directory changed"


def as_yaml(values: dict) -> bytes:
    return yaml.safe_dump(values, allow_unicode=True).encode("utf-8")


# ---------------------------------------------------------------- invalid by construction

bad_suffixes = st.one_of(
    word.map(str.upper).filter(lambda s: s != s.lower()),  # uppercase
    st.tuples(word, word).map(lambda p: f"{p[0]}--{p[1]}"),  # double hyphen
    word.map(lambda s: f"-{s}"),
    word.map(lambda s: f"{s}-"),
    st.text(string.ascii_lowercase, min_size=PROJECT_NAME_MAX - 1, max_size=60),  # too long
    st.tuples(word, st.sampled_from(" _./:@")).map(lambda p: p[0] + p[1] + "x"),
    st.just(""),
)
bad_namespaces = st.one_of(
    st.tuples(st.sampled_from(string.digits), word).map("".join),  # digit first
    word.map(str.upper).filter(lambda s: s != s.lower()),
    st.text(string.ascii_lowercase, min_size=21, max_size=40),
    st.tuples(word, word).map(lambda p: f"{p[0]}--{p[1]}"),
    st.just(""),
)
bad_tag_keys = st.one_of(
    st.tuples(st.sampled_from(["aws:", "AWS:", "sagemaker:", "SageMaker:"]), word).map("".join),  # reserved
    st.tuples(st.sampled_from(string.digits + "-_:"), word).map("".join),  # not a letter first
    st.text(string.ascii_letters, min_size=129, max_size=140),
    st.tuples(lower, st.sampled_from("!#$%^&*(){}[]|\\,;<>?~`\"' ")).map("".join),
    st.just(""),
)
bad_regions = st.one_of(
    st.sampled_from(["US-EAST-1", "us-east", "useast1", "mars-north-1", "us-east-1a", "eu_west_1", ""]),
    word.filter(lambda s: not s[:1].isdigit()),
)
bad_instance_types = st.one_of(
    st.sampled_from(["m5.large", "ml.M5.large", "ml..large", "ml.m5", "ml.m5.large.x", "ML.m5.large", ""]),
    word,
)


@FUZZ
@given(bad_suffixes)
def test_invalid_project_suffix(suffix):
    assert_refused(as_yaml({"project_suffix": suffix}), "project_suffix")


@FUZZ
@given(bad_namespaces)
def test_invalid_namespace(namespace):
    assert_refused(as_yaml({"namespace": namespace}), "namespace")


@FUZZ
@given(bad_tag_keys)
def test_invalid_required_tag_key(key):
    assert_refused(as_yaml({"required_tags": [{"key": "project"}, {"key": key}]}), "required_tags")


@FUZZ
@given(word.filter(lambda s: s[0].isalpha()))
def test_required_tag_keys_repeated_in_another_case(key):
    assert_refused(
        as_yaml({"required_tags": [{"key": key}, {"key": key.upper() if key != key.upper() else key.lower()}]}),
        "required_tags",
    )


@FUZZ
@given(st.lists(bad_regions, min_size=1, max_size=3))
def test_invalid_regions(regions):
    assert_refused(as_yaml({"regions": ["us-east-1", *regions]}), "regions")


@FUZZ
@given(st.sampled_from(["processing", "training", "endpoint"]), bad_instance_types)
def test_invalid_instance_type(role, value):
    assert_refused(as_yaml({"instance_types": {role: value}}), "instance_types")


@FUZZ
@given(
    st.sampled_from(
        [
            "project_suffix",
            "namespace",
            "regions",
            "required_tags",
            "endpoint_kind",
            "instance_types",
            "product_version",
        ]
    ),
    st.one_of(
        st.integers(),
        st.floats(allow_nan=False),
        st.booleans(),
        st.lists(st.integers(), min_size=1, max_size=2),
        st.dictionaries(word, st.integers(), min_size=1, max_size=2),
    ),
)
def test_wrong_types(field, value):
    if field == "regions" and isinstance(value, list):
        value = value + ["x"]  # a list of numbers is still no list of region names
    assert_refused(as_yaml({field: value}), field)


@FUZZ
@given(word.filter(lambda s: s not in {"project_suffix", "namespace", "regions"}))
def test_unknown_setting(name):
    assert_refused(as_yaml({f"x_{name}": 1}), f"x_{name}")


@FUZZ
@given(st.sampled_from(["project-suffix", "env", "test", "prod"]))
def test_default_outside_allowed_values(default):
    tag = {"key": "env", "allowed_values": ["dev", "qa"], "default": default}
    assert_refused(as_yaml({"required_tags": [{"key": "project"}, tag]}), "required_tags")


# ---------------------------------------------------------------- arbitrary contents


@FUZZ
@given(
    st.one_of(
        st.binary(min_size=1, max_size=200),
        st.text(max_size=200).map(lambda s: s.encode("utf-8")),
        st.lists(
            st.sampled_from(
                ["{", "}", "[", "]", ":", "- ", "&a", "*a", "!!python/object:os.system", "\t", "\n", "'", '"', "%YAML"]
            ),
            min_size=1,
            max_size=15,
        ).map(lambda parts: "".join(parts).encode("utf-8")),
    )
)
def test_arbitrary_file_contents(content):
    result, before, after = invoke(content)
    assert "Traceback" not in result.output, f"config {content!r}: traceback shown:\n{result.output}"
    if result.exit_code == 0:
        return  # the text happened to be a valid configuration (empty, a comment, {} ...)
    assert isinstance(result.exception, SystemExit), f"config {content!r}: raised {result.exception!r}"
    assert result.exit_code == 2, f"config {content!r}: exit {result.exit_code}; output {result.output!r}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (
        f"config {content!r}: expected one error line, got {result.stderr!r}"
    )
    assert after == before, f"config {content!r}: the output directory changed"


def test_a_directory_or_missing_file_as_config():
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "out"
        out.mkdir()
        (out / "keep.txt").write_text("keep")
        for config in (Path(work) / "missing.yaml", Path(work)):
            for args in (["--config", str(config), "build"], ["build", "--config", str(config)]):
                result = CliRunner().invoke(cli.main, [*args, "--output-dir", str(out)])
                assert result.exit_code == 2 and "Traceback" not in result.output, result.output
                assert len(result.output.strip().splitlines()) == 1, result.output
        assert snapshot(out) == {"keep.txt": b"keep"}


@FUZZ
@given(st.lists(st.sampled_from(["", "\n", "# a comment\n", "   \n", "---\n", "{}\n", "...\n"]), max_size=4))
def test_a_file_that_sets_nothing(parts):
    assert_refused("".join(parts).encode("utf-8"))

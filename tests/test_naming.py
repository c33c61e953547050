"""Every derived name fits its service limit when every input is at its longest."""

from __future__ import annotations

import re

import pytest

from generator import naming, sources
from generator.config import build_config

CONFIGS = {
    "default": build_config(),
    # The longest namespace and suffix the configuration accepts together.
    "longest": build_config({"namespace": "n" * 20, "project_suffix": "s" * 13}),
    # The source provider adds names of its own (sources.product_names, sources.project_names).
    "longest codeconnections": build_config(
        {"namespace": "n" * 20, "project_suffix": "s" * 13, "source_provider": "codeconnections"}
    ),
}


def _all_names(config):
    names = {f"product:{n.pattern}": n for n in sources.product_names(config)}
    names.update({f"project:{k}": n for k, n in sources.project_names(config).items()})
    return names


@pytest.mark.parametrize("config_name", CONFIGS)
def test_every_derived_name_fits_at_maximum_length(config_name):
    for what, name in _all_names(CONFIGS[config_name]).items():
        longest = name.longest()
        assert len(longest) <= name.limit, (
            f"{config_name}: {what} can reach {len(longest)} characters ({longest!r}), "
            f"over the {name.limit}-character {name.limit_of} limit"
        )


def test_longest_substitutes_every_variable():
    name = naming.DerivedName("${SageMakerProjectName}-${SageMakerProjectId}-${AWS::AccountId}", "s3-bucket")
    assert len(name.longest()) == 32 + 1 + 14 + 1 + 12
    assert "${" not in name.longest()


def test_a_budget_overflow_is_detected():
    too_long = naming.DerivedName(
        "${SageMakerProjectName}-${SageMakerProjectId}-a-very-long-rule-suffix", "events-rule"
    )
    assert not too_long.fits()


def test_bucket_names_are_valid_s3_names_at_the_extremes():
    for config in CONFIGS.values():
        bucket = naming.artifact_bucket(config).longest().replace("x", "a")
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", bucket), bucket


def test_too_long_namespace_and_suffix_are_refused_by_the_config():
    from generator.errors import UserError

    with pytest.raises(UserError, match="too long"):
        build_config({"namespace": "n" * 20, "project_suffix": "s" * 30})

"""Golden files: did the output change? The committed templates must be what the generator builds."""

from __future__ import annotations

import pytest

from generator import render
from generator.config import build_config


@pytest.mark.parametrize("target", render.TARGETS, ids=lambda t: t.name)
def test_committed_template_is_what_the_generator_builds(target, rendered):
    committed = render.ROOT / target.path
    assert committed.exists(), f"{target.path} is missing: run `make build` and commit it"
    assert committed.read_text(encoding="utf-8") == rendered[target.name], (
        f"{target.path} differs from what {target.module} generates: run `make build` and commit"
    )


@pytest.mark.parametrize("target", render.TARGETS, ids=lambda t: t.name)
def test_rendering_is_deterministic(target):
    first = render.render(target, build_config())
    second = render.render(target, build_config())
    assert first == second, f"{target.path}: two renders of the same config differ"


@pytest.mark.parametrize("target", render.TARGETS, ids=lambda t: t.name)
def test_header_names_the_generator_version(target, rendered):
    from generator import __version__

    first_line = rendered[target.name].splitlines()[0]
    assert __version__ in first_line and target.module.replace(".", "/") in first_line, (
        f"{target.path}: header {first_line!r} must name the generator version and module"
    )

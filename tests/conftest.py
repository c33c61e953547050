"""Shared fixtures: the default configuration and every template rendered from it."""

from __future__ import annotations

import os

import pytest

from generator import render
from generator.config import build_config

# The SageMaker SDK and boto3 must never reach for real credentials or regions in tests.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")


@pytest.fixture(scope="session")
def config():
    return build_config()


@pytest.fixture(scope="session")
def rendered(config) -> dict[str, str]:
    """Target name -> rendered YAML text, for every template the generator builds."""
    return {target.name: text for target, text in render.render_all(config).items()}


@pytest.fixture(scope="session")
def templates(rendered) -> dict[str, dict]:
    """Target name -> the template parsed the way cfn-lint parses it (intrinsics long-form)."""
    from cfnlint.decode.decode import decode_str

    parsed = {}
    for name, text in rendered.items():
        template, errors = decode_str(text)
        assert not errors, f"{name}: does not parse: {errors}"
        parsed[name] = template
    return parsed


def resources_of(template: dict, resource_type: str) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }

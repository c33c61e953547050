"""The gate: every template is linted in-process by cfn-lint before anything is written.

cfn-lint runs with AWS's resource schemas for every supported region, its informational rules,
and this project's own security rules (``generator/rules/``). Rules load once per process;
starting cfn-lint is most of its cost.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.runner import Runner

from generator.config import Config

RULES_DIR = Path(__file__).resolve().parent / "rules"


@dataclass(frozen=True)
class Finding:
    template: str
    rule: str
    resource: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.template}:{self.line}"
        return f"{where}: {self.rule} [{self.resource}] {self.message}"


# Project rules that read the organisation's choices get them as cfn-lint rule options.
REQUIRED_TAGS_RULE = "E9050"


@functools.lru_cache(maxsize=8)
def _runner(regions: tuple[str, ...], tag_keys: tuple[str, ...], with_project_rules: bool) -> Runner:
    append = [str(RULES_DIR)] if with_project_rules and any(RULES_DIR.glob("[!_]*.py")) else []
    return Runner(
        ConfigMixIn(
            regions=list(regions),
            include_checks=["I"],
            append_rules=append,
            configure_rules={REQUIRED_TAGS_RULE: {"required_tags": list(tag_keys)}},
        )
    )


def _resource_of(match) -> str:
    path = list(getattr(match, "path", None) or [])
    if len(path) >= 2 and path[0] in ("Resources", "Parameters", "Outputs", "Conditions"):
        return f"{path[0]}/{path[1]}"
    return "template"


def lint(name: str, text: str, config: Config, with_project_rules: bool = True) -> list[Finding]:
    """Every cfn-lint finding (error, warning or informational) for one template."""
    template, errors = decode_str(text)
    matches = list(errors or [])
    if template is not None and not errors:
        runner = _runner(tuple(config.regions), config.tag_keys, with_project_rules)
        matches = list(runner.validate_template(template))
    return sorted(
        (
            Finding(
                template=name,
                rule=match.rule.id,
                resource=_resource_of(match),
                line=match.linenumber,
                message=match.message,
            )
            for match in matches
        ),
        key=lambda f: (f.template, f.line, f.rule, f.message),
    )


def lint_all(texts: dict[str, str], config: Config) -> list[Finding]:
    findings: list[Finding] = []
    for name, text in texts.items():
        findings.extend(lint(name, text, config))
    return findings

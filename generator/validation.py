"""The gate: every template is linted in-process by cfn-lint before anything is written.

cfn-lint runs with AWS's resource schemas for every region of the configuration
(``Config.regions``), its informational rules, and this project's own security rules
(``generator/rules/``). The runner, with its rules, is built once per process and configuration;
starting cfn-lint is most of its cost.

Policy documents that are not CloudFormation (the organisation's SCP) skip cfn-lint and get
``check_policies``: the policy grammar an SCP accepts and Organizations' size quota. Whether
each action exists is proven by the tests against IAM's action catalogue (iam-data is a test
dependency, not the generator's).
"""

from __future__ import annotations

import functools
import json
import re
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


# ---- policy documents (not CloudFormation) --------------------------------------------------

SCP_MAX_CHARACTERS = 5120  # AWS Organizations: maximum size of a service control policy
_POLICY_KEYS = {"Version", "Statement"}
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
_ACTION = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")
_SID = re.compile(r"^[A-Za-z0-9]+$")


def _strings(value) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and bool(value) and all(isinstance(item, str) for item in value)
    )


def _statement_problems(statement, index: int) -> list[tuple[str, str, str]]:
    """(rule, where, message) for one statement."""
    where = f"Statement/{index}"
    if not isinstance(statement, dict):
        return [("SCP-GRAMMAR", where, "a statement must be an object")]
    sid = statement.get("Sid")
    if isinstance(sid, str):
        where = f"Statement/{sid}"
    problems = []
    if sid is not None and not (isinstance(sid, str) and _SID.match(sid)):
        problems.append(("SCP-GRAMMAR", where, f"Sid {sid!r} must be letters and digits"))
    for key in sorted(set(statement) - _STATEMENT_KEYS):
        reason = (
            "an SCP applies to the account's own principals and names none"
            if "Principal" in key
            else "not an SCP element"
        )
        problems.append(("SCP-GRAMMAR", where, f"{key}: {reason}"))
    if statement.get("Effect") not in ("Allow", "Deny"):
        problems.append(("SCP-GRAMMAR", where, f"Effect must be Allow or Deny, not {statement.get('Effect')!r}"))
    for pair in (("Action", "NotAction"), ("Resource", "NotResource")):
        present = [key for key in pair if key in statement]
        if len(present) != 1:
            problems.append(("SCP-GRAMMAR", where, f"needs exactly one of {' / '.join(pair)}"))
            continue
        value = statement[present[0]]
        if not _strings(value):
            problems.append(("SCP-GRAMMAR", where, f"{present[0]} must be a string or a non-empty list of strings"))
        elif pair[0] == "Action":
            for action in [value] if isinstance(value, str) else value:
                if not _ACTION.match(action):
                    problems.append(("SCP-GRAMMAR", where, f"{action!r} is not service:Action"))
    condition = statement.get("Condition")
    if condition is not None:
        if not isinstance(condition, dict) or not condition:
            problems.append(("SCP-GRAMMAR", where, "Condition must be a non-empty object"))
        else:
            for operator, keys in condition.items():
                if not isinstance(keys, dict) or not keys or not all(_strings(v) for v in keys.values()):
                    problems.append(("SCP-GRAMMAR", where, f"Condition {operator} must map keys to strings"))
    return problems


def check_policy(name: str, text: str, max_characters: int = SCP_MAX_CHARACTERS) -> list[Finding]:
    """Every problem of one SCP document: JSON, policy grammar, size (as written, and without
    whitespace as the console counts it)."""

    def finding(rule: str, where: str, message: str) -> Finding:
        sid = where.split("/", 1)[1] if where.startswith("Statement/") else None
        marker = f'"Sid": "{sid}"'
        lines = text.splitlines()
        line = next((n for n, content in enumerate(lines, 1) if marker in content), 1)
        return Finding(template=name, rule=rule, resource=where, line=line, message=message)

    try:
        document = json.loads(text)
    except ValueError as error:
        return [Finding(name, "SCP-JSON", "document", getattr(error, "lineno", 1), f"not JSON: {error}")]
    if not isinstance(document, dict):
        return [finding("SCP-GRAMMAR", "document", "a policy must be a JSON object")]
    problems = [
        ("SCP-GRAMMAR", "document", f"{key}: not a policy element") for key in sorted(set(document) - _POLICY_KEYS)
    ]
    if document.get("Version") != "2012-10-17":
        problems.append(("SCP-GRAMMAR", "document", f"Version must be 2012-10-17, not {document.get('Version')!r}"))
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        problems.append(("SCP-GRAMMAR", "document", "Statement must be a non-empty list"))
        statements = []
    sids = [s.get("Sid") for s in statements if isinstance(s, dict) and s.get("Sid") is not None]
    for sid in sorted({sid for sid in sids if sids.count(sid) > 1}, key=str):
        problems.append(("SCP-GRAMMAR", f"Statement/{sid}", "Sid used twice"))
    for index, statement in enumerate(statements):
        problems.extend(_statement_problems(statement, index))
    compact = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False))
    if compact > max_characters:
        problems.append(
            ("SCP-SIZE", "document", f"{compact} characters without whitespace; an SCP holds at most {max_characters}")
        )
    elif len(text) > max_characters:
        problems.append(
            (
                "SCP-SIZE",
                "document",
                f"{len(text)} characters as written; the CLI and SDKs count whitespace, "
                f"an SCP holds at most {max_characters}",
            )
        )
    return sorted((finding(*problem) for problem in problems), key=lambda f: (f.line, f.rule, f.message))


def check_policies(texts: dict[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    for name, text in texts.items():
        findings.extend(check_policy(name, text))
    return findings

"""The gate: every template is linted in-process by cfn-lint before anything is written.

cfn-lint runs with AWS's resource schemas for every region of the configuration
(``Config.regions``), its informational rules, and this project's own security rules
(``generator/rules/``). The runner, with its rules, is built once per process and configuration;
starting cfn-lint is most of its cost, so it is imported only when a template must really be
linted.

Fast iteration: a result is cached under ``.cache/lint/`` keyed by a hash of the template's
bytes, the cfn-lint version, the rules (cfn-lint's options and the source bytes of this module and
of every project rule) and the regions, so a rebuild with nothing changed runs no cfn-lint at all;
any change to one of them is another key. An entry that does not read back as a result is
ignored. Templates are independent: the ones the cache misses are linted in parallel, in forked
worker processes that inherit the runner built once here.

Policy documents that are not CloudFormation (the organisation's SCP) skip cfn-lint and get
``check_policies``: the policy grammar an SCP accepts and Organizations' size quota. Whether
each action exists is proven by the tests against IAM's action catalogue (iam-data is a test
dependency, not the generator's).
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import re
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from generator import render
from generator.config import Config

RULES_DIR = Path(__file__).resolve().parent / "rules"
# None: `.cache/lint/` in the repository (render.ROOT, read when used).
CACHE_DIR: Path | None = None
# Bumped when the cached record's shape changes.
CACHE_FORMAT = 1
# The machines this runs on have two cores; more workers would only contend for them.
LINT_WORKERS = min(2, os.cpu_count() or 1)
# Called with a template's name each time cfn-lint really lints it (not for a cache hit).
LINT_HOOKS: list[Callable[[str], None]] = []


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
INCLUDE_CHECKS = ("I",)


@functools.lru_cache(maxsize=8)
def _runner(regions: tuple[str, ...], tag_keys: tuple[str, ...], with_project_rules: bool):
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    append = [str(RULES_DIR)] if with_project_rules and any(RULES_DIR.glob("[!_]*.py")) else []
    return Runner(
        ConfigMixIn(
            regions=list(regions),
            include_checks=list(INCLUDE_CHECKS),
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
    """Every cfn-lint finding (error, warning or informational) for one template (never cached)."""
    from cfnlint.decode.decode import decode_str

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


# ---- the result cache ------------------------------------------------------------------------


def _environment_digest() -> str:
    """cfn-lint's version and the source of everything that decides a finding besides the template."""
    digest = hashlib.sha256(f"format {CACHE_FORMAT}\ncfn-lint {metadata.version('cfn-lint')}\n".encode())
    sources = {"validation.py": Path(__file__)}
    sources |= {f"rules/{p.relative_to(RULES_DIR).as_posix()}": p for p in sorted(RULES_DIR.rglob("*.py"))}
    for name, path in sources.items():
        digest.update(f"{name}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cache_key(text: str, config: Config, with_project_rules: bool = True) -> str:
    """Hash of everything a template's findings depend on."""
    options = {
        "environment": _environment_digest(),
        "regions": list(config.regions),
        "include_checks": list(INCLUDE_CHECKS),
        "rule_options": {REQUIRED_TAGS_RULE: list(config.tag_keys)},
        "project_rules": with_project_rules,
        "template_sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()


def cache_dir() -> Path:
    return CACHE_DIR if CACHE_DIR is not None else render.ROOT / ".cache" / "lint"


def _cached(directory: Path, key: str, name: str) -> list[Finding] | None:
    """The findings recorded under `key`, or None for a miss or an entry that does not read back."""
    try:
        record = json.loads((directory / f"{key}.json").read_text(encoding="utf-8"))
        if record["key"] != key:
            return None
        found = []
        for rule, resource, line, message in record["findings"]:
            if not (isinstance(rule, str) and isinstance(resource, str) and isinstance(message, str)):
                return None
            if type(line) is not int:
                return None
            found.append(Finding(name, rule, resource, line, message))
        return found
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None


def _store(directory: Path, key: str, findings: list[Finding]) -> None:
    """Record the findings; a cache that cannot be written only costs the next run time."""
    record = {"key": key, "findings": [[f.rule, f.resource, f.line, f.message] for f in findings]}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(record, handle, sort_keys=True)
            os.replace(temporary, directory / f"{key}.json")
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError:
        pass


# ---- linting many templates -------------------------------------------------------------------


def _lint_many(jobs: dict[str, str], config: Config, workers: int) -> dict[str, list[Finding]]:
    """Findings per template name; in forked workers when there is more than one to lint."""
    if workers < 2 or len(jobs) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return {name: lint(name, text, config) for name, text in jobs.items()}
    # Built (and cfn-lint imported) once here: the forked workers inherit it.
    _runner(tuple(config.regions), config.tag_keys, True)
    longest_first = sorted(jobs, key=lambda name: -len(jobs[name]))
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        futures = {name: pool.submit(lint, name, jobs[name], config) for name in longest_first}
        return {name: futures[name].result() for name in jobs}


def lint_all(
    texts: dict[str, str], config: Config, use_cache: bool = True, workers: int | None = None
) -> list[Finding]:
    """Every finding of every template, in the order given; cached results reused unless use_cache
    is False (the fresh results are still recorded)."""
    directory = cache_dir()
    keys = {name: cache_key(text, config) for name, text in texts.items()}
    results: dict[str, list[Finding]] = {}
    if use_cache:
        for name in texts:
            hit = _cached(directory, keys[name], name)
            if hit is not None:
                results[name] = hit
    misses = {name: text for name, text in texts.items() if name not in results}
    fresh = _lint_many(misses, config, LINT_WORKERS if workers is None else workers)
    for name, findings in fresh.items():
        for hook in LINT_HOOKS:
            hook(name)
        _store(directory, keys[name], findings)
    results.update(fresh)
    return [finding for name in texts for finding in results[name]]


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

"""The permissions boundary of every project role: the team's ceiling, owned by the product stack.

Each project stack creates its own roles (``naming.PROJECT_ROLE_PURPOSES``) with policies that
name that project's resources only. The launch role that creates them may do so only with this
boundary attached, so whatever policy a role is given (by a template update, or by whoever
controls the launch role), it never reaches past the team: the boundary allows the actions the
project roles use, on the team's resources, and keeps their denies.

IAM caps a managed policy at 6,144 characters: the union of the five roles' policies is about
three times that, so the boundary merges them into one statement of actions on the team's ARN
patterns and one of the actions that have no resource scope, widens reads (``Describe*``,
``Get*``, ``List*`` of a service the roles read from, and SageMaker's verbs) on those
patterns, and leaves the
conditions to the roles' own policies (AWS evaluates both: a request must be allowed by each).
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from awacs.aws import Deny, PolicyDocument, Statement

from generator.config import Config
from generator.iam.runtime import runtime_policy
from generator.iam.scopes import Scope
from generator.iam.statements import ANYWHERE, actions, allow, document
from generator.iam.trust import RUNTIME_ROLES

if TYPE_CHECKING:  # generator.sources imports this package: the provider is passed in
    from generator.sources.base import Source


# The longest value each `${...}` of the boundary resolves to: IAM measures the deployed document.
_LONGEST = {"AWS::Partition": 10, "AWS::Region": 14, "AWS::AccountId": 12, "ProjectKey.Arn": 87}
KEY_ARN = "${ProjectKey.Arn}"


def boundary_size(config: Config, source: type[Source]) -> int:
    """The boundary's size as IAM counts it (no white space), every `${...}` at its longest."""
    text = json.dumps(json.loads(project_role_boundary(config, KEY_ARN, source).to_json()), separators=(",", ":"))
    return len(re.sub(r"\$\{([A-Za-z:.]+)\}", lambda m: "x" * _LONGEST[m.group(1)], text))


def project_role_boundary(config: Config, key_arn_sub: str, source: type[Source]) -> PolicyDocument:
    """The boundary: what any project role of the team may ever do, on the team's resources."""
    team = Scope(config)
    scoped: set[str] = set()
    unscoped: set[str] = set()
    resources: set[str] = set()
    whole: dict[str, Statement] = {}  # kept as the roles have them: denies, passing roles, conditions on "*"
    for purpose in RUNTIME_ROLES:
        for statement in runtime_policy(team, purpose, key_arn_sub, source).Statement:
            names = {action.JSONrepr() for action in statement.Action}
            anywhere = list(statement.Resource) == list(ANYWHERE)
            if statement.Effect == Deny or "iam:PassRole" in names or (anywhere and hasattr(statement, "Condition")):
                whole.setdefault(statement.Sid, statement)
            elif anywhere:
                unscoped |= names
            else:
                scoped |= names
                resources |= set(statement.Resource)
    return document(
        allow(
            "AllowTheTeamsProjectActionsOnTheTeamsResources",
            actions(_reads_widened(scoped)),
            _widest(_streams_merged(resources)),
        ),
        # These actions have no resource-level permissions (the roles' policies say which).
        allow("AllowTheTeamsUnscopedActions", actions(sorted(unscoped)), ANYWHERE),
        *whole.values(),
    )


def _widest(patterns: set[str]) -> list[str]:
    """The patterns no other one covers. IAM's `*` matches any characters, `/` included, so a
    pattern B is covered by A when B's text (its own `*` as a literal) matches A."""
    return sorted(
        pattern
        for pattern in patterns
        if not any(other != pattern and fnmatchcase(pattern, other.replace("[", "[[]")) for other in patterns)
    )


_READ_VERBS = ("Describe", "Get", "List")
# SageMaker's own verbs, on resources named like the team's projects (or the pipeline jobs the
# roles' policies scope by tag): the guardrail and the roles' policies decide which and how.
_VERBS = {"sagemaker": ("Create", "Delete", "Update", "Stop", "Start", "Invoke", *_READ_VERBS)}


def _reads_widened(names: set[str]) -> list[str]:
    """`svc:DescribeX`, `svc:DescribeY` -> `svc:Describe*`: reads (and SageMaker's verbs), on the
    team's resources only."""
    widened = set()
    for name in names:
        service, _, action = name.partition(":")
        verb = next((verb for verb in _VERBS.get(service, _READ_VERBS) if action.startswith(verb)), None)
        widened.add(f"{service}:{verb}*" if verb else name)
    return sorted(widened)


def _streams_merged(resources: set[str]) -> set[str]:
    """A log group and its streams (`G`, `G:log-stream:*`) as one pattern, `G*`."""
    streams = ":log-stream:*"
    groups = {r[: -len(streams)] for r in resources if r.endswith(streams) and r[: -len(streams)] in resources}
    merged = {group if group.endswith("*") else group + "*" for group in groups}
    return (resources - groups - {group + streams for group in groups}) | merged

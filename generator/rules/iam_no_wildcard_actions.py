"""E9040: no IAM policy allows every action, or every action of a service."""

import re

from generator.rules import _common as c

SERVICE_WILDCARD = re.compile(r"^[a-z0-9-]+:\*$")


class IamNoWildcardActions(c.ProjectRule):
    id = "E9040"
    shortdesc = "IAM policies do not Allow * or service:*"
    description = (
        "No Allow statement of an IAM identity policy (inline Policies of roles, users and "
        "groups; AWS::IAM::Policy, ManagedPolicy, RolePolicy, UserPolicy, GroupPolicy) has "
        "Action * or <service>:*, or uses NotAction. Deny statements may use wildcards."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"

    def match(self, cfn):
        found = []
        for name, document, path in c.identity_policies(cfn):
            for statement, where in c.statements(document, path):
                if statement is None:
                    found.append(c.match(where, f"{name}: policy statement cannot be read"))
                    continue
                if c.effect(statement) != "Allow":
                    continue
                if "NotAction" in statement:
                    found.append(c.match(where, f"{name}: Allow with NotAction grants every other action"))
                wide = [a for a in c.actions(statement) if a == "*" or SERVICE_WILDCARD.match(a.lower())]
                if wide:
                    found.append(
                        c.match(
                            where + ["Action"],
                            f"{name}: statement {statement.get('Sid', '')!r} allows {', '.join(wide)}; "
                            "list the actions it needs",
                        )
                    )
        return found

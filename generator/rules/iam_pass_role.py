"""E9041: iam:PassRole names its roles and the one service they go to."""

from generator.rules import _common as c


class IamPassRoleScoped(c.ProjectRule):
    id = "E9041"
    shortdesc = "iam:PassRole is never on * and always has iam:PassedToService"
    description = (
        "An Allow statement of an IAM identity policy whose actions cover iam:PassRole "
        "(including by wildcard) has no Resource * and a Condition on iam:PassedToService."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"

    def match(self, cfn):
        found = []
        for name, statement, where in c.allow_statements(cfn):
            if not any(c.grants(a, "iam:passrole") for a in c.actions(statement)):
                continue
            sid = statement.get("Sid", "")
            if "*" in c.as_list(statement.get("Resource")) or "NotResource" in statement:
                found.append(
                    c.match(where, f"{name}: statement {sid!r} allows iam:PassRole on every role; name the roles")
                )
            if "iam:passedtoservice" not in c.condition_keys(statement):
                found.append(
                    c.match(
                        where,
                        f"{name}: statement {sid!r} allows iam:PassRole without an iam:PassedToService condition",
                    )
                )
        return found

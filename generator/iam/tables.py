"""The permission tables under ``generator/data/``, read into the types the code and tests use.

A table is data, the way cfn-lint keeps what it knows about AWS under ``cfnlint/data/``: each
entry an action and the reason it is granted, left out or guarded, so a review reads one table
and a change touches one line. The YAML files carry the comments; this module only reads them,
refuses a key written twice (PyYAML would keep the last one silently and lose a reason) and
checks that every reason is written.
"""

from __future__ import annotations

from pathlib import Path

import yaml

DATA_DIR = Path(__file__).parent.parent / "data"


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        if len(mapping) != len(node.value):
            keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
            twice = sorted({key for key in keys if keys.count(key) > 1})
            raise yaml.constructor.ConstructorError(None, None, f"keys written twice: {twice}", node.start_mark)
        return mapping


def read(name: str) -> dict:
    with (DATA_DIR / name).open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_UniqueKeyLoader)  # a SafeLoader: no Python objects


def reasons(table: dict, where: str) -> dict[str, str]:
    """``{action: reason}`` as written, every reason a non-empty string."""
    for action, reason in table.items():
        if not (isinstance(action, str) and isinstance(reason, str) and reason.strip()):
            raise ValueError(f"{where}: {action!r} needs a reason, got {reason!r}")
    return dict(table)


def reasons_by_type(table: dict, where: str) -> dict[str, dict[str, str]]:
    """``{resource type: {action: reason}}``, the types and actions in file order."""
    return {kind: reasons(entries, f"{where} {kind}") for kind, entries in table.items()}


def action_names(items: list, where: str) -> tuple[str, ...]:
    if not all(isinstance(item, str) and item for item in items):
        raise ValueError(f"{where}: every entry must be an action name")
    return tuple(items)


# No role's code reads this table: the tests compare both roles derived from the provider
# schemas (the launch role's and the deploy role's) with the schemas through it.
HANDLER_PERMISSIONS_LEFT_OUT: dict[str, dict[str, str]] = reasons_by_type(
    read("iam_handler_permissions_left_out.yaml"), "iam_handler_permissions_left_out.yaml"
)

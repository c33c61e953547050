"""E9050: every taggable resource of a project carries the organisation's required tags."""

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from generator.config import build_config
from generator.rules import _common as c
from generator.tagging import PROJECT_NAME_PARAM

DEFAULT_REGION = "us-east-1"


def _tag_property(region: str, resource_type: str) -> str | None:
    """The property holding tags per cfn-lint's copy of the resource provider schema."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:  # unknown or custom type: cfn-lint's own E3006 reports it
        return None
    tagging = schema.get("tagging") or {}
    if tagging.get("taggable") is False:
        return None
    pointer = tagging.get("tagProperty", "/properties/Tags")
    name = pointer.rsplit("/", 1)[-1]
    return name if name in (schema.get("properties") or {}) else None


def _tags(value) -> dict | None:
    """Tags as key -> value from a list of {Key, Value} or a map; None when unreadable."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        pairs = {}
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
                return None
            pairs[item["Key"]] = item.get("Value")
        return pairs
    return None


class RequiredTags(c.ProjectRule):
    id = "E9050"
    shortdesc = "Taggable resources of a project carry the required tags"
    description = (
        "Applies to templates that declare the SageMakerProjectName parameter (the project and "
        "endpoint templates). Every resource whose type has a tag property in cfn-lint's "
        "resource schema carries each required tag key, spelled exactly (cost reports are "
        "case-sensitive), with a non-empty value. The product template is out of scope: its "
        "key, roles and product exist before any project, so they carry the deployment's "
        "mlops:* tags instead. Keys come from rule option required_tags (the gate passes "
        "Config.tag_keys; default: the default configuration's keys)."
    )
    source_url = "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html"

    def __init__(self):
        super().__init__()
        self.config_definition = {
            "required_tags": {
                "default": list(build_config().tag_keys),
                "type": "list",
                "itemtype": "string",
            }
        }
        self.configure()

    def match(self, cfn):
        if PROJECT_NAME_PARAM not in (cfn.template.get("Parameters") or {}):
            return []
        region = cfn.regions[0] if cfn.regions else DEFAULT_REGION
        required = list(self.config["required_tags"])
        found = []
        for name, resource in sorted((cfn.template.get("Resources") or {}).items()):
            if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
                continue
            prop = _tag_property(region, resource["Type"])
            if prop is None:
                continue
            properties = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
            path = ["Resources", name, "Properties", prop] if prop in properties else ["Resources", name]
            for branch in c.branches(properties.get(prop)):
                tags = _tags(branch) if branch is not None else {}
                if tags is None:
                    found.append(c.match(path, f"{name}: {prop} cannot be read; write them literally"))
                    continue
                missing = [k for k in required if not c.is_present(tags.get(k))]
                if missing:
                    respelled = [t for t in tags if t not in required and t.lower() in {k.lower() for k in missing}]
                    hint = (
                        f"; {', '.join(respelled)} is spelled differently (cost reports treat "
                        "tag keys case-sensitively)"
                        if respelled
                        else ""
                    )
                    found.append(
                        c.match(
                            path,
                            f"{name}: {prop} lacks required tag(s) {', '.join(missing)} "
                            f"(required: {', '.join(required)}){hint}",
                        )
                    )
        return found

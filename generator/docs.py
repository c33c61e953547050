"""Reference pages for every template, written from the troposphere Template objects.

Per template: a Markdown page (parameters with their groups and constraints, the resource
inventory with the properties a reviewer looks for first, outputs) and an SVG diagram of the
resources and their references. The SVG is laid out here, in plain Python, so the bytes depend on
the templates only (no graphviz version in the loop) and `docs --check` can compare them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

from generator import __version__, render
from generator.config import Config

DOCS_DIR = "docs/templates"
# Properties that name a resource or choose its key: what a review of the inventory looks for.
NAME_PROPERTY = re.compile(r"(^|[a-z])Name$")
KEY_PROPERTY = re.compile(r"^(KmsKeyId|KMSMasterKeyID|KmsMasterKeyId|EncryptionKey|KmsKeyArn|TargetKeyId)$")
SUB_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


# ---- reading the template -------------------------------------------------------------------


def _short(value) -> str:
    """One-line rendering of a property value with intrinsics in short form."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return f"!Ref {argument}"
        if name == "Fn::GetAtt":
            return "!GetAtt " + (".".join(argument) if isinstance(argument, list) else str(argument))
        if name == "Fn::Sub":
            return "!Sub " + (argument[0] if isinstance(argument, list) else argument)
        if name == "Fn::If":
            return f"!If {argument[0]} ({_short(argument[1])} / {_short(argument[2])})"
        if name.startswith("Fn::"):
            return f"!{name[4:]} …"
    if isinstance(value, (dict, list)):
        return "…"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _walk(value, path=()):
    """(path, value) for every node of a JSON-like tree."""
    yield path, value
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _walk(value[key], path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, path + (index,))


def references(resource: dict, resource_ids: set[str]) -> dict[str, set[str]]:
    """Referenced logical id -> kinds of reference (Ref, GetAtt, Sub, DependsOn)."""
    found: dict[str, set[str]] = {}

    def add(target: str, kind: str) -> None:
        if target in resource_ids:
            found.setdefault(target, set()).add(kind)

    for _, node in _walk({k: v for k, v in resource.items() if k != "DependsOn"}):
        if not isinstance(node, dict) or len(node) != 1:
            continue
        ((name, argument),) = node.items()
        if name == "Ref" and isinstance(argument, str):
            add(argument, "Ref")
        elif name == "Fn::GetAtt":
            target = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
            add(target, "GetAtt")
        elif name == "Fn::Sub":
            text = argument[0] if isinstance(argument, list) else argument
            for variable in SUB_VARIABLE.findall(text if isinstance(text, str) else ""):
                add(variable, "Sub")
    depends = resource.get("DependsOn", [])
    for target in [depends] if isinstance(depends, str) else depends:
        add(target, "DependsOn")
    return found


def key_properties(resource: dict) -> list[str]:
    properties = resource.get("Properties", {})
    shown = [f"{k}: {_short(v)}" for k, v in sorted(properties.items()) if NAME_PROPERTY.search(k)]
    for path, node in _walk(properties):
        if path and isinstance(path[-1], str) and KEY_PROPERTY.match(path[-1]):
            shown.append(f"{'.'.join(map(str, path))}: {_short(node)}")
    if "Condition" in resource:
        shown.append(f"Condition: {resource['Condition']}")
    for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
        if attribute in resource:
            shown.append(f"{attribute}: {resource[attribute]}")
    return shown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text else ""


def _groups(template: dict) -> dict[str, str]:
    interface = template.get("Metadata", {}).get("AWS::CloudFormation::Interface", {})
    return {
        name: group["Label"]["default"]
        for group in interface.get("ParameterGroups", [])
        for name in group.get("Parameters", [])
    }


def _allowed(spec: dict) -> str:
    parts = []
    if "AllowedValues" in spec:
        parts.append(", ".join(_code(str(v)) for v in spec["AllowedValues"]))
    if "AllowedPattern" in spec:
        parts.append(_code(spec["AllowedPattern"]))
    for bound in ("MinLength", "MaxLength", "MinValue", "MaxValue"):
        if bound in spec:
            parts.append(f"{bound} {spec[bound]}")
    return "; ".join(parts)


def page(target: render.Target, template: dict) -> str:
    """The Markdown page of one template."""
    name = target.file_name
    resource_ids = set(template.get("Resources", {}))
    lines = [
        f"# `{name}`",
        "",
        f"Written by `mlops-templates docs` (sagemaker-secure-project {__version__}) from "
        f"`{target.module.replace('.', '/')}.py`; the template is `{target.path}`. "
        "Do not edit: run `make docs`.",
        "",
    ]
    if template.get("Description"):
        lines += [_cell(template["Description"]), ""]
    groups = _groups(template)
    lines += ["## Parameters", ""]
    parameters = template.get("Parameters", {})
    if parameters:
        lines += [
            "| Name | Type | Default | Allowed | Description | Group |",
            "|---|---|---|---|---|---|",
        ]
        # The console's order: by parameter group, then any ungrouped ones by name.
        order = list(groups) + sorted(set(parameters) - set(groups))
        for pname in order:
            spec = parameters[pname]
            default = _code(str(spec["Default"])) if "Default" in spec else "*(required)*"
            if spec.get("Default") == "":
                default = "*(empty)*"
            lines.append(
                f"| `{pname}` | {spec.get('Type', '')} | {default} | {_allowed(spec)} | "
                f"{_cell(spec.get('Description', ''))} | {_cell(groups.get(pname, ''))} |"
            )
    else:
        lines.append("None.")
    lines += ["", "## Resources", "", "| Logical ID | Type | Key properties | References |", "|---|---|---|---|"]
    for logical_id in sorted(resource_ids):
        resource = template["Resources"][logical_id]
        refs = references(resource, resource_ids)
        lines.append(
            f"| `{logical_id}` | {resource['Type']} | "
            + "<br>".join(_code(p) for p in key_properties(resource))
            + " | "
            + ", ".join(f"`{t}` ({'/'.join(sorted(k))})" for t, k in sorted(refs.items()))
            + " |"
        )
    outputs = template.get("Outputs", {})
    if outputs:
        lines += ["", "## Outputs", "", "| Name | Value | Description |", "|---|---|---|"]
        for oname in sorted(outputs):
            spec = outputs[oname]
            lines.append(f"| `{oname}` | {_code(_short(spec.get('Value')))} | {_cell(spec.get('Description', ''))} |")
    lines += [
        "",
        "## Diagram",
        "",
        "Arrows point from a resource to the resources it references "
        "(solid: `Ref`/`GetAtt`/`Sub`; dashed: `DependsOn` only).",
        "",
        f"![Resources of {name} and their references]({target.name}.svg)",
        "",
    ]
    return "\n".join(lines)


# ---- the diagram ----------------------------------------------------------------------------

CHAR_WIDTH = 7.0  # 11 px monospace, with room for wider fallback fonts
ROW_GAP, COLUMN_GAP, BOX_HEIGHT, MARGIN, PER_ROW = 70, 24, 40, 24, 5
SERVICE_COLOURS = {
    "IAM": "#fde2e2",
    "KMS": "#fff3c4",
    "S3": "#dff5e1",
    "SSM": "#e8e4f8",
    "ServiceCatalog": "#dcecfb",
    "SageMaker": "#d7f3f0",
    "CodeCommit": "#f3e6d8",
    "CodeBuild": "#f3e6d8",
    "CodePipeline": "#f3e6d8",
    "Events": "#ececec",
    "SNS": "#fbe3f1",
    "ApplicationAutoScaling": "#e3f0d3",
    "CloudWatch": "#ececec",
}


@dataclass
class Box:
    logical_id: str
    label: str
    x: float = 0
    y: float = 0

    @property
    def width(self) -> float:
        return round(max(len(self.logical_id), len(self.label)) * CHAR_WIDTH + 16)


def _layers(edges: dict[str, set[str]], nodes: list[str]) -> list[list[str]]:
    """Longest-path layering: a resource sits one layer below everything it references."""
    depth: dict[str, int] = {}
    for _ in range(len(nodes) + 1):  # a DAG settles in at most len(nodes) rounds
        changed = False
        for node in nodes:
            value = 1 + max((depth.get(t, 0) for t in edges.get(node, ())), default=-1)
            if depth.get(node) != value:
                depth[node], changed = value, True
        if not changed:
            break
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in nodes:
        layers[depth[node]].append(node)
    return layers


def _order(layers: list[list[str]], edges: dict[str, set[str]]) -> list[list[str]]:
    """Barycentre ordering: each resource near the middle of what it references (ties by name)."""
    position: dict[str, float] = {}
    ordered = []
    for layer in layers:

        def weight(node: str) -> tuple[float, str]:
            above = [position[t] for t in edges.get(node, ()) if t in position]
            return (sum(above) / len(above) if above else float("inf"), node)

        layer = sorted(layer, key=weight)
        for index, node in enumerate(layer):
            position[node] = index - (len(layer) - 1) / 2
        ordered.append(layer)
    return ordered


def diagram(template: dict, title: str) -> str:
    resources = template.get("Resources", {})
    nodes = sorted(resources)
    refs = {n: references(resources[n], set(nodes)) for n in nodes}
    edges = {n: set(refs[n]) for n in nodes}
    boxes = {n: Box(n, resources[n]["Type"].removeprefix("AWS::")) for n in nodes}
    rows: list[list[str]] = []
    for layer in _order(_layers(edges, nodes), edges):
        rows += [layer[i : i + PER_ROW] for i in range(0, len(layer), PER_ROW)]
    widths = [sum(boxes[n].width for n in row) + COLUMN_GAP * (len(row) - 1) for row in rows]
    canvas = max(widths, default=200) + 2 * MARGIN
    top = MARGIN + 24
    for r, row in enumerate(rows):
        x = (canvas - widths[r]) / 2
        for node in row:
            boxes[node].x, boxes[node].y = round(x), top + r * (BOX_HEIGHT + ROW_GAP)
            x += boxes[node].width + COLUMN_GAP
    height = top + len(rows) * (BOX_HEIGHT + ROW_GAP) - ROW_GAP + MARGIN + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{canvas}" height="{height}" '
        f'viewBox="0 0 {canvas} {height}" font-family="monospace" font-size="11">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#555"/></marker></defs>',
        f'<rect width="{canvas}" height="{height}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 4}" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for source in nodes:
        for target in sorted(edges[source]):
            a, b = boxes[source], boxes[target]
            x1, y1 = a.x + a.width / 2, a.y
            x2, y2 = b.x + b.width / 2, b.y + BOX_HEIGHT
            if y2 > y1:  # same row (never for a DAG layering), keep the arrow visible
                y1, y2 = a.y + BOX_HEIGHT, b.y
            middle = (y1 + y2) / 2
            dash = ' stroke-dasharray="5,4"' if refs[source][target] == {"DependsOn"} else ""
            out.append(
                f'<path d="M {x1:.1f} {y1:.1f} C {x1:.1f} {middle:.1f} {x2:.1f} {middle:.1f} '
                f'{x2:.1f} {y2:.1f}" fill="none" stroke="#555" stroke-width="1"{dash} '
                f'marker-end="url(#arrow)"><title>{escape(source)} → {escape(target)} '
                f"({'/'.join(sorted(refs[source][target]))})</title></path>"
            )
    for node in nodes:
        box = boxes[node]
        colour = SERVICE_COLOURS.get(box.label.split("::")[0], "#f4f4f4")
        out += [
            f"<g><title>{escape(node)} ({escape(resources[node]['Type'])})</title>",
            f'<rect x="{box.x}" y="{box.y}" width="{box.width}" height="{BOX_HEIGHT}" rx="5" '
            f'fill="{colour}" stroke="#333"/>',
            f'<text x="{box.x + box.width / 2:.1f}" y="{box.y + 16}" text-anchor="middle" '
            f'font-weight="bold">{escape(node)}</text>',
            f'<text x="{box.x + box.width / 2:.1f}" y="{box.y + 31}" text-anchor="middle" '
            f'fill="#444">{escape(box.label)}</text></g>',
        ]
    out += [
        f'<text x="{MARGIN}" y="{height - MARGIN + 6}" fill="#444">arrow: references '
        "(solid Ref/GetAtt/Sub, dashed DependsOn only)</text>",
        "</svg>",
        "",
    ]
    return "\n".join(out)


# ---- the set of files -----------------------------------------------------------------------


def index(targets: list[render.Target]) -> str:
    lines = [
        "# Template reference",
        "",
        "Generated by `mlops-templates docs` from the generator's Template objects; "
        "run `make docs` after changing the generator (a test fails when these pages are stale).",
        "",
        "| Template | File | Page | Diagram |",
        "|---|---|---|---|",
    ]
    for target in targets:
        lines.append(
            f"| {target.name} | `{target.path}` | [{target.name}.md]({target.name}.md) | "
            f"[{target.name}.svg]({target.name}.svg) |"
        )
    return "\n".join(lines + [""])


def generate(config: Config) -> dict[str, str]:
    """Relative path under docs/templates/ -> content, for every page and diagram."""
    targets = list(render.TARGETS)
    files = {"README.md": index(targets)}
    for target in targets:
        template = target.build(config).to_dict()
        files[f"{target.name}.md"] = page(target, template)
        files[f"{target.name}.svg"] = diagram(template, target.file_name)
    return files


def differences(directory: Path, files: dict[str, str]) -> list[str]:
    """What differs between `directory` and the generated files (missing, changed, extra)."""
    present = {p.name for p in directory.glob("*") if p.is_file()} if directory.is_dir() else set()
    found = [f"missing {name}" for name in sorted(set(files) - present)]
    found += [
        f"changed {name}"
        for name in sorted(set(files) & present)
        if (directory / name).read_text(encoding="utf-8") != files[name]
    ]
    found += [f"extra {name}" for name in sorted(present - set(files))]
    return found


def write(directory: Path, files: dict[str, str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in sorted(set(p.name for p in directory.glob("*") if p.is_file()) - set(files)):
        (directory / stale).unlink()
    written = []
    for name, text in sorted(files.items()):
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            written.append(path)
    return written

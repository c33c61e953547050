"""The outcome of a verify run as a table on the terminal, and the same as JSON and Markdown files.

The files are what a user attaches to a bug report: `verify-<run id>.json` and `.md`.
"""

from __future__ import annotations

import json
from pathlib import Path

from generator.errors import UserError
from generator.verify.engine import Result

COLUMNS = ("step", "result", "seconds", "evidence")


def _cells(row: Result) -> tuple[str, str, str, str]:
    return row.step, row.result, f"{row.seconds:.0f}", row.evidence


def table(results: list[Result]) -> str:
    rows = [COLUMNS, *(_cells(r) for r in results)]
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    return "\n".join(
        f"{step:<{widths[0]}}  {result:<{widths[1]}}  {seconds:>{widths[2]}}  {evidence}".rstrip()
        for step, result, seconds, evidence in rows
    )


def to_json(meta: dict, results: list[Result]) -> str:
    body = {
        **meta,
        "steps": [dict(zip(COLUMNS, (r.step, r.result, r.seconds, r.evidence), strict=True)) for r in results],
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(meta: dict, results: list[Result]) -> str:
    lines = [f"# mlops-templates verify run {meta['run_id']}", ""]
    lines += [f"- {key}: {_escape(str(meta[key]))}" for key in sorted(meta) if key != "run_id"]
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|---|---|---:|---|"]
    lines += ["| " + " | ".join(_escape(cell) for cell in _cells(r)) + " |" for r in results]
    return "\n".join(lines) + "\n"


def write(directory: Path, meta: dict, results: list[Result]) -> list[Path]:
    """Writes `verify-<run id>.json` and `.md` into `directory`; returns their paths."""
    stem = directory / f"verify-{meta['run_id']}"
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for suffix, text in ((".json", to_json(meta, results)), (".md", to_markdown(meta, results))):
            path = stem.with_suffix(suffix)
            staged = path.with_name(path.name + ".tmp")
            staged.write_text(text, encoding="utf-8")
            staged.replace(path)
            written.append(path)
    except OSError as error:
        raise UserError(
            f"cannot write the report under {directory} ({error.strerror}); give a writable --report-dir"
        ) from error
    return written

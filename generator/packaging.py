"""Release artifacts in `dist/`: the templates, the seed-code zips and `SHA256SUMS`.

`dist/` mirrors the S3 layout under the published prefix (`<prefix>/<path in dist>`), so what a
GitHub release attaches and what `publish` uploads are the same bytes.

Zips are reproducible: entries sorted, timestamps fixed at 1980-01-01 (the earliest a zip can
store), permissions fixed, no build caches or virtual environments, so two runs on the same
checkout give identical bytes and a checksum changes only when the content does.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from generator import naming, render
from generator.config import Config
from generator.errors import UserError

SEED_CODE_DIRS = {name: f"seed_code/{name}" for name in naming.SEED_CODE_KEYS}
CHECKSUMS_FILE = "SHA256SUMS"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
DIR_MODE = 0o755

# Directory and file names that are local state, never seed code.
EXCLUDED_DIRS = {
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".ipynb_checkpoints",
    ".git",
    ".venv",
    "venv",
    ".tox",
    "node_modules",
}
EXCLUDED_FILES = {".DS_Store"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def _excluded_dir(path: Path) -> bool:
    # A virtual environment is recognised by its marker file, whatever it is called.
    return path.name in EXCLUDED_DIRS or path.name.endswith(".egg-info") or (path / "pyvenv.cfg").is_file()


def _excluded_file(path: Path) -> bool:
    return path.name in EXCLUDED_FILES or path.name.endswith(EXCLUDED_SUFFIXES)


def seed_files(source: Path) -> tuple[list[str], list[str]]:
    """(directories, files) under `source` that belong in its zip, as sorted POSIX paths.

    Directories are those holding a packaged file: git does not track empty directories, so
    listing them would make the zip depend on the checkout's local leftovers.
    """
    if not source.is_dir():
        raise UserError(f"{source}: seed code directory not found; expected seed_code/<name>/")
    files: list[str] = []
    for current, subdirs, names in os.walk(source):
        here = Path(current)
        subdirs[:] = sorted(d for d in subdirs if not _excluded_dir(here / d))
        for d in subdirs:
            if (here / d).is_symlink():
                raise UserError(f"{here / d}: symbolic links are not packaged; copy the directory in")
        for name in names:
            path = here / name
            if _excluded_file(path):
                continue
            if path.is_symlink() or not path.is_file():
                raise UserError(f"{path}: only regular files are packaged (no links or devices)")
            files.append(path.relative_to(source).as_posix())
    directories = {"/".join(parts[:i]) + "/" for parts in (f.split("/") for f in files) for i in range(1, len(parts))}
    return sorted(directories), sorted(files)


def zip_bytes(source: Path, overrides: dict[str, bytes] | None = None) -> bytes:
    """The reproducible zip of one seed-code directory; `overrides` (path in the zip -> bytes)
    replace or add generated files (a configured build's endpoint template)."""
    overrides = overrides or {}
    directories, files = seed_files(source)
    if overrides:
        files = sorted(set(files) | set(overrides))
        parents = {"/".join(p[:i]) + "/" for p in (f.split("/") for f in overrides) for i in range(1, len(p))}
        directories = sorted(set(directories) | parents)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(directories + files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix: external_attr carries POSIX modes
            if name.endswith("/"):
                info.external_attr = ((stat.S_IFDIR | DIR_MODE) << 16) | 0x10  # MS-DOS dir bit
                archive.writestr(info, b"")
            else:
                info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                data = overrides[name] if name in overrides else (source / name).read_bytes()
                archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


@dataclass(frozen=True)
class Artifact:
    """One release file: its path relative to `dist/` (= its key under the published prefix)."""

    path: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def template_targets(config: Config) -> list[render.Target]:
    """Templates released on their own (the endpoint template ships inside the deploy zip)."""
    return [t for t in render.targets(config) if not t.path.startswith("seed_code/")]


def _generated_seed_files(root: Path, config: Config, name: str) -> dict[str, bytes]:
    """Generated files (under `root`) that belong in seed directory `name`, by path in its zip."""
    prefix = SEED_CODE_DIRS[name] + "/"
    return {
        t.path.removeprefix(prefix): (root / t.path).read_bytes()
        for t in render.targets(config)
        if t.path.startswith(prefix)
    }


def stale_templates(root: Path, config: Config) -> list[str]:
    """Generated files on disk that differ from what the generator renders now."""
    stale = []
    for target, text in render.render_all(config).items():
        path = root / target.path
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(target.path)
    return stale


def artifacts(root: Path, config: Config, fix: str = "make build", seed_root: Path | None = None) -> list[Artifact]:
    """Every release file, sorted by path; refuses when the generated templates are stale.

    The templates come from `root` (the repository, or a configuration's build folder), the seed
    code from `seed_root` (the repository) with the generated files of `root` in place of its own.
    `fix` is the command that rebuilds `root` (it names the configuration).
    """
    stale = stale_templates(root, config)
    if stale:
        raise UserError(f"generated files out of date with the generator: {', '.join(stale)}; run `{fix}` first")
    seed_root = render.ROOT if seed_root is None else seed_root
    found = [Artifact(t.file_name, (root / t.path).read_bytes()) for t in template_targets(config)]
    for name, key in naming.SEED_CODE_KEYS.items():
        generated = _generated_seed_files(root, config, name)
        found.append(Artifact(key, zip_bytes(seed_root / SEED_CODE_DIRS[name], generated)))
    return sorted(found, key=lambda a: a.path)


def checksums(items: list[Artifact]) -> bytes:
    """`sha256sum` format (two spaces, text mode), so `sha256sum -c SHA256SUMS` verifies dist/."""
    return "".join(f"{a.sha256}  {a.path}\n" for a in sorted(items, key=lambda a: a.path)).encode()


def write_dist(dist: Path, items: list[Artifact]) -> list[Path]:
    """Write the artifacts and SHA256SUMS; each file replaced atomically with mode 0644."""
    everything = items + [Artifact(CHECKSUMS_FILE, checksums(items))]
    written = []
    for item in everything:
        destination = dist / item.path
        destination.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp")
        temporary = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(item.data)
            os.chmod(temporary, FILE_MODE)
            os.replace(temporary, destination)
        finally:
            temporary.unlink(missing_ok=True)
        written.append(destination)
    return written


def read_dist(dist: Path, fix: str = "mlops-templates package") -> list[Artifact]:
    """The artifacts listed in dist/SHA256SUMS, each verified against its checksum; `fix` is the
    command that packages dist/ again."""
    sums = dist / CHECKSUMS_FILE
    if not sums.is_file():
        raise UserError(f"{sums} not found; run `{fix}` first")
    items = []
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or name.startswith("/") or ".." in name.split("/"):
            raise UserError(f"{sums}:{number}: not a `sha256sum` line; run `{fix}` again")
        path = dist / name
        if not path.is_file():
            raise UserError(f"{path} listed in {sums} is missing; run `{fix}` again")
        item = Artifact(name, path.read_bytes())
        if item.sha256 != digest:
            raise UserError(f"{path} does not match {sums}; run `{fix}` again")
        items.append(item)
    return items

"""One release folder per configuration: `build/<config stem>/`, never the committed defaults.

Without `--config` the release is the repository itself (`templates_out/`, `docs/templates/`,
`dist/`), as the golden tests expect. With `--config org.yaml` every command reads and writes
`build/org/`: the templates, the endpoint template, the docs, `dist/` (seed zips, SHA256SUMS) and
`release.json`, which records a hash of the loaded configuration (canonical JSON of
`Config.model_dump()`, so comments and key order in the YAML do not matter) next to a copy of the
file. `package` and `publish` compare that hash with the configuration they are given and refuse a
folder built from another one, with the `make` command that rebuilds it for this configuration.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from generator import __version__, render
from generator.config import Config
from generator.errors import UserError

BUILD_DIR = "build"
MANIFEST = "release.json"
CONFIG_COPY = "config.yaml"
DIST_DIR = "dist"


def config_hash(config: Config) -> str:
    """sha256 of the configuration as loaded (defaults filled in), stable across YAML spellings."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Release:
    """Where one configuration's release lives and how to rebuild it."""

    config: Config
    config_path: Path | None = None

    @property
    def is_default(self) -> bool:
        return self.config_path is None

    @property
    def root(self) -> Path:
        """Root of the generated files (templates_out/, seed_code/, docs/templates/)."""
        if self.config_path is None:
            return render.ROOT
        return render.ROOT / BUILD_DIR / Path(self.config_path).stem

    @property
    def dist(self) -> Path:
        return self.root / DIST_DIR

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def make(self, target: str) -> str:
        """The `make` command that runs `target` for this configuration."""
        if self.config_path is None:
            return f"make {target}"
        return f"make {target} CONFIG={shlex.quote(str(self.config_path))}"

    def manifest(self, texts: dict[str, str]) -> dict:
        """The record a build leaves: which configuration, which generator, which files."""
        return {
            "config": CONFIG_COPY,
            "config_sha256": config_hash(self.config),
            "generator_version": __version__,
            "files": {path: _sha256(text.encode()) for path, text in sorted(texts.items())},
        }

    def extra_files(self, texts: dict[str, str]) -> dict[str, str]:
        """Files a configured build writes beside the templates: the manifest and the config copy."""
        if self.config_path is None:
            return {}
        try:
            copy = Path(self.config_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"config file {self.config_path}: cannot read it ({error.__class__.__name__})") from error
        return {CONFIG_COPY: copy, MANIFEST: manifest_text(self.manifest(texts))}

    def check_folder(self) -> dict:
        """The manifest of this configuration's folder, or a UserError naming the fixing command."""
        if self.config_path is None:
            return {}
        fix = f"run `{self.make('build')}`"
        if not self.root.is_dir():
            raise UserError(f"{self.root} not found: nothing was built for {self.config_path}; {fix} first")
        recorded = read_manifest(self.manifest_path, fix)
        self.check_hash(recorded, self.manifest_path, fix)
        return recorded

    def check_hash(self, recorded: dict, where: Path, fix: str) -> None:
        if recorded.get("config_sha256") != config_hash(self.config):
            raise UserError(
                f"{where} was built from another configuration than {self.config_path} "
                f"(recorded config hash {str(recorded.get('config_sha256'))[:12]}, this one "
                f"{config_hash(self.config)[:12]}); {fix}"
            )


def manifest_text(manifest: dict) -> str:
    return json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=True) + "\n"


def read_manifest(path: Path, fix: str) -> dict:
    """A manifest as written by `build`, or a UserError with `fix`."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise UserError(f"{path} not found: the folder holds no finished build; {fix}") from error
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UserError(f"{path} is unreadable ({error.__class__.__name__}); {fix}") from error
    if not isinstance(recorded, dict) or not isinstance(recorded.get("config_sha256"), str):
        raise UserError(f"{path} records no config_sha256; {fix}")
    return recorded


def _built(release: Release) -> dict | None:
    """The build folder's manifest if it was built from this configuration, else None."""
    try:
        recorded = json.loads(release.manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    ok = isinstance(recorded, dict) and recorded.get("config_sha256") == config_hash(release.config)
    return recorded if ok else None


def check_dist(release: Release, dist: Path) -> None:
    """Refuse a dist/ packaged for another configuration than `release`'s (or not packaged by us)."""
    recorded_path = dist / MANIFEST
    if release.config_path is None:
        # The default dist/ carries no manifest; one that does was packaged for a --config.
        if recorded_path.is_file():
            raise UserError(
                f"{dist} was packaged for a --config release ({recorded_path} exists), not the defaults; "
                f"pass that --config, or run `{release.make('package')}`"
            )
        return
    built = _built(release)
    # When the build folder is stale too, packaging again would only be refused in turn.
    fix = (
        f"run `{release.make('package')}`"
        if built is not None
        else f"run `{release.make('build')} && {release.make('package')}`"
    )
    if not dist.is_dir():
        raise UserError(f"{dist} not found: nothing was packaged for {release.config_path}; {fix} first")
    recorded = read_manifest(recorded_path, fix)
    release.check_hash(recorded, recorded_path, fix)
    if built is not None and built != recorded:
        raise UserError(f"{dist} is older than the build in {release.root} (manifests differ); {fix}")

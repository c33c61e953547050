"""The organisation's choices: one typed object every template reads from.

Defaults build the templates committed in ``templates_out/``. An optional YAML file
(``--config org.yaml``) overrides any field; every invalid value is refused with a
one-line message naming the field and what is allowed.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from generator.errors import UserError

# SageMaker project names: letter first, letters/digits joined by single hyphens, at most 32.
PROJECT_NAME_MAX = 32
SUFFIX_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NAMESPACE_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# IAM condition keys and SageMaker tag keys share this alphabet; keeping it narrow keeps the
# keys usable verbatim in `aws:RequestTag/<key>` and in environment variable JSON.
TAG_KEY_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.:/=+@-]{0,127}$")
TAG_VALUE_RE = re.compile(r"^[a-zA-Z0-9_.:/=+@ -]{1,256}$")
INSTANCE_TYPE_RE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# Families with local NVMe instance storage ("Host instance storage volumes" of the SageMaker
# developer guide): SageMaker refuses a volume key for them, and the roles' guardrail requires
# one. The `d` families (m5d, c5d, r5d, g4dn, p3dn, p4d, p4de) and the GPU/accelerator families
# that always carry local storage.
# P6 families are written with a hyphen (ml.p6-b200.48xlarge); they carry local storage too.
LOCAL_STORAGE_FAMILY_RE = re.compile(
    r"^([a-z]+\d+[a-z]*d[a-z]?|g5|g6|g6e|gr6|p5|p5e|p5en|p6e?(-[a-z0-9]+)?|trn1|trn1n|trn2|trn2u)$"
)

# CodeCommit, CodeBuild, CodePipeline and SageMaker Projects are all available in these
# regions; cfn-lint checks every template against each of them (CodeCommit is missing from
# many newer regions, which is why the list is explicit).
DEFAULT_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
)
RESERVED_TAG_PREFIXES = ("aws:", "sagemaker:")

# Checks of a whole configuration owned by the modules above this one, which register them when
# they are imported: `naming.names_too_long` (every name derived from namespace and suffix fits
# its service's limit). Each returns a one-line problem, or None. Config imports nothing of the
# generator but errors, so the modules that read it can import it without a cycle.
WHOLE_CHECKS: list[Callable[[Config], str | None]] = []


def whole_check(check: Callable[[Config], str | None]) -> Callable[[Config], str | None]:
    """Register `check` to run on every Config built from now on (a decorator)."""
    if check not in WHOLE_CHECKS:
        WHOLE_CHECKS.append(check)
    return check


class EndpointKind(StrEnum):
    ASYNC = "async"
    REALTIME = "realtime"


class SourceProvider(StrEnum):
    """Where the project's model build and deploy code lives."""

    # Repositories the project template creates and seeds. Since July 2024 CodeCommit refuses
    # to create repositories in accounts that never had one.
    CODECOMMIT = "codecommit"
    # The team's own GitHub, GitLab or Bitbucket repositories, read through an AWS
    # CodeConnections connection the platform team creates once per account and region.
    CODECONNECTIONS = "codeconnections"


def _check_tag_key(key: str) -> str:
    if not TAG_KEY_RE.match(key):
        raise ValueError("must start with a letter and use letters, digits and _.:/=+@- (at most 128)")
    if key.lower().startswith(RESERVED_TAG_PREFIXES):
        raise ValueError("must not start with the reserved prefixes aws: or sagemaker:")
    return key


def _check_tag_value(value: str) -> str:
    if not TAG_VALUE_RE.match(value):
        raise ValueError("must be 1-256 of letters, digits, spaces and _.:/=+@-")
    return value


TagKey = Annotated[str, AfterValidator(_check_tag_key)]
TagValue = Annotated[str, AfterValidator(_check_tag_value)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequiredTag(_Strict):
    """A tag every SageMaker create the project makes must carry, and the roles enforce."""

    key: TagKey
    # When set, the guardrail also refuses any value outside this list.
    allowed_values: tuple[TagValue, ...] | None = None
    # Value the project template offers by default; None makes the Studio form ask for it.
    default: TagValue | None = None

    @model_validator(mode="after")
    def _default_is_allowed(self) -> RequiredTag:
        if self.allowed_values is not None:
            if not self.allowed_values:
                raise ValueError("allowed_values must list at least one value, or be omitted")
            if self.default is not None and self.default not in self.allowed_values:
                raise ValueError(f"default {self.default!r} is not one of allowed_values {list(self.allowed_values)}")
        return self


class InstanceTypes(_Strict):
    processing: str = "ml.m5.xlarge"
    training: str = "ml.m5.xlarge"
    endpoint: str = "ml.m5.large"

    @field_validator("processing", "training", "endpoint")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        family = value.split(".")[1] if value.count(".") == 2 else ""
        # Before the shape: `ML.G5.xlarge` is still a type the README rules out, say so.
        if LOCAL_STORAGE_FAMILY_RE.match(family.lower()):
            raise ValueError(
                f"{value} has local NVMe instance storage, which SageMaker cannot encrypt with the "
                "volume key every job and endpoint must name; use a family without it, for "
                "example ml.m5, ml.c5 or ml.r5"
            )
        if not INSTANCE_TYPE_RE.match(value):
            raise ValueError("must look like ml.<family>.<size>, for example ml.m5.xlarge")
        return value


# AWS's accounts that publish SageMaker's built-in images, per region (the SDK's table): the
# regions a project can run in. tests/test_config.py keeps them inside cfn-lint's regions (the
# gate lints each); reading this file instead of importing cfn-lint keeps a cached build fast.
SAGEMAKER_IMAGE_ACCOUNTS_FILE = Path(__file__).parent / "data" / "sagemaker_image_accounts.json"


@functools.cache
def sagemaker_regions() -> tuple[str, ...]:
    return tuple(sorted(json.loads(SAGEMAKER_IMAGE_ACCOUNTS_FILE.read_text(encoding="utf-8"))["accounts"]))


def _closest(region: str, known: Iterable[str]) -> str:
    """The few known regions nearest to a mistyped one (a typo, the wrong case, a zone)."""
    names = sorted(known)
    close = difflib.get_close_matches(region.lower(), names, n=3, cutoff=0.6)
    if close:
        return f"did you mean {' or '.join(close)}?"
    return f"regions look like us-east-1 or eu-west-1 (the gate knows {len(names)})"


class Config(_Strict):
    """Everything an organisation may choose. Field order is the order of the docs."""

    # Project names must end in `-<suffix>`; the roles only act on resources carrying it.
    project_suffix: str = "custom-project"
    # Keeps two deployments (teams) in one account apart: role, alias and parameter names.
    namespace: str = "mlops"
    required_tags: tuple[RequiredTag, ...] = (
        RequiredTag(key="project"),
        RequiredTag(key="env", allowed_values=("dev", "test", "prod"), default="dev"),
    )
    regions: tuple[str, ...] = DEFAULT_REGIONS
    endpoint_kind: EndpointKind = EndpointKind.ASYNC
    source_provider: SourceProvider = SourceProvider.CODECOMMIT
    instance_types: InstanceTypes = InstanceTypes()
    # Service Catalog provisioning artifact name shown in Studio.
    product_version: str = "v1.0"
    # The artifact bucket is versioned; replaced and deleted object versions expire after this
    # many days (S3 lifecycle NoncurrentVersionExpiration), so old data does not pile up forever.
    noncurrent_version_expiration_days: int = 30

    @field_validator("noncurrent_version_expiration_days", mode="before")
    @classmethod
    def _expiration(cls, value: object) -> int:
        # Before pydantic's coercion: YAML `true` would otherwise become 1 day, "30" a number.
        if type(value) is not int or not 1 <= value <= 3650:
            raise ValueError("must be a whole number of days from 1 to 3650")
        return value

    @field_validator("project_suffix")
    @classmethod
    def _suffix(cls, value: str) -> str:
        if not SUFFIX_RE.match(value):
            raise ValueError("must be lowercase letters and digits joined by single hyphens")
        # `a-<suffix>` must still fit SageMaker's 32-character project name.
        if len(value) > PROJECT_NAME_MAX - 2:
            raise ValueError(f"must be at most {PROJECT_NAME_MAX - 2} characters")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not NAMESPACE_RE.match(value) or len(value) > 20:
            raise ValueError("must be 1-20 lowercase letters and digits joined by single hyphens, letter first")
        return value

    @field_validator("required_tags")
    @classmethod
    def _tags(cls, value: tuple[RequiredTag, ...]) -> tuple[RequiredTag, ...]:
        if not value:
            raise ValueError("must list at least one tag")
        keys = [tag.key.lower() for tag in value]
        if len(set(keys)) != len(keys):
            raise ValueError("keys must be unique, ignoring case (AWS compares tag keys that way)")
        if len(value) > 10:
            raise ValueError("must list at most 10 tags")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must list at least one region")
        known = sagemaker_regions()
        for region in value:
            if region not in known:
                raise ValueError(f"{region!r} is not a region the gate knows; {_closest(region, known)}")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a region")
        return value

    @field_validator("product_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.match(r"^v\d+(\.\d+){0,2}$", value):
            raise ValueError("must look like v1.0")
        return value

    @model_validator(mode="after")
    def _whole_checks(self) -> Config:
        # Checks that need the names derived from the configuration (naming.py, which imports
        # this module): refuse a namespace and suffix that would overflow a service limit here,
        # rather than at deploy time.
        for check in WHOLE_CHECKS:
            problem = check(self)
            if problem:
                raise ValueError(problem)
        return self

    @property
    def tag_keys(self) -> tuple[str, ...]:
        return tuple(tag.key for tag in self.required_tags)

    @property
    def uses_codecommit(self) -> bool:
        return self.source_provider is SourceProvider.CODECOMMIT


# What a list field holds, for type errors in the README's words rather than pydantic's.
_ITEMS = {"regions": ("region names", "a region name"), "allowed_values": ("tag values", "a tag value")}
_ENUMS: dict[str, type[StrEnum]] = {"endpoint_kind": EndpointKind, "source_provider": SourceProvider}
_INTEGER_TYPES = {"int_type", "int_parsing", "int_from_float"}
_LIST_TYPES = {"tuple_type", "list_type", "iterable_type"}
_MAPPING_TYPES = {"model_type", "model_attributes_type", "dict_type"}


def _fields_of(loc: tuple) -> str:
    """The settings of the model at `loc`: the whole file, a required tag, the instance types."""
    names = [part for part in loc if isinstance(part, str)]
    model = {"required_tags": RequiredTag, "instance_types": InstanceTypes}.get(names[-1] if names else "", Config)
    return ", ".join(model.model_fields)


def _got(value: object) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if value is None:
        return "nothing (an empty value)"
    return {list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _expected(first: dict) -> str | None:
    """What the field takes, for an error about the input's type; None for other errors."""
    loc, kind = first["loc"], first["type"]
    field = next((part for part in reversed(loc) if isinstance(part, str)), "")
    in_list = bool(loc) and isinstance(loc[-1], int)
    if kind in _LIST_TYPES:
        return f"a list of {_ITEMS.get(field, ('values', ''))[0]}"
    if kind == "string_type":
        return _ITEMS[field][1] if in_list and field in _ITEMS else "text"
    if kind in _INTEGER_TYPES:
        return "a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return "true or false"
    if kind in _MAPPING_TYPES:
        return f"a mapping with {_fields_of(loc)}"
    if first["msg"].startswith("Input should be"):
        return first["msg"].removeprefix("Input should be ").removeprefix("a valid ")
    return None


def _describe(error: ValidationError) -> str:
    """The first problem in the CLI's words: which field, what it takes, what it got."""
    first = error.errors()[0]
    loc = first["loc"]
    field = ".".join(str(part) for part in loc)
    message = first["msg"].removeprefix("Value error, ")
    expected = _expected(first)
    if first["type"] in ("extra_forbidden", "invalid_key"):
        message = f"is not a known setting (allowed: {_fields_of(loc[:-1])})"
    elif first["type"] == "missing":
        message = "is required"
    elif first["type"] == "enum" and loc and loc[-1] in _ENUMS:
        allowed = ", ".join(member.value for member in _ENUMS[loc[-1]])
        message = f"must be one of {allowed}, got {_got(first['input'])}"
    elif expected is not None:
        message = f"expected {expected}, got {_got(first['input'])}"
    return f"config field {field}: {message}" if field else f"config: {message}"


def build_config(values: dict | None = None) -> Config:
    """Config from a mapping, or a UserError naming the first bad field or failed whole check."""
    try:
        return Config.model_validate(values or {})
    except ValidationError as error:
        raise UserError(_describe(error)) from error


def _yaml_problem(path: Path, text: str, error: yaml.YAMLError) -> str:
    """The line a YAML error is on, and what is wrong there, in one line."""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    problem = problem.replace("'<stream end>'", "the end of the file").replace(
        "found unexpected end of stream", "the file ends before it is closed"
    )
    if "<block end>" in problem:
        problem = f"the indentation does not line up with the lines above ({problem})"
    elif "'\\t'" in problem:
        problem = "a tab character: YAML indents with spaces"
    mark, context = getattr(error, "problem_mark", None), getattr(error, "context_mark", None)
    if mark is None:
        return f"config file {path}: not valid YAML: {problem}"
    # At the end of the file the parser points past the last line; the real place is where the
    # unclosed bracket, quote or block began.
    at_end = mark.index >= len(text.rstrip())
    where = context if at_end and context is not None else mark
    detail = f"{problem}"
    if getattr(error, "context", None) and context is not None:
        detail += f" ({error.context} that starts at line {context.line + 1})"
    return f"config file {path}: not valid YAML at line {where.line + 1}, column {where.column + 1}: {detail}"


def load_config(path: Path | None, allow_empty: bool = False) -> Config:
    """Config from an optional YAML file; defaults when no file is given.

    A file that sets nothing is refused unless `allow_empty`: an empty file is more often a
    mistake (wrong file, truncated copy) than a wish for the defaults.
    """
    if path is None:
        return build_config()
    path = Path(path)
    if path.is_dir():
        raise UserError(f"config file {path}: is a directory; give the YAML file (for example {path / 'org.yaml'})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"config file {path}: cannot read it ({error.__class__.__name__})") from error
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(_yaml_problem(path, text, error)) from error
    if values is None or values == {}:
        if not allow_empty:
            raise UserError(
                f"config file {path}: sets nothing (it is empty, only comments or {{}}); "
                "pass --allow-empty to build the defaults from it on purpose"
            )
        values = {}
    if not isinstance(values, dict):
        raise UserError(f"config file {path}: must be a mapping of settings, got {_got(values)}")
    return build_config(values)

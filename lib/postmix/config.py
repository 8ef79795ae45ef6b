"""The pipeline configuration: one YAML file (or CLI flags) validated into typed, frozen parameters.

Each top-level section maps onto the parameters dataclass its stage declares, so a stage's options live in one
place (its own params module). Unknown keys are errors naming the key and the file; local input paths that do not
exist are errors naming the path; relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import copy
import glob
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from postmix.annotate.params import AnnotateParams
from postmix.embed.params import EmbedParams
from postmix.errors import ConfigError
from postmix.mixture.params import MixtureParams
from postmix.report.params import ReportParams
from postmix.select.params import SelectParams
from postmix.semantic.params import SemanticParams
from postmix.ingest.params import IngestParams, SourceSpec
from postmix.params import build_params, fingerprint
from postmix.spark.params import SparkParams

# Sections that do not change what a run computes, so they stay out of the run id.
_NOT_IN_RUN_ID = ("spark", "run_id", "warehouse")
# User names that become part of a path (reports/<run_id>.html, _artifacts/<run_id>/) or of a table row key: a
# plain file-name charset, so no name can climb out of the warehouse (no "/", no leading ".", no "..").
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
SAFE_NAME_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 128 chars, no '..'"


@dataclass(frozen=True)
class PipelineConfig:
    warehouse: str = "warehouse"
    run_id: str | None = None
    spark: SparkParams = field(default_factory=SparkParams)
    sources: tuple[SourceSpec, ...] = ()
    ingest: IngestParams = field(default_factory=IngestParams)
    annotate: AnnotateParams = field(default_factory=AnnotateParams)
    embed: EmbedParams = field(default_factory=EmbedParams)
    semantic: SemanticParams = field(default_factory=SemanticParams)
    select: SelectParams | None = None  # the select stage needs a budget: no default one
    mixture: MixtureParams = field(default_factory=MixtureParams)
    report: ReportParams = field(default_factory=ReportParams)

    @property
    def result_fingerprint(self) -> str:
        """Fingerprint of everything that can change a result: not where it is written, not how Spark runs."""
        return fingerprint({name: getattr(self, name) for name in self.__dataclass_fields__
                            if name not in _NOT_IN_RUN_ID})

    @property
    def effective_run_id(self) -> str:
        """The given run id, or one derived from the result fingerprint (so the same command resumes)."""
        return self.run_id or "run-" + self.result_fingerprint[:12]

    def stage_fingerprint(self, stage: str) -> str:
        """Fingerprint of one stage's parameters (ingest also depends on its sources)."""
        if stage == "ingest":
            return fingerprint(self.ingest, self.sources)
        return fingerprint(getattr(self, stage))


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file not found: {file}")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`overrides` on top of `base`; nested mappings merge, everything else (lists too) replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(path: str | os.PathLike | None = None, overrides: Mapping[str, Any] | None = None) -> PipelineConfig:
    """Read the YAML file (if any), apply CLI overrides, validate, resolve paths."""
    data = read_yaml(path) if path else {}
    origin = str(path) if path else "command line"
    base_dir = Path(path).resolve().parent if path else Path.cwd()
    data = deep_merge(data, overrides or {})
    data["sources"] = [_source_mapping(s, origin, base_dir) for s in _source_list(data.get("sources"), origin)]
    config = build_params(PipelineConfig, data, "", origin)
    check_names(config, origin)
    return resolve_paths(config, base_dir, origin)


def check_safe_name(value: str, key: str, origin: str) -> str:
    """`value` as a name that is safe inside a path, else a ConfigError naming the key."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value) or ".." in value:
        raise ConfigError(f"{origin}: {key} {value!r} is not a safe name ({SAFE_NAME_RULE})")
    return value


def check_names(config: PipelineConfig, origin: str) -> None:
    """The run id and every source name, checked before anything uses them in a path."""
    if config.run_id is not None:
        check_safe_name(config.run_id, "run_id", origin)
    for index, source in enumerate(config.sources):
        check_safe_name(source.name, f"sources[{index}].name", origin)


SOURCES_SHAPE = "a list, one item per source: `- {name: NAME, path: PATH}` or `- NAME=PATH[:FORMAT]`"


def _source_list(sources: Any, origin: str) -> list:
    if sources is None:
        return []
    if not isinstance(sources, (list, tuple)):
        raise ConfigError(f"{origin}: sources must be {SOURCES_SHAPE}; got a {type(sources).__name__}")
    return list(sources)


def _source_mapping(source: Any, origin: str, base_dir: Path) -> Any:
    """A source may be written as a mapping or in the CLI's NAME=PATH[:FORMAT] form."""
    if isinstance(source, str):
        spec = SourceSpec.parse(source)
        whole = source.partition("=")[2]
        if spec.format is not None and os.path.exists(_resolve_local(os.path.expanduser(whole), base_dir)):
            # a real file whose name holds a colon (colon:name.jsonl): the whole text is the path, not PATH:FORMAT
            return {"name": spec.name, "path": whole, "format": None}
        return {"name": spec.name, "path": spec.path, "format": spec.format}
    if isinstance(source, SourceSpec):
        return {"name": source.name, "path": source.path, "format": source.format}
    return source


def resolve_paths(config: PipelineConfig, base_dir: Path, origin: str) -> PipelineConfig:
    names = [s.name for s in config.sources]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"{origin}: source name {duplicated[0]!r} is used more than once")
    sources = tuple(replace(s, path=_resolve_input(s.path, base_dir, origin, f"source {s.name}")) for s in config.sources)
    annotate = replace(config.annotate, **{
        name: _resolve_input(getattr(config.annotate, name), base_dir, origin, f"annotate.{name}")
        for name in ("task_model", "quality_model", "lid_model") if getattr(config.annotate, name)})
    warehouse = _resolve_local(config.warehouse, base_dir)
    _check_warehouse(warehouse, origin)
    return replace(config, sources=sources, annotate=annotate, warehouse=warehouse)


def _check_warehouse(warehouse: str, origin: str) -> None:
    """A local warehouse must be a folder (or not exist yet): every table is a folder under it."""
    local = warehouse.removeprefix("file://") if not _has_scheme(warehouse) or warehouse.startswith("file://") else None
    if local is not None and os.path.exists(local) and not os.path.isdir(local):
        raise ConfigError(f"{origin}: warehouse {local} is an existing file, not a folder: give a folder path")


def _has_scheme(path: str) -> bool:
    return "://" in path


def _resolve_local(path: str, base_dir: Path) -> str:
    if _has_scheme(path) or os.path.isabs(path):
        return path
    return str((base_dir / path).resolve())


def _resolve_input(path: str, base_dir: Path, origin: str, name: str) -> str:
    resolved = _resolve_local(os.path.expanduser(path), base_dir)
    if _has_scheme(resolved) or glob.has_magic(resolved):
        return resolved  # remote paths and globs are checked when they are listed
    if not os.path.exists(resolved):
        raise ConfigError(f"{origin}: input path of {name!r} does not exist: {resolved}")
    return resolved

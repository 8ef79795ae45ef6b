"""docs/CONFIG.md generated from the parameter dataclasses, so the reference never drifts from the code.

    python -m postmix.config_doc > docs/CONFIG.md      (a unit test checks the committed file is current)
"""

from __future__ import annotations

import dataclasses
import inspect
import typing

from postmix.config import PipelineConfig

INTRO = """# Configuration reference

One YAML file; each top-level section maps onto the parameters of one stage. Unknown keys are errors that name the
key and the file; relative paths resolve against the config file's folder; CLI flags override the file
(`--warehouse`, `--master`, `--conf KEY=VALUE`, `--run-id`, `--source NAME=PATH[:FORMAT]`, and the select flags).
Every value is checked when the config loads (types, ranges, choices, quota syntax, combinations such as
`annotate.quality_mode: column` without a `quality_column`): `postmix run` with a bad value stops with one
`postmix: error:` line naming the key and the file, before Spark starts or any stage runs. What only the data can
refuse (a quota on a column the pool lacks, a floor larger than its group) is checked before selection work starts.
Generated from the code by `python -m postmix.config_doc`. Example: [deploy/demo.yaml](../deploy/demo.yaml).
"""


def _type_name(hint) -> str:
    text = str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")
    return text.replace("postmix.ingest.params.", "").replace("NoneType", "None")


def _rows(cls, prefix: str) -> list[str]:
    rows = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            rows.extend(_rows(hint, f"{prefix}{field.name}."))
            continue
        if field.default is not dataclasses.MISSING:
            default = repr(field.default)
        elif field.default_factory is not dataclasses.MISSING:
            default = repr(field.default_factory())
        else:
            default = "(required)"
        rows.append(f"| `{prefix}{field.name}` | `{_type_name(hint)}` | `{default}` |")
    return rows


def render() -> str:
    out = [INTRO]
    hints = typing.get_type_hints(PipelineConfig)
    top = [f for f in dataclasses.fields(PipelineConfig) if not _section_class(hints[f.name])]
    out.append("## Top level\n\n| key | type | default |\n|---|---|---|")
    out.extend(_rows_for_fields(PipelineConfig, top))
    for field in dataclasses.fields(PipelineConfig):
        cls = _section_class(hints[field.name])
        if cls is None:
            continue
        doc = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0]
        out.append(f"\n## `{field.name}:`\n\n{doc}\n\n| key | type | default |\n|---|---|---|")
        out.extend(_rows(cls, f"{field.name}."))
    return "\n".join(out) + "\n"


def _section_class(hint):
    for candidate in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(candidate):
            return candidate
    return None


def _rows_for_fields(cls, fields) -> list[str]:
    hints = typing.get_type_hints(cls)
    rows = []
    for field in fields:
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        rows.append(f"| `{field.name}` | `{_type_name(hints[field.name])}` | `{default!r}` |")
    return rows


if __name__ == "__main__":
    print(render(), end="")

"""Typed, frozen parameters built generically from plain mappings (YAML sections, CLI overrides).

Every stage declares a frozen dataclass with a default for each field; `build_params` maps a mapping onto it,
checking types and rejecting unknown keys with the key's full path and the file it came from. Nothing is copied
field by field, and `fingerprint` gives a stable hash of any parameters object.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from typing import Any, Mapping

from postmix.errors import ConfigError

_NONE = type(None)


def build_params(cls: type, data: Mapping[str, Any] | None, where: str, origin: str = "config") -> Any:
    """Build dataclass `cls` from `data`; `where` names the section (e.g. 'select'), `origin` the file."""
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: {where} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key {_join(where, unknown[0])!r} (known keys of {where or 'the top level'}: "
            f"{', '.join(sorted(fields))})"
        )
    values = {name: _coerce(hints[name], data[name], _join(where, name), origin) for name in data}
    try:
        return cls(**values)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: invalid {where or 'config'}: {exc}") from exc


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _coerce(hint: Any, value: Any, where: str, origin: str) -> Any:
    origin_type = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin_type in (typing.Union, types.UnionType):
        if value is None and _NONE in args:
            return None
        non_none = [a for a in args if a is not _NONE]
        errors = []
        for option in non_none:
            try:
                return _coerce(option, value, where, origin)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{origin}: {where}: {value!r} matches none of {hint}")
    if origin_type is typing.Literal:
        if value not in args:
            raise ConfigError(f"{origin}: {where} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else build_params(hint, value, where, origin)
    if origin_type is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{origin}: {where} must be a list, got {value!r}")
        elem = args[0] if args else Any
        return tuple(_coerce(elem, v, f"{where}[{i}]", origin) for i, v in enumerate(value))
    if origin_type is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{origin}: {where} must be a mapping, got {value!r}")
        key_t, val_t = args or (str, Any)
        return {_coerce(key_t, k, where, origin): _coerce(val_t, v, f"{where}.{k}", origin) for k, v in value.items()}
    return _coerce_scalar(hint, value, where, origin)


def _coerce_scalar(hint: Any, value: Any, where: str, origin: str) -> Any:
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # spark conf values such as 4 or 0.5 are strings to Spark
    elif isinstance(hint, type) and isinstance(value, hint):
        return value
    raise ConfigError(f"{origin}: {where} must be {getattr(hint, '__name__', hint)}, got {value!r}")


def params_to_plain(params: Any) -> Any:
    """Parameters as plain JSON-able data (dataclasses -> dicts, tuples -> lists)."""
    if dataclasses.is_dataclass(params):
        return {f.name: params_to_plain(getattr(params, f.name)) for f in dataclasses.fields(params)}
    if isinstance(params, (list, tuple)):
        return [params_to_plain(v) for v in params]
    if isinstance(params, Mapping):
        return {str(k): params_to_plain(v) for k, v in sorted(params.items())}
    return params


def fingerprint(*parts: Any) -> str:
    """A stable sha256 of parameters (and any JSON-able values): same values, same fingerprint, any machine."""
    text = json.dumps([params_to_plain(p) for p in parts], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

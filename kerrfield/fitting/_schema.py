"""Typed checks of TOML values for the inference configuration, and the error they raise."""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Inference modes accepted by ``[mode] kind``.
MODES = ("search", "joint", "scan", "ensemble")


_SPIN_RANGE = (-0.999, 0.999)


_INC_RANGE = (0.0, 180.0)


class ConfigError(ValueError):
    """An invalid inference configuration; the message names the offending key."""


# -- validation helpers ---------------------------------------------------------------------
# command-line spellings whose config key is named differently
_CLI_NAMES = {"head": "output", "spin0": "spin", "inclination0": "inclination",
              "field_seed": "seed"}


def _unknown(section: str, keys: Mapping[str, Any], allowed: Sequence[str]) -> None:
    for key in keys:
        if key not in allowed:
            hint = ([_CLI_NAMES[key]] if _CLI_NAMES.get(key) in allowed
                    else difflib.get_close_matches(key, list(allowed), n=1))  # fmt: skip
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            if not section and key in ("data", "sky"):  # examples/m87_2017.toml's sections
                extra = (f" ([{key}] is a section of `kerrfield fit-obs` configurations such "
                         "as examples/m87_2017.toml: run `kerrfield fit-obs FILE`; infer "
                         "takes observations as [target.observation])")
            where = f"{section}.{key}" if section else key
            raise ConfigError(
                f"unknown config key {where!r}{extra}; allowed: {', '.join(sorted(allowed))}"
            )


def _number(key: str, value: Any, *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"config key {key!r} must be {kind}, got {value!r}")
    if integer and not float(value).is_integer():
        raise ConfigError(f"config key {key!r} must be an integer, got {value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    if lo is not None:
        bad |= v <= lo if lo_open else v < lo
    if hi is not None:
        bad |= v >= hi if hi_open else v > hi
    if bad:
        if hi is None and lo is not None:  # a one-sided bound reads better as one
            rng = f"be {'>' if lo_open else '>='} {lo:g} (and finite)"
        elif lo is None and hi is not None:
            rng = f"be {'<' if hi_open else '<='} {hi:g} (and finite)"
        else:
            rng = (f"lie in {'(' if lo_open else '['}{'-inf' if lo is None else format(lo, 'g')}"
                   f", {'inf' if hi is None else format(hi, 'g')}{')' if hi_open else ']'}")
        raise ConfigError(f"config key {key!r} must {rng}, got {value!r}")
    return int(v) if integer else v


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"config key {key!r} must be true or false, got {value!r}")
    return value


def _str(key: str, value: Any, choices: Sequence[str] | None = None) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"config key {key!r} must be a string, got {value!r}")
    if choices is not None and value not in choices:
        raise ConfigError(f"config key {key!r} must be one of {list(choices)}, got {value!r}")
    return value


def _table(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"config key {key!r} must be a table, got {value!r}")
    return dict(value)


def _axis(key: str, value: Any, lo: float, hi: float) -> list[float] | float:
    """A scalar, a list, or a ``{start, stop, num}`` range, every value in (lo, hi)."""
    if isinstance(value, Mapping):
        _unknown(key, value, ("start", "stop", "num"))
        for need in ("start", "stop", "num"):
            if need not in value:
                raise ConfigError(f"config key '{key}.{need}' is required for a range")
        num = _number(f"{key}.num", value["num"], lo=1, integer=True)
        start = _number(f"{key}.start", value["start"], lo=lo, hi=hi, lo_open=True, hi_open=True)
        stop = _number(f"{key}.stop", value["stop"], lo=lo, hi=hi, lo_open=True, hi_open=True)
        values = np.linspace(start, stop, int(num))
        # a grid through zero gets 0 there, not linspace's rounding (-1.1e-16 for the
        # default spin grid, printed and stored as such)
        values[np.abs(values) < 1e-12 * max(abs(start), abs(stop))] = 0.0
        return [float(x) for x in values]
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"config key {key!r} must not be an empty list")
        out = [
            _number(f"{key}[{i}]", v, lo=lo, hi=hi, lo_open=True, hi_open=True)
            for i, v in enumerate(value)
        ]
        if len(set(out)) != len(out):
            raise ConfigError(f"config key {key!r} has repeated values: {value}")
        return out
    return _number(key, value, lo=lo, hi=hi, lo_open=True, hi_open=True)


def _allowed_kwargs(func: Any) -> list[str]:
    params = inspect.signature(func).parameters
    return [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

"""Input checks shared by every public entry point: each raises ValueError naming parameter, value and range."""

from __future__ import annotations

import numbers

import numpy as np


def check_int(name: str, value, low: int = 1, high: int | None = None, power_of_two: bool = False) -> int:
    """Return `value` as int if it is an integer in [low, high] (and a power of two when asked)."""
    if type(value) is not int:  # the common case skips the slow abstract-class check
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be an integer {_range(low, high)}, got {value!r}")
        value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer {_range(low, high)}, got {value}")
    if power_of_two and value & (value - 1):
        raise ValueError(f"{name} must be a positive power of two, got {value}")
    return value


def check_ints(name: str, values, item: str, low: int = 1, high: int | None = None) -> np.ndarray:
    """`values` (one or many) as an int64 array of at least one integer, each checked as `item` in [low, high]."""
    checked = np.array([check_int(item, v, low, high) for v in np.atleast_1d(values)], dtype=np.int64)
    if checked.size == 0:
        raise ValueError(f"{name} must name at least one {item} {_range(low, high)}, got none")
    return checked


def check_number(name: str, value, low: float = 0.0, high: float | None = None, low_open: bool = True) -> float:
    """Return `value` as float if it is a finite real number in (low, high] (or [low, high])."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        raise ValueError(f"{name} must be a number {_range(low, high, low_open)}, got {value!r}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    if too_low or (high is not None and value > high) or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a number {_range(low, high, low_open)}, got {value}")
    return value


def check_choice(name: str, value, choices) -> object:
    """Return `value` if it is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def check_named(what: str, name: str, items):
    """The item of `items` whose `.name` is `name`."""
    for item in items:
        if item.name == name:
            return item
    raise ValueError(f"{what} must be one of {', '.join(item.name for item in items)}; got {name!r}")


def _range(low, high, low_open: bool = False) -> str:
    left = "(" if low_open else "["
    return f"in {left}{low}, {high}]" if high is not None else (f"> {low}" if low_open else f">= {low}")


def ceil_div(a: int, b: int) -> int:
    """The smallest integer >= a / b, for integers a >= 0 and b >= 1 (pimlab's one rounding-up division)."""
    return -(-a // b)

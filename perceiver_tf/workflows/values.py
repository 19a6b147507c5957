"""The allowed values of the workflows' options, checked the same way from Python and the command line.

Each `Number` both parses a flag's text (as an argparse `type`, raising `ArgumentTypeError`) and
checks a keyword argument's value (`check`, raising `OptionError`), so `perceiver_tf.train(data,
epochs=0)` and `perceiver-tf train --epochs 0` are refused by one rule.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from perceiver_tf.errors import OptionError
from perceiver_tf.option_names import option_name


@dataclass(frozen=True)
class Number:
    """An int or float within `[low, high]` (each bound open where not inclusive; `None`: unbounded)."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    @property
    def __name__(self) -> str:  # argparse names the type in its "invalid <type> value" messages
        return self.kind.__name__

    def problem(self, value, shown: str | None = None) -> str | None:
        """Why `value` is not allowed (`shown`: how the message shows it; default its repr), or `None`."""
        shown = shown or repr(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (self.kind is int and value != int(value)):
            return f"expected {'an integer' if self.kind is int else 'a number'}, got {shown}"
        if not math.isfinite(value):
            return f"expected a finite number, got {shown}"
        too_low = self.low is not None and (value < self.low if self.low_inclusive else value <= self.low)
        too_high = self.high is not None and (value > self.high if self.high_inclusive else value >= self.high)
        if too_low or too_high:
            return f"must be {self.range_text()}, got {shown}"
        return None

    def range_text(self) -> str:
        if self.high is None:
            return f"{'>=' if self.low_inclusive else '>'} {self.low}"
        if self.low is None:
            return f"{'<=' if self.high_inclusive else '<'} {self.high}"
        return (f"in {'[' if self.low_inclusive else '('}{self.low}, {self.high}"
                f"{']' if self.high_inclusive else ')'}")

    def __call__(self, text: str):
        """Parse a flag's text (argparse `type`)."""
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if self.kind is int else 'a number'}, got {text!r}") from None
        problem = self.problem(value, repr(text) if not math.isfinite(value) else text)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    def check(self, name: str, value) -> None:
        """Raise an `OptionError` naming option `name` unless `value` is allowed."""
        problem = self.problem(value)
        if problem:
            raise OptionError(f"{option_name(name)}: {problem}.")


positive_int = Number(int, 1)
non_negative_int = Number(int, 0)
positive_float = Number(float, 0.0, low_inclusive=False)
non_negative_float = Number(float, 0.0)
#: A held-out fraction: strictly between 0 and 1.
open_fraction = Number(float, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
#: 0 (off) up to, not including, 1: label smoothing (1 would erase the labels), point dropout (1: no points).
below_one = Number(float, 0.0, 1.0, high_inclusive=False)


class NeighbourCount(Number):
    """0 (off), or a neighbourhood of at least 3 points (what a surface patch needs;
    `preprocessing.MIN_GEOMETRY_NEIGHBORS`): `local_geometry`."""

    def problem(self, value, shown: str | None = None) -> str | None:
        return super().problem(value, shown) or (f"must be 0 (off) or >= 3 neighbours, got {shown or value}"
                                                 if value in (1, 2) else None)


neighbour_count = NeighbourCount(int, 0)


def check_choice(name: str, value, choices) -> None:
    """Raise an `OptionError` naming option `name` unless `value` is one of `choices`."""
    if value not in choices:
        raise OptionError(f"{option_name(name)} {value!r} is not one of: {', '.join(map(str, choices))}.")

"""argparse pieces of the `perceiver-tf` CLI: a parser whose errors are one line, and value types
that reject out-of-range flags while parsing (before any data is read or model built)."""

from __future__ import annotations

import argparse
import math


class HelpFormatter(argparse.HelpFormatter):
    """Help that ends each flag's text with its default, once: not for flags without a value
    (`store_true`), a `None` or empty default, or help that states its default itself ("Default: ...")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, [], argparse.SUPPRESS) and action.nargs != 0
        if shown and "Default:" not in text and "%(default)" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose usage errors are one `error:` line (exit 2) pointing at `--help`, and
    whose help shows every flag's default (`HelpFormatter`; its subcommands' parsers too)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _number(kind: type, low: float | None = None, high: float | None = None,
            low_inclusive: bool = True, high_inclusive: bool = True):
    """An argparse `type` parsing `kind` within `[low, high]` (bounds open where not inclusive)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        too_low = low is not None and (value < low if low_inclusive else value <= low)
        too_high = high is not None and (value > high if high_inclusive else value >= high)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"must be {_range_text(low, high, low_inclusive, high_inclusive)}, "
                                             f"got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its "invalid <type> value" messages
    return parse


def _range_text(low, high, low_inclusive: bool, high_inclusive: bool) -> str:
    if high is None:
        return f"{'>=' if low_inclusive else '>'} {low}"
    if low is None:
        return f"{'<=' if high_inclusive else '<'} {high}"
    return f"in {'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"


positive_int = _number(int, 1)
non_negative_int = _number(int, 0)
positive_float = _number(float, 0.0, low_inclusive=False)
non_negative_float = _number(float, 0.0)
#: A held-out fraction: strictly between 0 and 1.
open_fraction = _number(float, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
#: 0 (off) up to, not including, 1: label smoothing (1 would erase the labels), point dropout (1: no points).
below_one = _number(float, 0.0, 1.0, high_inclusive=False)


def neighbour_count(text: str) -> int:
    """0 (off), or a neighbourhood of at least 3 points (what a surface patch needs;
    `preprocessing.MIN_GEOMETRY_NEIGHBORS`): `--local-geometry`."""
    value = non_negative_int(text)
    if value in (1, 2):
        raise argparse.ArgumentTypeError(f"must be 0 (off) or >= 3 neighbours, got {text}")
    return value


def verbosity(text: str) -> str | int:
    """Keras `verbose`: "auto", 0, 1 or 2."""
    if text in ("auto", "0", "1", "2"):
        return text if text == "auto" else int(text)
    raise argparse.ArgumentTypeError(f"expected auto, 0, 1 or 2, got {text!r}")


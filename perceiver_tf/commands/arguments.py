"""argparse pieces of the `perceiver-tf` CLI: a parser whose errors are one line and whose help shows
defaults. Flag value types are the library's (`perceiver_tf.workflows.values`): out-of-range flags are
rejected while parsing, before any data is read or model built."""

from __future__ import annotations

import argparse


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


def verbosity(text: str) -> str | int:
    """Keras `verbose`: "auto", 0, 1 or 2."""
    if text in ("auto", "0", "1", "2"):
        return text if text == "auto" else int(text)
    raise argparse.ArgumentTypeError(f"expected auto, 0, 1 or 2, got {text!r}")

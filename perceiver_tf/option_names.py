"""How a message names one of the user's options: `--image-size 32 32` on the command line,
`image_size=(32, 32)` from Python.

The library's options carry the command line's names in snake_case (`perceiver_tf.train(data,
image_size=...)` is `perceiver-tf train --image-size`), so every message is written once, with
`option(...)`, and reads right wherever it reaches its user. The `perceiver-tf` command switches
the whole process to flag names (`use_command_line_names`); a library caller gets keywords.
"""

from __future__ import annotations

_style = {"command_line": False}


def use_command_line_names(enabled: bool = True) -> None:
    """Name options as `--flags` in every message from now on (the `perceiver-tf` command's choice)."""
    _style["command_line"] = enabled


def command_line_names() -> bool:
    """Whether messages name options as `--flags` (else as Python keywords)."""
    return _style["command_line"]


def option(name: str, cli_value: str = "", python_value: str = "") -> str:
    """How a message names option `name` (snake_case), optionally with an example value.

    Examples: `option("skip_bad_files")` -> `--skip-bad-files` / `skip_bad_files=True`;
    `option("image_size", "H W", "(H, W)")` -> `--image-size H W` / `image_size=(H, W)`.

    Args:
        name: the option's keyword (its flag is `--` + the name with dashes).
        cli_value: the value as typed after the flag ("" for a flag without a value).
        python_value: the value as a keyword argument; default `cli_value`, or `True` for a
            flag without a value.
    """
    if command_line_names():
        return f"--{name.replace('_', '-')}" + (f" {cli_value}" if cli_value else "")
    return f"{name}={python_value or cli_value or 'True'}"


def option_name(name: str) -> str:
    """Option `name` (snake_case) as a message names it without a value: `--image-size` / `image_size`."""
    return f"--{name.replace('_', '-')}" if command_line_names() else name

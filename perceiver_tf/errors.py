"""The errors perceiver_tf raises for a problem its user can fix, from Python and the CLI alike.

Each message is one line naming the problem and the fix (options named as the caller spells them:
`perceiver_tf.option_names`). The `perceiver-tf` command prints it as one `error:` line and exits
with `exit_code`.
"""

from __future__ import annotations


class PerceiverError(Exception):
    """A failure the user can fix: an unreadable model file, a busy output directory, data that does not
    fit the model, ... (the CLI exits 1)."""

    exit_code = 1


class OptionError(PerceiverError, ValueError):
    """Options that do not fit each other, the data or the model (the CLI exits 2, as for a usage error)."""

    exit_code = 2

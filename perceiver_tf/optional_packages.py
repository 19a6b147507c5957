"""Optional packages perceiver_tf uses when they are installed, and the one line that says how to get each.

Cheap to import: a package is imported only when asked whether it is installed.
"""

from __future__ import annotations

#: Why training writes no `logs/` without TensorBoard (TensorFlow 2.17+ no longer installs it).
TENSORBOARD_MISSING = ("TensorBoard is not installed, so no TensorBoard logs are written: "
                       "pip install tensorboard (or perceiver_tf[tensorboard]) to get them")


def tensorboard_installed() -> bool:
    """True when the `tensorboard` package (which `tf.summary` writers need) imports."""
    try:
        import tensorboard  # noqa: F401 - its top level is light; the writers load the rest
    except ImportError:
        return False
    return True

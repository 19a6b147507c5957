"""A package's public names imported from their modules on first use (PEP 562).

`perceiver_tf.data`, `perceiver_tf.training` and `perceiver_tf.export` hold modules that need
TensorFlow (tf.data pipelines, tf.distribute, SavedModel) beside light ones; resolving names
lazily lets `import perceiver_tf` (and every light name) work without TensorFlow, e.g. under
`KERAS_BACKEND=jax`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, modules: Mapping[str, tuple[str, ...]]) -> tuple[list[str], Callable, Callable]:
    """`(__all__, __getattr__, __dir__)` for `package`, whose names live in its submodules.

    Args:
        package: the package's `__name__`.
        modules: `{submodule: the public names it defines}`.

    Usage, in the package's `__init__.py`: `__all__, __getattr__, __dir__ = lazy_exports(__name__, {...})`.
    """
    home = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str):
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *home})

    return sorted(home), __getattr__, __dir__

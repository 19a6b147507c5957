"""perceiver_tf's classes registered for Keras deserialisation as soon as Keras is there, without
importing Keras (and TensorFlow) before anything needs it.

`keras.saving.load_model` finds a custom class only once its module was imported. `import
perceiver_tf` therefore registers every class at once when Keras is already imported (then it costs
little), and otherwise when Keras' own import finishes (`import_hooks.wrap_first_import` wraps the
loader of the `keras` package), so `import perceiver_tf; import keras; keras.saving.load_model(path)` works in
any order while `import perceiver_tf` and `perceiver-tf --help` stay light.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

from perceiver_tf.import_hooks import track_package_imports, wrap_first_import


def register_classes() -> None:
    """Import the modules whose classes `.keras` files name (models, layers, preprocessors, losses)."""
    importlib.import_module("perceiver_tf.models")
    importlib.import_module("perceiver_tf.training.losses")


@contextlib.contextmanager
def _then_register():
    """Keras' import, then `register_classes` (not when the import fails): at once, or, when a perceiver_tf
    module's import is what imported Keras, once that import has finished (`import_hooks.PackageImports`)."""
    yield
    track_package_imports("perceiver_tf").after_current_imports(register_classes)


def register_when_keras_is_imported() -> None:
    """Register perceiver_tf's classes now if Keras is imported, else right after its import (idempotent)."""
    if "keras" in sys.modules:
        register_classes()
    else:
        track_package_imports("perceiver_tf")
        wrap_first_import("keras", _then_register)

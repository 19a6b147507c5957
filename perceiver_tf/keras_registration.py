"""perceiver_tf's classes registered for Keras deserialisation as soon as Keras is there, without
importing Keras (and TensorFlow) before anything needs it.

`keras.saving.load_model` finds a custom class only once its module was imported. `import
perceiver_tf` therefore registers every class at once when Keras is already imported (then it costs
little), and otherwise when Keras' own import finishes (`_RegisterAfterKeras` wraps the loader of
the `keras` package), so `import perceiver_tf; import keras; keras.saving.load_model(path)` works in
any order while `import perceiver_tf` and `perceiver-tf --help` stay light.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys


def register_classes() -> None:
    """Import the modules whose classes `.keras` files name (models, layers, preprocessors, losses)."""
    importlib.import_module("perceiver_tf.models")
    importlib.import_module("perceiver_tf.training.losses")


class _LoaderThenRegister(importlib.abc.Loader):
    """The `keras` package's own loader, followed by `register_classes` once Keras is imported."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        register_classes()

    def __getattr__(self, name: str):  # resource readers, source lookups, ...: the real loader's
        return getattr(self._loader, name)


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Finds `keras` as the other finders do, with a loader that registers perceiver_tf's classes after it."""

    def find_spec(self, name: str, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)  # once: the real finders locate Keras
        spec = importlib.util.find_spec("keras")
        if spec is not None and spec.loader is not None:
            spec.loader = _LoaderThenRegister(spec.loader)
        return spec


def register_when_keras_is_imported() -> None:
    """Register perceiver_tf's classes now if Keras is imported, else right after its import (idempotent)."""
    if "keras" in sys.modules:
        register_classes()
    elif not any(isinstance(finder, _RegisterAfterKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterKeras())

"""Run a package's first import inside a context manager, without importing it before it is needed.

`wrap_first_import("keras", ...)` puts a finder first on `sys.meta_path` that finds the package as
the other finders do and wraps its loader, so the context manager runs around the package's own
`exec_module`: `keras_registration` registers perceiver_tf's classes after Keras' import,
`native_log` holds back TensorFlow's native start-up lines during its import.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Callable

#: Makes the context manager a first import runs inside.
Around = Callable[[], contextlib.AbstractContextManager]


class _WrappedLoader(importlib.abc.Loader):
    """A package's own loader, its `exec_module` run inside `around()`; the finder that made it is
    done once the package is imported."""

    def __init__(self, loader, finder: "_FirstImportFinder"):
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        with self._finder.around():
            self._loader.exec_module(module)

    def __getattr__(self, name: str):  # resource readers, source lookups, ...: the real loader's
        return getattr(self._loader, name)


class _FirstImportFinder(importlib.abc.MetaPathFinder):
    """Finds the package `name` as the other finders do, with its loader wrapped, until it is imported
    (a lookup without an import, such as TensorFlow's `importlib.util.find_spec("keras")`, leaves it)."""

    def __init__(self, name: str, around: Around):
        self.name = name
        self.around = around
        self._finding = False

    def find_spec(self, name: str, path=None, target=None):
        if name != self.name or self._finding:
            return None
        self._finding = True  # the real finders locate the package
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._finding = False
        if spec is not None and spec.loader is not None:
            spec.loader = _WrappedLoader(spec.loader, self)
        return spec


def wrap_first_import(name: str, around: Around) -> bool:
    """Run the first import of the top-level package `name` inside `around()`.

    Returns:
        False when `name` is imported already (nothing to wrap) or a wrapper for it is in place.
    """
    if name in sys.modules or any(isinstance(f, _FirstImportFinder) and f.name == name for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, _FirstImportFinder(name, around))
    return True

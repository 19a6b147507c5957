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
    """A module's own loader, its `exec_module` run inside `around()`."""

    def __init__(self, loader, around: Around):
        self._loader = loader
        self._around = around

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with self._around():
            self._loader.exec_module(module)

    def __getattr__(self, name: str):  # resource readers, source lookups, ...: the real loader's
        return getattr(self._loader, name)


class _WrappingFinder(importlib.abc.MetaPathFinder):
    """Finds the modules it `wants` as the other finders do, with their loaders wrapped in `_around`."""

    def __init__(self):
        self._finding: set[str] = set()

    def wants(self, name: str) -> bool:
        raise NotImplementedError

    def _around(self) -> contextlib.AbstractContextManager:
        raise NotImplementedError

    def find_spec(self, name: str, path=None, target=None):
        if not self.wants(name) or name in self._finding:
            return None
        self._finding.add(name)  # the real finders locate the module
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._finding.discard(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _WrappedLoader(spec.loader, self._around)
        return spec


class _FirstImportFinder(_WrappingFinder):
    """The package `name`'s first import, run inside `around()`. A lookup without an import (such as
    TensorFlow's `importlib.util.find_spec("keras")`) leaves the finder in place; the import removes it."""

    def __init__(self, name: str, around: Around):
        super().__init__()
        self.name = name
        self.around = around

    def wants(self, name: str) -> bool:
        return name == self.name

    def _around(self) -> contextlib.AbstractContextManager:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        return self.around()


def wrap_first_import(name: str, around: Around) -> bool:
    """Run the first import of the top-level package `name` inside `around()`.

    Returns:
        False when `name` is imported already (nothing to wrap) or a wrapper for it is in place.
    """
    if name in sys.modules or any(isinstance(f, _FirstImportFinder) and f.name == name for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, _FirstImportFinder(name, around))
    return True


class PackageImports(_WrappingFinder):
    """How deeply imports of a package's submodules are nested right now, to run something only once
    the outermost has finished (`after_current_imports`): e.g. Keras, imported by
    `perceiver_tf.adapters.base`, cannot have `perceiver_tf.models` imported before
    `perceiver_tf.adapters` is complete."""

    def __init__(self, package: str):
        super().__init__()
        self.prefix = package + "."
        self.depth = 0
        self._waiting: list[Callable[[], None]] = []

    def wants(self, name: str) -> bool:
        return name.startswith(self.prefix)

    @contextlib.contextmanager
    def _around(self):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if self.depth == 0:  # the outermost finished (a failed one leaves the callbacks waiting)
            waiting, self._waiting = self._waiting, []
            for callback in waiting:
                callback()

    def after_current_imports(self, callback: Callable[[], None]) -> None:
        """Call `callback` now, or when the submodule imports in progress have finished."""
        if self.depth:
            self._waiting.append(callback)
        else:
            callback()


def track_package_imports(package: str) -> PackageImports:
    """The `PackageImports` of `package` (installed first on `sys.meta_path` on the first call)."""
    tracker = next((f for f in sys.meta_path if isinstance(f, PackageImports) and f.prefix == package + "."), None)
    if tracker is None:
        tracker = PackageImports(package)
        sys.meta_path.insert(0, tracker)
    return tracker

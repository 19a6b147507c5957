"""The modules of `perceiver_tf.data` import each other without a circle (issue 32); the data options
load without TensorFlow.

Every import counts: at the top of a module or inside a function, absolute or relative; a name
taken from the package (`from perceiver_tf.data import DataOptions`) counts as an import of the
module that the package's lazy export table names for it.
"""

import ast
import pathlib
import subprocess
import sys
from collections.abc import Collection

import pytest

PACKAGE = "perceiver_tf.data"
ROOT = pathlib.Path(__file__).resolve().parents[1] / "perceiver_tf" / "data"


def _modules() -> dict[str, pathlib.Path]:
    """`{dotted name: file}` of every module under `perceiver_tf/data/` (a package by its `__init__.py`)."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join((PACKAGE, *(parts[:-1] if parts[-1] == "__init__" else parts)))] = path
    return modules


def _lazy_exports() -> dict[str, str]:
    """`{public name: its module}` from the `lazy_exports(__name__, {...})` table of the package's `__init__.py`."""
    call = next(node for node in ast.walk(ast.parse((ROOT / "__init__.py").read_text()))
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_exports")
    table = ast.literal_eval(call.args[1])
    return {name: f"{PACKAGE}.{module}" for module, names in table.items() for name in names}


def imported(module: str, source: str, modules: Collection[str], exports: dict[str, str],
             is_package: bool = False) -> set[str]:
    """The modules among `modules` that `module` (its code `source`) imports anywhere in its code.

    Args:
        exports: `{name: module}` of names imported from the package itself (`_lazy_exports`).
        is_package: `source` is the package's `__init__.py` (its relative imports start from it).
    """
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from .x import y`, `from .. import z`
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            for alias in node.names:
                found.add(f"{base}.{alias.name}")  # a submodule, when it is one
                if base == PACKAGE and alias.name in exports:
                    found.add(exports[alias.name])
    return {name for name in found if name in modules and name != module}


def import_graph() -> dict[str, set[str]]:
    """`{module: the perceiver_tf.data modules it imports}` for every module of `perceiver_tf/data/`."""
    modules, exports = _modules(), _lazy_exports()
    return {module: imported(module, path.read_text(), modules, exports, path.name == "__init__.py")
            for module, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One circle of `graph` as `[a, b, ..., a]`, or `[]` when it has none (depth-first search)."""
    state, stack = {}, []  # state: "open" while on the stack, "done" after

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == "open":
                return stack[stack.index(successor):] + [successor]
            if successor not in state and (cycle := visit(successor)):
                return cycle
        stack.pop()
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_find_cycle_names_the_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_imports_inside_functions_relative_and_lazy_names_count():
    source = """
import os
from perceiver_tf.data.a import thing
from .. import b


def later():
    from perceiver_tf.data import Name
    import perceiver_tf.data.d
    from . import e
"""
    modules = {f"{PACKAGE}.{name}" for name in ("a", "b", "c", "d", "sub", "sub.e", "sub.f")}
    found = imported(f"{PACKAGE}.sub.f", source, modules, {"Name": f"{PACKAGE}.c"})
    assert found == {f"{PACKAGE}.{name}" for name in ("a", "b", "c", "d", "sub", "sub.e")}


def test_data_modules_import_each_other_without_a_circle():
    cycle = find_cycle(import_graph())
    assert not cycle, "perceiver_tf.data modules import each other in a circle: " + " -> ".join(cycle)


@pytest.mark.e2e
def test_data_options_load_without_tensorflow():
    """`DataOptions` and its option table are built and checked before TensorFlow is imported."""
    script = ("import sys\nfrom perceiver_tf.data import MODALITY_OPTIONS, DataOptions, modality_options_set\n"
              "assert modality_options_set(DataOptions(image_size=(8, 8))) == ['image_size']\n"
              "assert 'tensorflow' not in sys.modules, 'tensorflow loaded'\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]

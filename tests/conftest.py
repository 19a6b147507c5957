"""Shared test set-up: quiet TensorFlow, deterministic seeds, small helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from perceiver_tf.backend_support import JIT_COMPILE_ENV  # noqa: E402
from perceiver_tf.option_names import use_command_line_names  # noqa: E402

if keras.backend.backend() == "tensorflow":
    # On a TensorFlow GPU/TPU, jit_compile="auto" means XLA for fixed input shapes: each of the
    # suite's hundreds of tiny models (and CLI runs, which inherit this) would pay an XLA
    # compilation that dwarfs its few steps. The suite runs them as tf.function graphs on every
    # machine; the default itself is tested with this variable removed (test_execution_defaults,
    # test_demo).
    os.environ.setdefault(JIT_COMPILE_ENV, "0")


@pytest.fixture(autouse=True)
def _seed_and_policy():
    """Every test starts from seed 0 and the float32 policy, whatever the last test set."""
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(autouse=True)
def _options_named_as_keywords():
    """Every test starts with messages naming options as Python keywords, whatever the last test set
    (`perceiver_tf.cli.main` switches the whole process to `--flags`)."""
    use_command_line_names(False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_collection_modifyitems(items):
    """Skip `tensorflow_only` tests under another Keras backend; run files holding slow tests first,
    so the longest files start early on the xdist workers."""
    if keras.backend.backend() != "tensorflow":
        skip = pytest.mark.skip(reason=f"tensorflow_only (pyproject.toml); Keras backend is {keras.backend.backend()}")
        for item in items:
            if item.get_closest_marker("tensorflow_only"):
                item.add_marker(skip)
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)

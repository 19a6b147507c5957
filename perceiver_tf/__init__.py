"""perceiver_tf: the Perceiver (Jaegle et al., 2021) and Perceiver IO for Keras 3 / TensorFlow.

`import perceiver_tf` imports the whole public API (`perceiver_tf.api`), which registers every
perceiver_tf class for Keras serialisation, so `keras.models.load_model` reads perceiver_tf models.
The `perceiver-tf` console script is the one exception: there the API (and TensorFlow) is imported
when a subcommand runs or a name is first looked up, so `perceiver-tf --help` answers at once.
TensorFlow's C++ INFO lines are off unless `TF_CPP_MIN_LOG_LEVEL` says otherwise.
"""

import importlib as _importlib
import os as _os
import sys as _sys

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # read once, when TensorFlow loads

__version__ = "0.2.0"


def load_api() -> None:
    """Import the public API into this namespace (idempotent)."""
    from perceiver_tf.backend_support import backend_import_error

    try:
        api = _importlib.import_module("perceiver_tf.api")  # not `from perceiver_tf import`: that calls __getattr__
    except ImportError as error:  # Keras without its backend's package (TensorFlow, JAX): say what to install
        raise backend_import_error(error) from error
    globals().update({name: getattr(api, name) for name in api.__all__})
    globals()["__all__"] = [*api.__all__, "__version__"]


def __getattr__(name: str):
    """The public API's names (and `__all__`) before `load_api` ran: load it, then look again."""
    if name.startswith("__") and name != "__all__":
        raise AttributeError(name)
    load_api()
    if name not in globals():
        raise AttributeError(f"module 'perceiver_tf' has no attribute {name!r}")
    return globals()[name]


if _os.path.basename(_sys.argv[0] if _sys.argv else "") != "perceiver-tf":
    load_api()

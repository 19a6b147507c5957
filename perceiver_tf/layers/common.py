"""Numerical conventions shared by every Perceiver layer (see shared/PERCEIVER.md)."""

from __future__ import annotations

import keras

#: Epsilon of every LayerNorm: the paper and DeepMind's code use 1e-5 (Keras' default is 1e-3).
LAYER_NORM_EPSILON = 1e-5

#: Std of the truncated-normal init of the latent array (cut at 2 std by Keras).
LATENT_INIT_STDDEV = 0.02

register = keras.saving.register_keras_serializable(package="perceiver_tf")


def dense_kernel_initializer() -> keras.initializers.Initializer:
    """DeepMind's Dense init: fan-in variance scaling with a truncated normal."""
    return keras.initializers.VarianceScaling(
        scale=1.0, mode="fan_in", distribution="truncated_normal"
    )


def require_positive_int(value, name: str) -> int:
    """Return `value` if it is a positive int, else raise a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return value


def require_optional_positive_int(value, name: str) -> int | None:
    """Return `value` if it is `None` or a positive int, else raise a ValueError naming it."""
    return None if value is None else require_positive_int(value, name)


def require_rate(value, name: str) -> float:
    """Return `value` if it is a probability in [0, 1), else raise a ValueError."""
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a float in [0, 1). Received: {name}={value!r}")
    return float(value)

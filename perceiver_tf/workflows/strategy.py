"""The distribution strategy of a training run (`strategy`, `tpu`, `cpu_devices` options): a
tf.distribute strategy, or under `KERAS_BACKEND=jax` a `keras.distribution` one."""

from __future__ import annotations

from perceiver_tf.data.errors import error_reason
from perceiver_tf.errors import OptionError, PerceiverError
from perceiver_tf.option_names import option, option_name


def make_strategy(name: str, tpu: str | None, cpu_devices: int):
    """`(strategy, is_chief, worker_id)` for the options `strategy` / `tpu` / `cpu_devices`.

    Raises:
        OptionError: a strategy the JAX backend does not have.
        PerceiverError: the strategy cannot start (e.g. no TPU, a bad TF_CONFIG).
    """
    from perceiver_tf.backend_support import backend

    if backend() == "jax":
        from perceiver_tf.training.jax_distribution import make_jax_strategy

        try:
            return make_jax_strategy(name, cpu_devices), True, 0
        except ValueError as error:
            raise OptionError(str(error)) from None
        except RuntimeError as error:
            raise PerceiverError(f"{option('cpu_devices', str(cpu_devices))}: {error}.") from None
    import tensorflow as tf

    from perceiver_tf.training import distribute

    if cpu_devices:
        distribute.split_cpu(cpu_devices)
    try:
        strategy = distribute.make_strategy(name, tpu)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        hint = f" (pass {option_name('tpu')} NAME or set TPU_NAME)" if name == "tpu" else ""
        raise PerceiverError(f"{option('strategy', name, repr(name))} cannot start: {error_reason(error)}{hint}; "
                             f"use {option('strategy', 'auto', repr('auto'))} on this machine.") from None
    return (strategy, *distribute.worker_role(strategy))


def describe_strategy(strategy) -> str:
    """The training log's name of a strategy (tf.distribute's or `keras.distribution`'s)."""
    from perceiver_tf.training.jax_distribution import JaxStrategy

    if isinstance(strategy, JaxStrategy):
        return strategy.description
    from perceiver_tf.training import distribute

    return distribute.describe(strategy)

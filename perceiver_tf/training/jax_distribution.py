"""`perceiver-tf train --strategy` under `KERAS_BACKEND=jax`: `keras.distribution` over the local devices.

- "auto": `keras.distribution.DataParallel` over every local device when there are several,
  else no distribution.
- "mirrored": `DataParallel` over every local device (GPUs, TPU cores, or the CPU split into
  `--cpu-devices N` devices), even one.
- "one_device": the first device, no distribution.
- "multi_worker" and "tpu" are tf.distribute strategies and are refused with what to use instead
  (on a TPU VM, JAX sees the TPU cores as local devices: "auto").

Keras' JAX trainer splits every batch evenly over the devices, so the input pipeline pads a last,
partial batch to a multiple of the device count with zero-weight examples
(`PipelineOptions.batch_multiple`, `num_replicas_in_sync` here).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import keras

#: The `--strategy` values that have a JAX meaning.
JAX_STRATEGIES = ("auto", "one_device", "mirrored")
_REFUSED = {
    "multi_worker": "multi-host JAX training is not supported by `perceiver-tf train`; run with the TensorFlow "
                    "backend (KERAS_BACKEND=tensorflow) for --strategy multi_worker",
    "tpu": "JAX finds a TPU VM's cores itself: use --strategy auto (data parallelism over them)",
}


@dataclass(frozen=True)
class JaxStrategy:
    """What `perceiver-tf train` uses of a tf.distribute strategy, for `keras.distribution`.

    Attributes:
        devices: the devices each batch is split over (one: no distribution).
        distributed: whether a `DataParallel` distribution is set (`keras.distribution.distribution()`).
    """

    devices: tuple[str, ...]
    distributed: bool

    @property
    def num_replicas_in_sync(self) -> int:
        return len(self.devices) if self.distributed else 1

    @property
    def batch_multiple(self) -> int:
        """The multiple every batch is padded to (`PipelineOptions.batch_multiple`); tf.distribute
        strategies have no such attribute: they split uneven batches themselves."""
        return self.num_replicas_in_sync

    @property
    def description(self) -> str:
        """For the training log, e.g. "keras.distribution.DataParallel x2 (cpu:0, cpu:1)"."""
        if not self.distributed:
            return f"one device ({self.devices[0]}, no distribution)"
        return f"keras.distribution.DataParallel x{len(self.devices)} ({', '.join(self.devices)})"

    def scope(self):
        """No-op: the distribution is global (`keras.distribution.set_distribution`), as Keras' JAX trainer reads it."""
        return contextlib.nullcontext()


def split_cpu_devices(count: int) -> None:
    """Expose the CPU as `count` JAX devices (XLA's host platform device count).

    Raises:
        RuntimeError: JAX had initialised its devices already (the flag takes effect only before).
    """
    flag = f"--xla_force_host_platform_device_count={count}"
    os.environ["XLA_FLAGS"] = " ".join([*os.environ.get("XLA_FLAGS", "").split(), flag])
    import jax

    found = len(jax.devices("cpu"))
    if found != count:
        raise RuntimeError(f"JAX started with {found} CPU device(s) before --cpu-devices {count} could split the CPU")


def make_jax_strategy(name: str = "auto", cpu_devices: int = 0) -> JaxStrategy:
    """The `JaxStrategy` for `--strategy name`, after setting its `keras.distribution` (see the module docstring).

    Raises:
        ValueError: a strategy JAX does not have (one line naming what to use).
    """
    if name in _REFUSED:
        raise ValueError(f"--strategy {name} under KERAS_BACKEND=jax: {_REFUSED[name]}.")
    if name not in JAX_STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}. Valid under JAX: {', '.join(JAX_STRATEGIES)}")
    if cpu_devices:
        split_cpu_devices(cpu_devices)
    devices = tuple(keras.distribution.list_devices())
    distributed = name == "mirrored" or (name == "auto" and len(devices) > 1)
    if distributed:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=list(devices)))
    return JaxStrategy(devices if distributed else devices[:1], distributed)

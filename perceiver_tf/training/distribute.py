"""`--strategy`: pick a tf.distribute strategy (one device, mirrored GPUs, multi-worker, TPU)."""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


def split_cpu(num_devices: int) -> None:
    """Expose the CPU as `num_devices` logical devices (to run MirroredStrategy on one CPU).

    Must run before TensorFlow initialises its devices (before any op).
    """
    if num_devices < 1:
        raise ValueError(f"`num_devices` must be >= 1. Received: num_devices={num_devices}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)


def _tf_config_workers() -> int:
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return sum(len(cluster.get(role, [])) for role in ("chief", "worker"))


def make_strategy(name: str = "auto", tpu: str | None = None) -> tf.distribute.Strategy:
    """Create the strategy `name`; create it before any other TensorFlow op.

    - "auto": multi_worker when TF_CONFIG names several workers, tpu when `tpu`/TPU_NAME is
      set, mirrored with more than one GPU (or logical CPU device), else TensorFlow's default
      strategy (no distribution: the one device runs everything, datasets are not re-distributed).
    - "one_device": GPU:0 if present, else CPU:0.
    - "mirrored": synchronous data parallelism over the local GPUs (or logical CPUs).
    - "multi_worker": `MultiWorkerMirroredStrategy`; the cluster comes from TF_CONFIG.
    - "tpu": `TPUStrategy` on the TPU `tpu` (a name or grpc:// address; default TPU_NAME or
      the local TPU VM), after `initialize_tpu_system`.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}. Valid: {', '.join(STRATEGIES)}")
    if name == "auto":
        if _tf_config_workers() > 1:
            name = "multi_worker"
        elif tpu or os.environ.get("TPU_NAME"):
            name = "tpu"
        elif len(tf.config.list_logical_devices("GPU")) > 1 or (
            not tf.config.list_logical_devices("GPU") and len(tf.config.list_logical_devices("CPU")) > 1
        ):
            name = "mirrored"
        else:  # one device: no strategy at all (distributing a dataset to one device only adds noise)
            return tf.distribute.get_strategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or os.environ.get("TPU_NAME", "local"))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [
            d.name for d in tf.config.list_logical_devices("CPU")
        ]
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.OneDeviceStrategy("/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0")


def describe(strategy: tf.distribute.Strategy) -> str:
    """`MirroredStrategy x2`, or `one device` for TensorFlow's default strategy (for the training log)."""
    if not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy():
        return "one device (no distribution)"
    return f"{type(strategy).__name__} x{strategy.num_replicas_in_sync}"


def worker_role(strategy: tf.distribute.Strategy) -> tuple[bool, int]:
    """`(is_chief, task_id)`: the chief writes results; other workers write to their own folder."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", None) or 0
    if task_type in (None, "chief", "tpu_worker") or isinstance(strategy, tf.distribute.TPUStrategy):
        return True, task_id
    has_chief = "chief" in (resolver.cluster_spec().as_dict() if resolver else {})
    return (task_type == "worker" and task_id == 0 and not has_chief), task_id

"""Work-arounds for Keras 3 (checked on 3.15) under `MultiWorkerMirroredStrategy`.

Two code paths of Keras' TensorFlow trainer fail with a collective (multi-worker) strategy:

1. `fit`/`evaluate` build metrics and optimizer from one batch obtained by
   `strategy.reduce("MEAN", per_replica_batch)`, which the collective strategy cannot do eagerly
   on a nested batch ("Attempt to convert a value (PerReplica...) to a Tensor").
2. Each step's logs (scalars) are reduced with `strategy.reduce("MEAN", v, axis=0)`, which fails
   for scalars ("Invalid reduction dimension 0 for input with 0 dimensions").

`multi_worker_fixes(model, train_data)` builds the model's training state from a local batch
and, while active, reduces scalar logs over replicas with `axis=None`. Outside multi-worker
runs (and under backends other than TensorFlow, whose models have no `distribute_strategy`) it
does nothing, and imports no TensorFlow.
"""

from __future__ import annotations

import contextlib


def _reduce_scalars_safely(original):
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def reduce_per_replica(values, strategy, reduction):
        if not (tf_trainer._collective_all_reduce_multi_worker(strategy) and reduction in ("auto", "mean")):
            return original(values, strategy, reduction)

        def reduce(value):
            rank = value.values[0].shape.rank if tf_trainer._is_per_replica_instance(value) else value.shape.rank
            return strategy.reduce("MEAN", value, axis=None if rank == 0 else 0)

        return tf.nest.map_structure(reduce, values)

    return reduce_per_replica


def _is_multi_worker(strategy) -> bool:
    import tensorflow as tf  # loaded already: the model has a tf.distribute strategy

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


@contextlib.contextmanager
def multi_worker_fixes(model, train_data):
    """Apply both work-arounds (module docstring) while fitting/evaluating `model`."""
    strategy = getattr(model, "distribute_strategy", None)  # only TensorFlow's trainer has one
    if strategy is None or not _is_multi_worker(strategy):
        yield
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    with strategy.scope():
        model._symbolic_build(data_batch=next(iter(train_data)))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    original = tf_trainer.reduce_per_replica
    tf_trainer.reduce_per_replica = _reduce_scalars_safely(original)
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original
        del model._maybe_symbolic_build

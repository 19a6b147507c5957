"""A loop over chunks with a static trip count where one is known, on every Keras backend.

`keras.ops.fori_loop` is a `tf.while_loop` without `maximum_iterations` on TensorFlow, which
XLA refuses as soon as the loop is differentiated ("XLA compilation requires a fixed tensor
list size"); it has no per-iteration outputs either. `loop_over_chunks` gives both:

- TensorFlow: `tf.while_loop(maximum_iterations=num_chunks)` when `num_chunks` is a Python int,
  outputs gathered in a fixed-size `tf.TensorArray` (XLA-compilable).
- JAX: `jax.lax.scan` (trip counts are always static there).
- Other backends: a Python loop.

TensorFlow and JAX are imported only inside their own branch, so the module imports under
any backend.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
from keras import ops

#: `step(i, carry) -> (carry, output)`; `output` may be `None` (nothing gathered).
ChunkStep = Callable[[Any, Any], tuple[Any, Any]]


def loop_over_chunks(num_chunks, step: ChunkStep, carry, output_dtype: str | None = None):
    """Run `step` for `i = 0 .. num_chunks - 1`, threading `carry`.

    Args:
        num_chunks: the trip count, a Python int (static) or a scalar int tensor.
        step: `step(i, carry) -> (carry, output)`; `output` is one tensor of the same shape on
            every iteration when `output_dtype` is given, else ignored (return `None`).
        carry: a tensor or a tuple of tensors of fixed shapes.
        output_dtype: the outputs' dtype, to stack them along a new leading axis; `None`:
            no outputs.

    Returns:
        `(carry, outputs)`; `outputs` is `(num_chunks, *output.shape)` or `None`.
    """
    backend = keras.backend.backend()
    gathers_outputs = output_dtype is not None
    if backend == "tensorflow":
        return _tensorflow_loop(num_chunks, step, carry, output_dtype)
    if backend == "jax":
        import jax

        def scan_step(state, i):
            state, output = step(i, state)
            return state, (output if gathers_outputs else None)

        return jax.lax.scan(scan_step, carry, ops.arange(num_chunks))
    outputs = []
    for i in range(int(num_chunks)):
        carry, output = step(i, carry)
        outputs.append(output)
    return carry, (ops.stack(outputs) if gathers_outputs else None)


def _tensorflow_loop(num_chunks, step: ChunkStep, carry, output_dtype: str | None):
    import tensorflow as tf

    static = isinstance(num_chunks, int)
    if output_dtype is None:
        _, carry = tf.while_loop(
            lambda i, _: i < num_chunks,
            lambda i, state: (i + 1, step(i, state)[0]),
            (tf.constant(0), carry),
            maximum_iterations=num_chunks if static else None,
        )
        return carry, None

    # The element shape is inferred from the first write.
    outputs = tf.TensorArray(output_dtype, size=num_chunks)

    def body(i, state, gathered):
        state, output = step(i, state)
        return i + 1, state, gathered.write(i, output)

    _, carry, outputs = tf.while_loop(
        lambda i, *_: i < num_chunks,
        body,
        (tf.constant(0), carry, outputs),
        maximum_iterations=num_chunks if static else None,
    )
    return carry, outputs.stack()

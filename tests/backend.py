"""Backend-neutral test helpers: the same test runs under KERAS_BACKEND=tensorflow and jax."""

import keras


def to_numpy(tensor):
    """A backend tensor (or a Keras variable) as a NumPy array."""
    return keras.ops.convert_to_numpy(tensor)


def gradients(loss_fn, variables):
    """d loss_fn() / d variables, as NumPy arrays (`None` where the loss does not depend on one).

    `loss_fn` takes no arguments and reads the variables (e.g. calls a layer); under JAX it runs
    in a `keras.StatelessScope` that maps each variable to the traced value being differentiated.
    """
    if keras.backend.backend() == "jax":
        import jax

        def loss_of(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return loss_fn()

        grads = jax.grad(loss_of)([variable.value for variable in variables])
        return [to_numpy(g) for g in grads]
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn()
    return [None if g is None else to_numpy(g) for g in tape.gradient(loss, variables)]

"""Copy PyTorch-layout tensors into Keras variables, each tensor used and each variable set exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import keras
import numpy as np

from perceiver_tf.convert.checkpoint import ConversionError


def linear_kernel(weight: np.ndarray) -> np.ndarray:
    """torch `Linear.weight` `(out, in)` -> Keras `Dense.kernel` `(in, out)`."""
    return weight.T


def conv_kernel(weight: np.ndarray) -> np.ndarray:
    """torch `Conv2d.weight` `(out, in, kh, kw)` -> Keras `Conv2D.kernel` `(kh, kw, in, out)`."""
    return weight.transpose(2, 3, 1, 0)


class WeightAssigner:
    """Assigns checkpoint tensors to a Keras model's variables and checks the bookkeeping.

    Every `assign` takes one source tensor (by state-dict key) and sets one variable; `finish`
    then raises when a source tensor was not used (it would be silently dropped) or a Keras
    variable was not set (it would keep its random initial value).

    Args:
        tensors: `{state-dict key: array}` (`Checkpoint.tensors`).
        source: where the tensors come from, for messages.
    """

    def __init__(self, tensors: dict[str, np.ndarray], source: str):
        self.tensors = tensors
        self.source = source
        self.used: dict[str, str] = {}  # source key -> variable path
        self.assigned: dict[int, str] = {}  # id(variable) -> source key

    def assign(self, variable, key: str, transform: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """Set `variable` to `transform(tensors[key])`.

        Raises:
            ConversionError: a missing tensor (named), a shape mismatch (both shapes), a tensor or a
                variable used twice.
        """
        if key not in self.tensors:
            raise ConversionError(f"{self.source}: the checkpoint has no tensor {key!r} (needed for "
                                  f"{variable.path}); is it a checkpoint of this architecture?")
        if key in self.used:
            raise ConversionError(f"{key!r} assigned twice ({self.used[key]} and {variable.path}).")
        if id(variable) in self.assigned:
            raise ConversionError(f"{variable.path} assigned twice ({self.assigned[id(variable)]} and {key!r}).")
        value = np.asarray(self.tensors[key])
        converted = transform(value) if transform is not None else value
        if tuple(converted.shape) != tuple(variable.shape):
            layout = f" (as {tuple(converted.shape)} in Keras layout)" if transform is not None else ""
            raise ConversionError(f"{self.source}: tensor {key!r} has shape {tuple(value.shape)}{layout}, but "
                                  f"{variable.path} has shape {tuple(variable.shape)}.")
        variable.assign(converted.astype(variable.dtype))
        self.used[key] = variable.path
        self.assigned[id(variable)] = key

    def dense(self, layer: keras.layers.Dense, prefix: str) -> None:
        """`prefix.weight` / `prefix.bias` of a torch Linear into a Keras Dense."""
        self.assign(layer.kernel, f"{prefix}.weight", linear_kernel)
        self.assign(layer.bias, f"{prefix}.bias")

    def layer_norm(self, layer: keras.layers.LayerNormalization, prefix: str) -> None:
        self.assign(layer.gamma, f"{prefix}.weight")
        self.assign(layer.beta, f"{prefix}.bias")

    def conv2d(self, layer: keras.layers.Conv2D, prefix: str) -> None:
        self.assign(layer.kernel, f"{prefix}.weight", conv_kernel)
        if layer.use_bias:
            self.assign(layer.bias, f"{prefix}.bias")

    def batch_norm(self, layer: keras.layers.BatchNormalization, prefix: str) -> None:
        """Scale, offset and the running statistics (torch's `num_batches_tracked` is not needed)."""
        self.assign(layer.gamma, f"{prefix}.weight")
        self.assign(layer.beta, f"{prefix}.bias")
        self.assign(layer.moving_mean, f"{prefix}.running_mean")
        self.assign(layer.moving_variance, f"{prefix}.running_var")

    def embedding(self, layer: keras.layers.Embedding, key: str) -> None:
        self.assign(layer.embeddings, key)

    def finish(self, model: keras.Model, not_needed: Iterable[str] = ()) -> None:
        """Raise unless every tensor (but the `not_needed` key suffixes) and every variable of `model` was used."""
        skipped = tuple(not_needed)
        unused = sorted(k for k in self.tensors if k not in self.used and not k.endswith(skipped))
        if unused:
            shown = ", ".join(unused[:5]) + (f" and {len(unused) - 5} more" if len(unused) > 5 else "")
            raise ConversionError(f"{self.source}: {len(unused)} checkpoint tensor(s) have no place in the Keras "
                                  f"model: {shown}; the checkpoint's config.json does not describe its weights.")
        unset = [v.path for v in model.weights if id(v) not in self.assigned]
        if unset:
            raise ConversionError(f"{len(unset)} Keras variable(s) got no checkpoint tensor: {', '.join(unset[:5])}.")

"""Import DeepMind's Perceiver checkpoints from the Hugging Face transformers format.

    model = perceiver_tf.convert.convert_transformers("deepmind/vision-perceiver-fourier")
    perceiver_tf.convert.save_converted(model, "saved_models/vision_perceiver_fourier.keras")

Supported `config.architectures`: `ARCHITECTURES` (the three ImageNet classifiers and the
byte-level masked language model). The converted model reproduces transformers' outputs
(the GELU its `hidden_act` names: exact for the official checkpoints) by default; `gelu="tanh"`
gives the activation DeepMind trained with. Image models
carry their ImageNet preprocessing and class names in `model.metadata`, so `perceiver-tf
predict` and `export` take them as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras

from perceiver_tf.convert.architectures import ARCHITECTURES, GELU_VARIANTS, Architecture, build_and_assign
from perceiver_tf.convert.checkpoint import Checkpoint, ConversionError, read_checkpoint
from perceiver_tf.files import replace_atomically


def convert_transformers(source: str | os.PathLike | Checkpoint, gelu: str | None = None,
                         image_size: int | None = None) -> keras.Model:
    """A perceiver_tf model with the weights of a transformers Perceiver checkpoint.

    Args:
        source: a directory with `config.json` + `model.safetensors` (or `pytorch_model.bin`), a hub
            id such as "deepmind/vision-perceiver-fourier" (downloaded with huggingface_hub), or a
            `Checkpoint` already read.
        gelu: `None`: as transformers evaluates the checkpoint (its `hidden_act`; exact GELU for the
            official ones); "exact" or "tanh" (DeepMind's JAX activation) to choose.
        image_size: the input side of a Fourier / conv image model (default: the checkpoint's
            preprocessor config, else 224); the learned-position model's is fixed.

    Returns:
        A `PerceiverClassifier` (image checkpoints) or a `PerceiverMaskedLM` (language), with
        `metadata["converted_from"]` recording the source, architecture and GELU.

    Raises:
        ConversionError: an unreadable checkpoint, an unsupported architecture, a missing tensor
            (named), a shape mismatch (both shapes), or tensors left over.
    """
    checkpoint = source if isinstance(source, Checkpoint) else read_checkpoint(source)
    model, _ = build_and_assign(checkpoint, gelu=gelu, image_size=image_size)
    return model


def save_converted(model: keras.Model, path: str | os.PathLike) -> Path:
    """Save `model` as a `.keras` file atomically (a temporary name, then a rename); returns the path."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ConversionError(f"the output {str(path)!r} must end in .keras.")
    if path.is_dir():
        raise ConversionError(f"the output {str(path)!r} is a directory; pass a file name ending in .keras.")
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda tmp: model.save(str(tmp)))
    return path


__all__ = [
    "ARCHITECTURES",
    "GELU_VARIANTS",
    "Architecture",
    "Checkpoint",
    "ConversionError",
    "convert_transformers",
    "read_checkpoint",
    "save_converted",
]

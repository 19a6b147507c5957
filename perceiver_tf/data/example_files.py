"""Write validation examples back as files a trained model reads (`write_example_files`), so that the
commands printed after training (`predict`, `attention`) name files that exist, whatever the source.

Each modality's decoded (cacheable) form is turned back into its usual file format: images ->
PNG (pixels recovered from the preprocessing's scale and offset), audio -> 16-bit WAV at the
model's sample rate, point clouds -> `.npy` `(n, 3)`, sensor recordings -> `.npy` `(T, C)`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from perceiver_tf.data.preprocessing import channel_values
from perceiver_tf.files import replace_atomically

#: The folder of the output directory that receives the examples.
EXAMPLES_DIR = "examples"


def _image_png(image: np.ndarray, config: dict) -> bytes:
    """Decoded image `(H, W, C)` float (`pixel * scale + offset`) -> PNG bytes of its 8-bit pixels."""
    scales, offsets = channel_values(config)
    pixels = (image - np.asarray(offsets, np.float32)) / np.asarray(scales, np.float32)
    return tf.io.encode_png(np.clip(np.round(pixels), 0, 255).astype(np.uint8)).numpy()


def _audio_wav(waveform: np.ndarray, config: dict) -> bytes:
    """Decoded mono waveform `(T,)` in [-1, 1] -> 16-bit WAV bytes at the model's sample rate."""
    samples = np.clip(waveform, -1.0, 1.0).reshape(-1, 1).astype(np.float32)
    return tf.audio.encode_wav(samples, config["sample_rate"]).numpy()


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32))
    return buffer.getvalue()


def example_file(modality: str, decoded, config: dict) -> tuple[str, bytes] | None:
    """`(suffix, file bytes)` of one decoded example, or None for a modality without a one-file form."""
    if modality == "image":
        return ".png", _image_png(np.asarray(decoded), config)
    if modality == "audio":
        return ".wav", _audio_wav(np.asarray(decoded), config)
    if modality == "points":
        return ".npy", _npy(np.asarray(decoded)[:, :3])
    if modality == "sensors":
        return ".npy", _npy(np.asarray(decoded))
    return None  # audio + video examples are folders of two files


def write_example_files(validation: tf.data.Dataset, processor, class_names: list[str], output_dir: Path,
                        count: int = 3) -> list[Path]:
    """Write the first `count` validation examples to `output_dir/examples/<n>_<class>.<ext>`.

    Args:
        validation: decoded `(example, label)` pairs (a `DataSource.val`); a label is a class id or a
            multi-hot row (named by its first class).
        processor: the data processor whose decoded form the examples are in.
        class_names: names of the labels.
        output_dir: the run's folder.
        count: how many examples.

    Returns:
        The files written (none for audio + video, which has no one-file form).
    """
    folder = Path(output_dir) / EXAMPLES_DIR
    written = []
    for n, (example, label) in enumerate(validation.take(count).as_numpy_iterator()):
        encoded = example_file(processor.modality, example, processor.config)
        if encoded is None:
            break
        label = np.asarray(label)
        class_id = int(np.argmax(label)) if label.ndim else int(label)
        name = re.sub(r"[^\w.-]+", "_", str(class_names[class_id]))
        path = folder / f"{n}_{name}{encoded[0]}"
        folder.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, lambda tmp, content=encoded[1]: Path(tmp).write_bytes(content))
        written.append(path)
    return written

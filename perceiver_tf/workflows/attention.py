"""`perceiver_tf.plot_attention`: a trained model's cross-attention on one file, drawn as a PNG.

The plot follows the model's modality: image -> per-latent maps over the pixels (or patches) for
the first and last cross-attend; audio and sensor streams -> the input over time, then per
cross-attend a heatmap (one row per latent) of attention over time; points -> points coloured by
attention; audio + video -> attention over time and over the middle frame. Every figure has the
file name and the predicted class with its probability in its title, a titled input panel,
labelled colour bars and a caption; the latents shown are the most focused ones with distinct maps
(`perceiver_tf.visualize.latent_groups`). The file goes through the model's own preprocessor, as
in `predict`.
"""

from __future__ import annotations

import os

from perceiver_tf.errors import PerceiverError
from perceiver_tf.option_names import option_name
from perceiver_tf.workflows.model_files import trained_model
from perceiver_tf.workflows.values import positive_int


def plot_attention(model, file: str | os.PathLike, out: str | os.PathLike, latents: int = 6) -> dict:
    """Draw `model`'s cross-attention on `file` into the PNG `out` (written atomically).

    Args:
        model: a `keras.Model` from `perceiver_tf.train` or its `model.keras` path.
        file: a file the model can read (a clip folder for audio + video).
        out: the PNG to write.
        latents: the most latents shown per cross-attend.

    Returns:
        `{"file", "out", "modality", "cross_attends", "attention_shape", "predicted", "probability",
        ["decoder_attention_shape"]}`.

    Raises:
        PerceiverError: a model, file or output that cannot be used (one line).
    """
    import numpy as np
    import tensorflow as tf

    from perceiver_tf import visualize
    from perceiver_tf.data.errors import error_reason
    from perceiver_tf.data.model_inputs import as_model_inputs, model_input_from_file, processor_of
    from perceiver_tf.export.saved_model import model_outputs
    from perceiver_tf.output_paths import writable_file
    from perceiver_tf.workflows.predict import non_finite_problem

    positive_int.check("latents", latents)
    file, out = os.fspath(file), os.fspath(out)
    writable_file(out, option_name("out"))
    model, metadata = trained_model(model)
    processor = processor_of(model)
    modality = metadata["modality"]
    try:
        example = tf.nest.map_structure(np.asarray, model_input_from_file(processor, tf.constant(file)))
    except (tf.errors.OpError, ValueError) as error:
        raise PerceiverError(f"cannot read {modality} file {file!r}: {error_reason(error)}") from None
    problem = non_finite_problem(example)
    if problem:
        raise PerceiverError(f"{file!r}: {problem}")
    inputs = as_model_inputs(model, example)
    maps = visualize.cross_attention_maps(model, inputs)
    probabilities = np.asarray(model_outputs(model, inputs)["probabilities"])[0]
    best = int(probabilities.argmax())
    class_names = metadata["class_names"]
    name = file.rstrip("/").split("/")[-1]
    common = dict(title=name, prediction=_prediction_text(model, class_names, probabilities),
                  num_latents=min(latents, maps[0].shape[2]))
    adapters = model.backbone.adapters
    preprocessing = metadata.get("preprocessing", {})
    if modality == "image":
        label = None
        order = getattr(adapters["inputs"], "position_order", None)
        if order is not None:  # positions travel with the pixels: show every pixel where it came from
            example, maps = _undo_pixel_permutation(example, maps, order)
            label = "input (pixel permutation undone)"
        elif "pixel_permutation_seed" in preprocessing:
            label = "input (pixels permuted, as the model sees them)"
        path = visualize.plot_image_attention(example, maps, out, grid=adapters["inputs"].element_grid,
                                              input_label=label, **common)
    elif modality in ("audio", "sensors"):
        if isinstance(example, dict):  # a recording with its step mask: the plot shows every step
            example = example["inputs"]
        maps = _over_time(maps, adapters["inputs"].element_grid)
        path = visualize.plot_sequence_attention(maps, out, **_sequence_input(modality, preprocessing, example,
                                                                                   maps[0].shape[-1]), **common)
    elif modality == "points":
        path = visualize.plot_point_attention(example, maps, out, **common)
    else:
        split = [visualize.attention_by_input(model, m) for m in maps]
        audio_maps = [s["audio"] for s in split]
        audio = _sequence_input("audio", preprocessing.get("audio", {}), example["audio"], audio_maps[0].shape[-1])
        path = visualize.plot_audio_video_attention(
            example["video"], audio_maps, [s["video"] for s in split], adapters["video"].element_grid, out,
            audio=audio["inputs"], seconds_per_element=audio["seconds_per_element"],
            audio_label=audio["input_label"].replace("input: ", "input audio: "),
            audio_feature_label=audio["feature_label"], **common)
    report = {"file": file, "out": str(path), "modality": modality, "cross_attends": len(maps),
              "attention_shape": list(maps[0].shape), "predicted": class_names[best],
              "probability": round(float(probabilities[best]), 6)}
    if getattr(model, "decoder", None) == "query":
        report["decoder_attention_shape"] = list(visualize.decoder_attention_maps(model, inputs)["head"].shape)
    return report


def _prediction_text(model, class_names, probabilities) -> str:
    """The figure title's prediction: "predicted: cat (p = 0.93)"; for a multi-label model, the labels above 0.5."""
    import numpy as np

    best = int(np.argmax(probabilities))
    if getattr(model, "multi_label", False):
        from perceiver_tf.workflows.predict import MULTI_LABEL_THRESHOLD

        labels = [f"{class_names[i]} ({probabilities[i]:.2f})" for i in np.argsort(-probabilities)
                  if probabilities[i] >= MULTI_LABEL_THRESHOLD]
        top = f"none above {MULTI_LABEL_THRESHOLD} (top: {class_names[best]}, p = {probabilities[best]:.2f})"
        return "labels: " + (", ".join(labels) if labels else top)
    return f"predicted: {class_names[best]} (p = {probabilities[best]:.2f})"


def _over_time(maps: list, grid: tuple[int, ...]) -> list:
    """Attention maps `(..., M)` over time: per-channel tokens (`grid` (time, channel)) summed over the channels."""
    if len(grid) < 2:
        return maps
    return [m.reshape(*m.shape[:-1], grid[0], -1).sum(-1) for m in maps]


def _sequence_input(modality: str, preprocessing: dict, example, num_elements: int) -> dict:
    """How `plot_sequence_attention` draws an audio or sensor example: the input panel and the time axis."""
    import numpy as np

    example = np.asarray(example, dtype="float64")
    if modality == "sensors":  # channels on their own scales: standardised so that each shows its variation
        standardised = (example - example.mean(axis=0)) / (example.std(axis=0) + 1e-12)
        return dict(inputs=standardised, input_unit="value (z-score per channel)", feature_label="channel",
                    input_label=f"input: {example.shape[-1]} sensor channels x {len(example)} time steps",
                    seconds_per_element=None)
    seconds = preprocessing["num_samples"] / preprocessing["sample_rate"] if preprocessing.get("sample_rate") else None
    seconds_per_element = seconds / num_elements if seconds else None
    if preprocessing.get("features", "waveform") == "waveform":
        return dict(inputs=example.reshape(-1), input_unit="amplitude", feature_label="",
                    input_label=f"input: waveform ({example.size} samples)", seconds_per_element=seconds_per_element)
    return dict(inputs=example, input_unit="log-mel value", feature_label="mel bin",
                input_label=f"input: log-mel spectrogram ({example.shape[0]} frames x {example.shape[1]} bins)",
                seconds_per_element=seconds_per_element)


def _undo_pixel_permutation(image, maps: list, order) -> tuple:
    """A permuted image `(H, W, C)` and its attention maps `(..., H * W)` back in the original pixel order
    (element k of the model's input is original pixel `order[k]`)."""
    import numpy as np

    inverse = np.argsort(order)
    height, width, channels = image.shape
    original = image.reshape(height * width, channels)[inverse].reshape(height, width, channels)
    return original, [np.asarray(m)[..., inverse] for m in maps]

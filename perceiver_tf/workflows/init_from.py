"""Fine-tuning from a trained model (the `init_from` option): the checks made before TensorFlow
starts, and the data read the way the model was trained."""

from __future__ import annotations

import os
from dataclasses import replace

from perceiver_tf.errors import OptionError, PerceiverError
from perceiver_tf.option_names import command_line_names, option_name
from perceiver_tf.workflows.model_files import (
    REQUIRED_CONVERTED_METADATA,
    missing_metadata,
    read_keras_config,
    saved_metadata,
)

#: `DataOptions` fields an init model's preprocessing config sets (`{config key: field}`) when the
#: user gives other data options (e.g. rand_augment) but not these.
_OPTIONS_FROM_PREPROCESSING = {"image_size": "image_size", "channels": "channels",
                               "pixel_permutation_seed": "pixel_permutation_seed", "num_points": "num_points",
                               "num_steps": "num_steps", "align": "point_align", "local_geometry": "local_geometry",
                               "normalize": "normalize_audio",
                               "center": "center_recordings", "sample_rate": "sample_rate",
                               "features": "audio_features", "patch_size": "audio_patch_size",
                               "num_mel_bins": "num_mel_bins"}


def _policy_name(dtype) -> str:
    """The name of a dtype policy as a Keras config holds it (a serialized policy or a string)."""
    if isinstance(dtype, dict):
        return str(dtype.get("config", {}).get("name", "float32"))
    return str(dtype or "float32")


def check_init_from(options) -> dict:
    """Check `options.init_from` (and the options it rules out) before TensorFlow starts; return the
    model's saved config (its `config.json`).

    The architecture comes from the init model: `preset` and `set` are refused. Its dtype too:
    `mixed_precision` must be on when (and only when) it was trained in mixed precision.

    Raises:
        OptionError: preset/set with init_from, or a mixed_precision that differs.
        PerceiverError: a missing, empty, corrupt or foreign file, or one without the metadata of
            a training run (one line, as evaluate reports it).
    """
    path, flag = options.init_from, option_name("init_from")
    given = [option_name(name) for name in ("preset", "set", "sequence_tokens", "sequence_patch_size")
             if getattr(options, name)]
    if given:
        raise OptionError(f"{flag} takes the architecture from {path!r}: remove {' and '.join(given)} "
                          f"({option_name('preset')}, {option_name('set')} and the sequence tokens choose the "
                          "architecture of a model trained from scratch).")
    saved = read_keras_config(path, "init_from")
    config = saved.get("config") if isinstance(saved, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("backbone"), dict):
        kind = saved.get("class_name", "model") if isinstance(saved, dict) else "model"
        raise PerceiverError(f"{flag} {path!r} is a {kind}, not a perceiver_tf classifier; "
                             "pass a model.keras written by `perceiver-tf train`.")
    metadata = saved_metadata(config)
    if metadata.get("modality") in REQUIRED_CONVERTED_METADATA:
        kind = "a masked language model" if metadata["modality"] == "text" else "an optical-flow model"
        raise PerceiverError(f"{flag} {path!r} is {kind}; {flag} takes an image, audio, point-cloud or "
                             "sensor classifier.")
    missing = missing_metadata(metadata)
    if missing:
        raise PerceiverError(f"{flag} {path!r} lacks metadata {missing}; train it with `perceiver-tf train`.")
    policy = _policy_name(config["backbone"].get("config", {}).get("dtype"))
    if options.mixed_precision != policy.startswith("mixed"):
        fix = "add" if policy.startswith("mixed") else "remove"
        raise OptionError(f"{flag} {path!r} computes in {policy} (its dtype policy is kept): "
                          f"{fix} {option_name('mixed_precision')}.")
    return saved


def check_init_output(init_from: str, output_dir: str) -> None:
    """Refuse an init model inside the output directory: a fresh run deletes or replaces its files.

    Raises:
        OptionError: naming both and what to do.
    """
    model_path = os.path.realpath(init_from)
    folder = os.path.realpath(output_dir)
    if os.path.commonpath([model_path, folder]) == folder:
        raise OptionError(f"{option_name('init_from')} {init_from!r} is inside {option_name('output_dir')} "
                          f"{output_dir!r}, whose files this run replaces; pass another {option_name('output_dir')}.")


def init_data_options(options, data_options, init_model):
    """`(DataOptions, processor)` to read the data for a model fine-tuned from `options.init_from`.

    Without modality data options (`MODALITY_OPTIONS`: image_size, rand_augment, ...), the data is
    read with the init model's own preprocessing (its `preprocessor`): the input shape
    matches. With some, the options are the user's, with what they leave open taken from the
    model's preprocessing; `check_init_preprocessing` then checks that the data is read as the
    model was trained (augmentation options such as rand_augment change no shape). rand_augment
    alone on an image model augments the model's own preprocessing (e.g. a converted checkpoint's
    ImageNet crop and normalisation).

    Args:
        options: the run's `TrainOptions`.
        data_options: the `DataOptions` those give.
        init_model: the model fine-tuning starts from.

    Raises:
        OptionError: `modality` differs from the model's.
    """
    from perceiver_tf.data.model_inputs import processor_of
    from perceiver_tf.data.options import MODALITY_OPTIONS, modality_options_set

    processor = processor_of(init_model)
    if options.modality and options.modality != processor.modality:
        raise OptionError(f"{option_name('modality')} {options.modality}: {option_name('init_from')} "
                          f"{options.init_from!r} reads {processor.modality} examples; remove "
                          f"{option_name('modality')} (the model's modality is used).")
    data_options = replace(data_options, modality=processor.modality)
    given = modality_options_set(data_options)
    if not given:
        return replace(data_options, processor=processor), processor
    if processor.modality == "image" and given == ["rand_augment"]:  # the model's preprocessing, augmented
        from perceiver_tf.data.images import ImageProcessor

        augmented = ImageProcessor.from_config(processor.config, rand_augment=True)
        return replace(data_options, processor=augmented), processor
    filled = {}
    for key, name in _OPTIONS_FROM_PREPROCESSING.items():
        if key in processor.config and name not in given and processor.modality in MODALITY_OPTIONS[name][1]:
            value = processor.config[key]
            filled[name] = tuple(value) if isinstance(value, list) else value
    if processor.modality == "audio" and "clip_seconds" not in given:
        filled["clip_seconds"] = processor.config["num_samples"] / processor.config["sample_rate"]
    return replace(data_options, **filled), processor


def check_init_preprocessing(init_from: str, source, processor) -> None:
    """The data options read the data as the init model was trained, or an `OptionError` naming what differs."""
    if source.processor is processor:
        return
    model_config, data_config = dict(processor.config), dict(source.processor.config)
    if model_config == data_config:
        return
    keys = sorted(k for k in set(model_config) | set(data_config) if model_config.get(k) != data_config.get(k))
    shown = lambda config: ", ".join(f"{k} {config.get(k, '(unset)')}" for k in keys)  # noqa: E731
    options = "flags" if command_line_names() else "options"
    raise OptionError(f"{option_name('init_from')} {init_from!r} reads its {processor.modality} data with "
                      f"{shown(model_config)}, but the data {options} give {shown(data_config)}: make them agree, or "
                      f"remove the data {options} to read the data as the model was trained.")

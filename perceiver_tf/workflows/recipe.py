"""The recipe of a training run: the options a user left out (`TrainOptions` fields that are `None`),
filled from the data (`perceiver_tf.training.recipes`), printed, and recorded in the model's metadata.

The record names each option by its `perceiver-tf train` flag (`"--epochs"`): the key `metrics.json`
and the model metadata have always used.
"""

from __future__ import annotations

from dataclasses import replace

from perceiver_tf.errors import OptionError
from perceiver_tf.option_names import command_line_names, option
from perceiver_tf.training.recipes import (
    RecipeChoice,
    audio_choices,
    epochs_for,
    image_choices,
    learning_rate_for,
    num_points_for,
    patience_for,
    point_cloud_choices,
    preset_for,
    sample_examples,
    sensor_choices,
)

#: Data options a recipe may fill, per modality: `{modality: {flag: option name}}`.
RECIPE_DATA_FLAGS = {
    "points": {"--num-points": "num_points", "--align": "align", "--rotate": "rotate",
               "--local-geometry": "local_geometry", "--axis-scale": "axis_scale", "--jitter": "jitter",
               "--point-dropout": "point_dropout", "--frame-sample": "frame_sample"},
    "audio": {"--normalize-audio": "normalize_audio", "--time-shift": "time_shift",
              "--frequency-warp": "frequency_warp"},
    "sensors": {"--center-recordings": "center_recordings", "--sequence-tokens": "sequence_tokens",
                "--sequence-patch-size": "sequence_patch_size", "--window-warp": "window_warp"},
    "image": {"--mixup": "mixup"},
}
#: Options that set preprocessing (saved with the model): a fine-tuned model keeps its own.
PREPROCESSING_FLAGS = ("--num-points", "--align", "--local-geometry", "--normalize-audio", "--center-recordings")
#: Data options that shape the model (its tokens): a fine-tuned model keeps its own architecture.
ARCHITECTURE_FLAGS = ("--sequence-tokens", "--sequence-patch-size")


def _left_out(options, dest: str) -> bool:
    """Whether the user left the flag of `dest` to the recipe (`None`, or "auto" for --rotate)."""
    return getattr(options, dest) in (None, "auto")


def choose_recipe(options, source) -> list[RecipeChoice]:
    """The choices for the flags `options` leaves out, from what `source` holds; `options` is updated with them.

    Raises:
        OptionError: --warmup-epochs not fewer than the (given or chosen) --epochs.
    """
    data_choices = _open_data_choices(options, source)  # first: mixing examples lengthens training
    if options.mixup is None:
        options.mixup = 0.0
    choices = []
    if not options.init_from and _left_out(options, "preset"):
        choices.append(preset_for(source.num_train))
        options.preset = choices[-1].value
    if _left_out(options, "learning_rate"):
        choices.append(learning_rate_for(options.preset or "", source.num_train))
        options.learning_rate = choices[-1].value
    if _left_out(options, "epochs"):
        choices.append(epochs_for(source.num_train, options.batch_size, mixing=bool(options.mixup or options.cutmix)))
        options.epochs = choices[-1].value
    if _left_out(options, "early_stopping"):
        choices.append(patience_for(options.epochs, source.num_val))
        options.early_stopping = choices[-1].value
    if options.warmup_epochs >= options.epochs:
        raise OptionError(f"{option('warmup_epochs', str(options.warmup_epochs))} must be fewer than "
                          f"{option('epochs', str(options.epochs))}.")
    return choices + data_choices


def _open_data_choices(options, source) -> list[RecipeChoice]:
    """The data choices (`RECIPE_DATA_FLAGS`) for the flags `options` leaves out; `options` is updated with them.
    A fine-tuned model keeps its own preprocessing (alignment, normalisation): only augmentations
    change. A given --cutmix leaves MixUp off."""
    flags = RECIPE_DATA_FLAGS.get(source.modality, {})
    open_flags = [flag for flag, dest in flags.items()
                  if _left_out(options, dest)
                  and not (options.init_from and flag in PREPROCESSING_FLAGS + ARCHITECTURE_FLAGS)
                  and not (flag == "--mixup" and options.cutmix)]
    chosen = []
    for choice in _data_choices(source, open_flags, _decided_alignment(options, source),
                                options.sequence_tokens) if open_flags else []:
        if choice.flag in open_flags:
            setattr(options, flags[choice.flag], choice.value)
            chosen.append(choice)
    return chosen


def _decided_alignment(options, source) -> str | None:
    """A point cloud's alignment when it is not the recipe's to choose: given by --align, or a fine-tuned
    model's own; else `None`."""
    if options.init_from:
        return source.processor.config.get("align", "none")
    return options.align


def _data_choices(source, open_flags: list[str], align: str | None = None,
                  sequence_tokens: str | None = None) -> list[RecipeChoice]:
    """The recipe's data choices for `source`'s modality; the data is examined only for the flags
    that need it (a point cloud's rotation, a recording's centring) when they are open. `align`:
    `_decided_alignment`; `sequence_tokens`: the given tokens of sensor recordings, if any."""
    if source.modality == "points":
        # xyz only: decoded rows may carry local-geometry features after the coordinates.
        clouds = [rows[:, :3] for rows in sample_examples(source.train, source.num_train)] \
            if {"--rotate", "--num-points"} & set(open_flags) else []
        choices = point_cloud_choices(clouds if "--rotate" in open_flags else [], align)
        return [num_points_for([len(cloud) for cloud in clouds])] + choices if clouds else choices
    if source.modality == "sensors":
        recordings, labels = (sample_examples(source.train, source.num_train, with_labels=True)
                              if {"--center-recordings", "--window-warp"} & set(open_flags) else ([], []))
        return sensor_choices(recordings, source.processor.config["num_steps"], sequence_tokens, labels)
    if source.modality == "image":
        return image_choices()
    return audio_choices(source.processor.config["features"])


def apply_recipe(options, source):
    """`source` with its processor rebuilt from `options` (`DataOptions`, the recipe's choices filled
    in) by the processor itself (`with_options`): the preprocessing the recipe chose (a cloud's
    alignment, a clip's normalisation, a recording's centring) and the augmentations. Rows the old
    processor cached are re-decoded where the new one reads them differently (`redecode`: e.g. local
    geometry added to point clouds decoded as xyz)."""
    import tensorflow as tf

    processor = source.processor.with_options(options)
    redecode = getattr(processor, "redecode", lambda previous: None)(source.processor)
    if redecode is None:
        return replace(source, processor=processor)
    decoded = lambda rows, label: (redecode(rows), label)  # noqa: E731
    return replace(source, processor=processor, train=source.train.map(decoded, tf.data.AUTOTUNE),
                   val=source.val.map(decoded, tf.data.AUTOTUNE))


def none_if_auto(value):
    """A flag value with the recipe's "auto" read as not given."""
    return None if value == "auto" else value


def recipe_record(options, source, choices: list[RecipeChoice]) -> dict:
    """`metrics.json`'s and the model metadata's "recipe": the value of every flag a recipe may
    choose, and why the recipe chose those it did."""
    flags = {"--preset": options.preset, "--learning-rate": options.learning_rate, "--epochs": options.epochs,
             "--early-stopping": options.early_stopping}
    flags.update({flag: getattr(options, dest) for flag, dest in RECIPE_DATA_FLAGS.get(source.modality, {}).items()})
    return {"flags": flags, "chosen": {choice.flag: choice.reason for choice in choices}}


def describe_recipe(choices: list[RecipeChoice]) -> str:
    """The training log's recipe line."""
    given = "flag" if command_line_names() else "option"
    if not choices:
        return f"Recipe: every choice given by a{'n' if given == 'option' else ''} {given}."
    return (f"Recipe (from the data; a{'n' if given == 'option' else ''} {given} overrides each): "
            + "; ".join(c.describe() for c in choices) + ".")

"""The recipe of a `perceiver-tf train` run: the flags a user left out, filled from the data
(`perceiver_tf.training.recipes`), printed, and recorded in the model's metadata."""

from __future__ import annotations

from dataclasses import replace

from perceiver_tf.commands.errors import UsageError
from perceiver_tf.training.recipes import (
    RecipeChoice,
    epochs_for,
    learning_rate_for,
    patience_for,
    point_cloud_choices,
    preset_for,
    sample_examples,
    sensor_choices,
)

#: Point-cloud flags a recipe may fill: `{flag: argparse dest}`.
POINT_FLAGS = {"--align": "align", "--rotate": "rotate", "--axis-scale": "axis_scale", "--jitter": "jitter",
               "--point-dropout": "point_dropout"}


def _left_out(args, dest: str) -> bool:
    """Whether the user left the flag of `dest` to the recipe (`None`, or "auto" for --rotate)."""
    return getattr(args, dest) in (None, "auto")


def choose_recipe(args, source) -> list[RecipeChoice]:
    """The choices for the flags `args` leaves out, from what `source` holds; `args` is updated with them.

    Raises:
        UsageError: --warmup-epochs not fewer than the (given or chosen) --epochs.
    """
    choices = []
    if not args.init_from and _left_out(args, "preset"):
        choices.append(preset_for(source.num_train))
        args.preset = choices[-1].value
    if _left_out(args, "learning_rate"):
        choices.append(learning_rate_for(args.preset or ""))
        args.learning_rate = choices[-1].value
    if _left_out(args, "epochs"):
        choices.append(epochs_for(source.num_train, args.batch_size))
        args.epochs = choices[-1].value
    if _left_out(args, "early_stopping"):
        choices.append(patience_for(args.epochs))
        args.early_stopping = choices[-1].value
    if args.warmup_epochs >= args.epochs:
        raise UsageError(f"--warmup-epochs {args.warmup_epochs} must be fewer than --epochs {args.epochs}.")
    if source.modality == "sensors" and _left_out(args, "center_recordings") and not args.init_from:
        choices += sensor_choices(sample_examples(source.train, source.num_train))
        args.center_recordings = choices[-1].value
    if source.modality == "points" and any(_left_out(args, dest) for dest in POINT_FLAGS.values()):
        clouds = sample_examples(source.train, source.num_train) if _left_out(args, "rotate") else []
        for choice in point_cloud_choices(clouds):
            # A fine-tuned model keeps its own preprocessing (alignment): only augmentations change.
            if _left_out(args, POINT_FLAGS[choice.flag]) and not (args.init_from and choice.flag == "--align"):
                setattr(args, POINT_FLAGS[choice.flag], choice.value)
                choices.append(choice)
    return choices


def apply_recipe(args, source):
    """`source` with the settings the recipe chose that its processor holds: a point cloud's
    alignment and augmentations, a sensor recording's centring (the other flags are read when the
    data is loaded)."""
    config = source.processor.config
    if source.modality == "points":
        from perceiver_tf.data.points import PointsProcessor

        processor = PointsProcessor(
            config["num_points"], none_if_auto(args.rotate) or "none", args.jitter or 0.0,
            tuple(args.scale) if args.scale else None, tuple(args.axis_scale) if args.axis_scale else None,
            args.point_dropout or 0.0, args.align or config.get("align", "none"))
    elif source.modality == "sensors" and args.center_recordings is not None:
        from perceiver_tf.data.sensors_processor import SensorProcessor

        processor = SensorProcessor(config["num_steps"], config["channels"], args.center_recordings)
    else:
        return source
    return replace(source, processor=processor)


def none_if_auto(value):
    """A flag value with the recipe's "auto" read as not given."""
    return None if value == "auto" else value


def recipe_record(args, source, choices: list[RecipeChoice]) -> dict:
    """`metrics.json`'s and the model metadata's "recipe": the value of every flag a recipe may
    choose, and why the recipe chose those it did."""
    flags = {"--preset": args.preset, "--learning-rate": args.learning_rate, "--epochs": args.epochs,
             "--early-stopping": args.early_stopping}
    if source.modality == "points":
        flags.update({flag: getattr(args, dest) for flag, dest in POINT_FLAGS.items()})
    if source.modality == "sensors":
        flags["--center-recordings"] = args.center_recordings
    return {"flags": flags, "chosen": {choice.flag: choice.reason for choice in choices}}


def describe_recipe(choices: list[RecipeChoice]) -> str:
    """The training log's recipe line."""
    if not choices:
        return "Recipe: every choice given by a flag."
    return "Recipe (from the data; a flag overrides each): " + "; ".join(c.describe() for c in choices) + "."

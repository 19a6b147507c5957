"""`TrainOptions`: every option of a training run, one field per `perceiver-tf train` flag.

`perceiver_tf.train(data, output_dir, **options)` takes these as keywords and `perceiver-tf train`
as flags (`--image-size` is `image_size`); both check them here (`TrainOptions.check`), with
the value rules of `VALUE_RULES` that the CLI's argparse types share. `None` (and "auto" for
`rotate`) leaves the choice to the recipe read from the data (`perceiver_tf.workflows.recipe`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from perceiver_tf.errors import OptionError
from perceiver_tf.model_options import SEQUENCE_TOKENS
from perceiver_tf.option_names import option, option_name
from perceiver_tf.workflows.values import (
    below_one,
    check_choice,
    neighbour_count,
    non_negative_float,
    non_negative_int,
    open_fraction,
    positive_float,
    positive_int,
)

#: The preset whose `set` keys are checked before the data is read (the recipe then picks tiny or small).
DEFAULT_PRESET = "small"

#: Allowed values of the options that have rules: a `Number` (argparse type and Python check) or a tuple of choices.
VALUE_RULES = {
    "modality": ("image", "audio", "points", "sensors", "audio_video"),
    "validation_fraction": open_fraction,
    "image_size": positive_int,
    "channels": (1, 3),
    "permute_pixels": non_negative_int,
    "sample_rate": positive_int,
    "clip_seconds": positive_float,
    "audio_features": ("log_mel", "waveform"),
    "patch_size": positive_int,
    "mel_bins": positive_int,
    "time_shift": below_one,
    "gain_db": non_negative_float,
    "frequency_warp": below_one,
    "num_points": positive_int,
    "rotate": ("auto", "none", "z", "so3"),
    "align": ("none", "pca"),
    "local_geometry": neighbour_count,
    "jitter": non_negative_float,
    "scale": positive_float,
    "axis_scale": positive_float,
    "point_dropout": below_one,
    "frame_sample": below_one,
    "num_steps": positive_int,
    "window_warp": below_one,
    "sequence_tokens": SEQUENCE_TOKENS,
    "sequence_patch_size": positive_int,
    "num_frames": positive_int,
    "epochs": positive_int,
    "early_stopping": non_negative_int,
    "selection_window": positive_int,
    "batch_size": positive_int,
    "seed": non_negative_int,
    "optimizer": ("lamb", "adamw"),
    "learning_rate": positive_float,
    "weight_decay": non_negative_float,
    "clipnorm": non_negative_float,
    "warmup_epochs": non_negative_float,
    "label_smoothing": below_one,
    "mixup": non_negative_float,
    "cutmix": non_negative_float,
    "strategy": ("auto", "one_device", "mirrored", "multi_worker", "tpu"),
    "cpu_devices": non_negative_int,
}
#: Options that take a pair `(low, high)` / `(H, W)`.
PAIRS = ("image_size", "scale", "axis_scale")


@dataclass
class TrainOptions:
    """Every option of a training run (the `perceiver-tf train` flags in snake_case; see `--help`
    for each one's meaning). `None` leaves a choice to the recipe."""

    # data
    modality: str | None = None
    multi_label: bool = False
    validation_fraction: float = 0.2
    skip_bad_files: bool = False
    no_cache: bool = False
    # images (and video frames)
    image_size: tuple[int, int] | None = None
    channels: int | None = None
    rand_augment: bool = False
    permute_pixels: int | None = None
    # audio
    sample_rate: int = 16000
    clip_seconds: float = 1.0
    audio_features: str = "log_mel"
    patch_size: int = 128
    mel_bins: int = 64
    normalize_audio: bool | None = None
    time_shift: float | None = None
    gain_db: float | None = None
    frequency_warp: float | None = None
    # point clouds
    num_points: int | None = None
    rotate: str = "auto"
    align: str | None = None
    local_geometry: int | None = None
    jitter: float | None = None
    scale: tuple[float, float] | None = None
    axis_scale: tuple[float, float] | None = None
    point_dropout: float | None = None
    frame_sample: float | None = None
    # sensor streams and video clips
    num_steps: int | None = None
    center_recordings: bool | None = None
    window_warp: float | None = None
    sequence_tokens: str | None = None
    sequence_patch_size: int | None = None
    num_frames: int = 8
    # model
    preset: str | None = None
    set: dict = field(default_factory=dict)
    init_from: str | None = None
    freeze_backbone: bool = False
    # recipe
    epochs: int | None = None
    early_stopping: int | None = None
    selection_window: int = 1
    batch_size: int = 64
    seed: int = 0
    optimizer: str = "adamw"
    learning_rate: float | None = None
    weight_decay: float = 0.01
    clipnorm: float = 10.0
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    mixup: float | None = None
    cutmix: float = 0.0
    # devices
    strategy: str = "auto"
    tpu: str | None = None
    cpu_devices: int = 0
    mixed_precision: bool = False
    jit_compile: bool | None = None
    # output
    restart: bool = False
    overwrite: bool = False
    no_tensorboard: bool = False
    verbose: str | int = "auto"

    @classmethod
    def from_keywords(cls, keywords: dict) -> "TrainOptions":
        """Options from keyword arguments, checked (`check`).

        Raises:
            OptionError: an unknown keyword (with the closest known ones), or a value out of its range.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(keywords) - known)
        if unknown:
            import difflib

            close = [m for name in unknown for m in difflib.get_close_matches(name, known, 1)]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise OptionError(f"unknown option(s) {', '.join(unknown)}{hint}; the options are the fields of "
                              "perceiver_tf.TrainOptions (each `perceiver-tf train` flag in snake_case).")
        options = cls(**{k: tuple(v) if k in PAIRS and v is not None else v for k, v in keywords.items()})
        options.check()
        return options

    def check(self) -> None:
        """Each value within its rule, and the options that only make sense together.

        Raises:
            OptionError: naming the option and what it needs.
        """
        for name, rule in VALUE_RULES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(rule, tuple):
                check_choice(name, value, rule)
            elif name in PAIRS:
                if len(value) != 2:
                    raise OptionError(f"{option_name(name)} takes two values, got {value!r}.")
                for item in value:
                    rule.check(name, item)
            else:
                rule.check(name, value)
        if self.verbose not in ("auto", 0, 1, 2):
            raise OptionError(f"{option_name('verbose')} must be auto, 0, 1 or 2, got {self.verbose!r}.")
        if not isinstance(self.set, dict):
            raise OptionError(f"{option_name('set')} takes model arguments {{name: value}}, got {self.set!r}.")
        if self.epochs is not None and self.warmup_epochs >= self.epochs:
            raise OptionError(f"{option('warmup_epochs', str(self.warmup_epochs))} must be fewer than "
                              f"{option('epochs', str(self.epochs))}.")
        for name in ("scale", "axis_scale"):
            low_high = getattr(self, name)
            if low_high and low_high[0] > low_high[1]:
                raise OptionError(f"{option(name, 'LOW HIGH', '(LOW, HIGH)')} needs LOW <= HIGH. "
                                  f"Received: {low_high[0]} {low_high[1]}")
        if self.tpu and self.strategy not in ("auto", "tpu"):
            raise OptionError(f"{option_name('tpu')} names a TPU for {option('strategy', 'tpu', repr('tpu'))}, "
                              f"but {option_name('strategy')} is {self.strategy!r}.")
        if self.sequence_tokens == "steps" and self.sequence_patch_size not in (None, 1):
            raise OptionError(f"{option('sequence_patch_size', str(self.sequence_patch_size))} groups time steps into "
                              f"tokens, but {option('sequence_tokens', 'steps', repr('steps'))} makes one token per "
                              "step: choose patches, conv or channels, or drop the patch size.")
        if self.freeze_backbone and not self.init_from:
            raise OptionError(f"{option_name('freeze_backbone')} keeps a trained model's backbone: add "
                              f"{option('init_from', 'MODEL.keras', repr('MODEL.keras'))}.")

"""How a data source is read (`DataOptions`) and which options belong to which modality.

No TensorFlow here: options can be built and checked before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from perceiver_tf.data.errors import DataOptionError
from perceiver_tf.option_names import option_name


@dataclass
class DataOptions:
    """How a source is read and preprocessed: the data options (`MODALITY_OPTIONS` names the
    modality-specific ones as a user gives them).

    Settings left open are read from all the files (every file is decoded once before training):

    - `image_size=None`: the median image size by area (H x W; the upper median of an even count),
      so a few odd-sized files do not decide, shrunk to at most
      `processor_factory.DEFAULT_MAX_IMAGE_SIDE` a side. Every image is resized to it; a
      `DataWarning` lists the sizes when they differ. For audio + video clips, the same over each
      clip's frame size.
    - `channels=None`: 3 (RGB) when any image or clip has colour, else 1 (all grey stay grey).
    - `num_steps=None`: the longest sensor recording (up to `processor_factory.DEFAULT_MAX_SENSOR_STEPS`).
    - `multi_label=None`: from a manifest's labels (multi-label when a file has none or several).

    The options of one modality (`MODALITY_OPTIONS`) set on data of another are an error.
    """

    modality: str | None = None
    validation_fraction: float = 0.2
    seed: int = 0
    skip_bad_files: bool = False
    image_size: tuple[int, int] | None = None
    channels: int | None = None
    rand_augment: bool = False
    pixel_permutation_seed: int | None = None
    sample_rate: int = 16000
    clip_seconds: float = 1.0
    audio_features: str = "log_mel"
    audio_patch_size: int = 128
    num_mel_bins: int = 64
    normalize_audio: bool = False
    time_shift: float = 0.0
    gain_db: float = 0.0
    frequency_warp: float = 0.0
    num_points: int | None = None  # None: points.DEFAULT_NUM_POINTS
    rotate: str | bool = "none"  # "none" | "z" | "so3" (True: "z", False: "none")
    jitter: float = 0.0
    scale_range: tuple[float, float] | None = None
    axis_scale_range: tuple[float, float] | None = None
    point_dropout: float = 0.0
    point_align: str = "none"
    frame_sample: float = 0.0
    local_geometry: int = 0
    num_steps: int | None = None
    center_recordings: bool = False
    window_warp: float = 0.0
    num_frames: int = 8
    multi_label: bool | None = None
    #: Use this processor (e.g. a trained model's, `processor_from_config(metadata["preprocessing"])`)
    #: instead of one sized from the data: evaluation data is then read exactly as in training.
    processor: object | None = None


#: Modality-specific `DataOptions` fields: `{field: (its option's name, the modalities that read it)}`.
#: The name is the option's keyword (snake_case; `perceiver-tf train`'s flag with dashes); messages
#: spell it with `option_names.option_name`.
MODALITY_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "image_size": ("image_size", ("image", "audio_video")),
    "channels": ("channels", ("image", "audio_video")),
    "rand_augment": ("rand_augment", ("image",)),
    "pixel_permutation_seed": ("permute_pixels", ("image",)),
    "sample_rate": ("sample_rate", ("audio", "audio_video")),
    "clip_seconds": ("clip_seconds", ("audio", "audio_video")),
    "audio_features": ("audio_features", ("audio", "audio_video")),
    "audio_patch_size": ("patch_size", ("audio", "audio_video")),
    "num_mel_bins": ("mel_bins", ("audio", "audio_video")),
    "normalize_audio": ("normalize_audio", ("audio", "audio_video")),
    "time_shift": ("time_shift", ("audio", "audio_video")),
    "gain_db": ("gain_db", ("audio", "audio_video", "sensors")),
    "frequency_warp": ("frequency_warp", ("audio", "audio_video")),
    "num_points": ("num_points", ("points",)),
    "rotate": ("rotate", ("points",)),
    "jitter": ("jitter", ("points", "sensors")),
    "scale_range": ("scale", ("points",)),
    "axis_scale_range": ("axis_scale", ("points",)),
    "point_dropout": ("point_dropout", ("points",)),
    "point_align": ("align", ("points",)),
    "frame_sample": ("frame_sample", ("points",)),
    "local_geometry": ("local_geometry", ("points",)),
    "num_steps": ("num_steps", ("sensors",)),
    "center_recordings": ("center_recordings", ("sensors",)),
    "window_warp": ("window_warp", ("sensors",)),
    "num_frames": ("num_frames", ("audio_video",)),
}
#: Each modality as messages name it.
MODALITY_NAMES = {"image": "images", "audio": "audio", "points": "point clouds", "sensors": "sensor recordings",
                  "audio_video": "audio + video clips"}


def modality_options_set(options: DataOptions) -> list[str]:
    """The `MODALITY_OPTIONS` fields `options` sets off their defaults (the modality options a user gave)."""
    defaults = DataOptions()
    return [name for name in MODALITY_OPTIONS if getattr(options, name) != getattr(defaults, name)]


def check_options(modality: str, options: DataOptions) -> None:
    """Refuse the `MODALITY_OPTIONS` that `options` sets (off their defaults) and `modality` does not read.

    Raises:
        DataOptionError: naming each such option and the modalities it applies to.
    """
    stray = [MODALITY_OPTIONS[name] for name in modality_options_set(options)
             if modality not in MODALITY_OPTIONS[name][1]]
    if stray:
        uses = "; ".join(f"{option_name(name)} applies to {' and '.join(MODALITY_NAMES[m] for m in readers)}"
                         for name, readers in stray)
        raise DataOptionError(f"{uses}, but this data is {MODALITY_NAMES[modality]}; "
                              f"remove {'it' if len(stray) == 1 else 'them'}.")

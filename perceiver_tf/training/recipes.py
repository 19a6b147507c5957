"""Training recipes chosen from the data: what `perceiver-tf train` does with the flags a user leaves out.

A recipe is a list of `RecipeChoice`s, each a flag's value with the reason it was chosen, made
from what the data is (modality, data-set size, the clouds' orientation), never from class names
or file names. The CLI applies a choice only where its flag was not given, prints the choices
and records them in `metrics.json` (and the model's metadata) as `"recipe"`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perceiver_tf.option_names import option

#: Data sets with fewer training examples than this get the `tiny` preset, larger ones `small`. Measured:
#: on 1,149-1,437 digit images tiny (with MixUp, 1,500 steps) beat small in half the time; not measured
#: between 1,437 and this bound.
TINY_PRESET_BELOW = 2000
#: Peak learning rate (AdamW, cosine decay): `FAST_LEARNING_RATE` for preset tiny on fewer than
#: `FAST_LEARNING_RATE_BELOW` examples (a few steps per epoch), else `DEFAULT_LEARNING_RATE`.
FAST_LEARNING_RATE, FAST_LEARNING_RATE_BELOW = 3e-3, 1000
DEFAULT_LEARNING_RATE = 1e-3
#: A run trains for at least this many optimizer steps (more epochs on a small data set), this many
#: times more when it mixes examples (MixUp, CutMix: each step's targets are softer)...
MIN_TRAIN_STEPS, MIXING_STEPS_FACTOR = 500, 3
#: ...and for at least / at most this many epochs.
MIN_EPOCHS, MAX_EPOCHS = 25, 300
#: Early stopping waits this fraction of the epochs (at least `MIN_PATIENCE`) for a better validation score...
PATIENCE_FRACTION, MIN_PATIENCE = 0.25, 10
#: ...when the validation split has at least this many examples; below, the whole schedule runs and the
#: last epoch is kept (a best epoch picked on a few dozen examples is picked by chance).
EARLY_STOPPING_MIN_VALIDATION = 200
#: A principal axis within this angle (degrees) of a direction counts as lying along it.
AXIS_TOLERANCE_DEGREES = 10.0
#: The fraction of well-defined principal axes that must lie along a coordinate axis (or along z / in
#: the xy plane) for the clouds to count as axis-aligned (upright).
ALIGNED_FRACTION = 0.6
#: A principal axis is well defined when its eigenvalue differs from the others by this relative gap.
MIN_EIGENVALUE_GAP = 0.15
#: Examples (clouds, recordings) a recipe examines, evenly spread over the training set.
EXAMINED_EXAMPLES = 256
#: Sensor recordings are centred when their per-recording means hold at least this share of the variance.
OFFSET_SHARE_TO_CENTER = 0.25
#: Sensor recordings become per-channel tokens (`SequenceAdapter(sequence_tokens="channels")`) of about
#: `num_steps / SEQUENCE_TOKENS_ALONG_TIME` steps each (at least 1), measured on noisy sinusoids of 1 / 2.5 / 4 Hz
#: (6 channels, 90-130 steps at 25 Hz, 72 training recordings; `python -m benchmarks.bench_sequence_tokens`).
#: The three-layer stem ("fcn") with gain, noise and window warping lifted JapaneseVowels (0.927 / 0.903 ->
#: 0.984 / 0.973, seeds 0 / 1) but lowered the task suite's simulated activities (0.988 -> 0.84, variant 0).
SEQUENCE_TOKENS, SEQUENCE_TOKENS_ALONG_TIME = "channels", 16
#: Window warping of sensor recordings (`SensorProcessor(window_warp=...)`): in training a random window of at
#: least 80% of each recording stretched back to its length, unless the recordings are periodic (`periodicity`
#: at least `PERIODIC_RECORDINGS`: stretching changes their frequencies, which may be what tells the classes
#: apart). Measured with "fcn" tokens, seed 0 (test accuracy): GunPoint (periodicity -0.02) 0.72 with a 2 dB
#: gain and 3% noise, 0.96 with the warping too; ACSF1 (periodicity 1.0) 0.78 and 0.40. Gain and noise
#: (`--gain-db`, `--jitter`) are not chosen: the task suite's activities are not measured with them alone.
WINDOW_WARP = 0.2
#: Recordings whose median `periodicity` reaches this count as periodic (measured: the archive's ACSF1 1.0,
#: noisy sinusoids 0.74, simulated activities 0.63; BasicMotions 0.46, ArrowHead 0.41, GunPoint -0.02,
#: JapaneseVowels -0.08, ItalyPowerDemand -0.05).
PERIODIC_RECORDINGS = 0.5
#: Point-cloud augmentations (besides rotation) every point recipe uses: mild per-axis scaling,
#: 1% jitter, and up to 20% point dropout (PointNet++'s).
POINT_AUGMENTATION = {"axis_scale": (0.8, 1.25), "jitter": 0.01, "point_dropout": 0.2}
#: `--num-points` is the median cloud's point count rounded up to a power of two, within this range.
NUM_POINTS_RANGE = (128, 1024)
#: With the principal-axis frame, each training cloud's frame comes from this fraction of its points:
#: half the points estimate the frame's uncertainty as a bootstrap does.
FRAME_SAMPLE = 0.5
#: Neighbours of each point whose shape (`preprocessing.local_geometry`) every point recipe appends to it.
LOCAL_GEOMETRY_NEIGHBORS = 32
#: Audio augmentations every audio recipe uses: clips moved by up to 10% of their length, and (log-mel
#: features) spectra stretched by up to 10% along frequency (vocal-tract length perturbation).
AUDIO_AUGMENTATION = {"time_shift": 0.1, "frequency_warp": 0.1}
#: MixUp's Beta alpha for images (the blend is pixel by pixel: valid under a pixel permutation too).
IMAGE_MIXUP_ALPHA = 0.2


@dataclass(frozen=True)
class RecipeChoice:
    """One option's value in a recipe, and why (`flag`: the option's `perceiver-tf train` flag, the key
    `metrics.json` records it under)."""

    flag: str
    value: object
    reason: str

    def describe(self) -> str:
        """`--preset tiny (why)` on the command line, `preset='tiny' (why)` from Python."""
        name = self.flag[2:].replace("-", "_")
        if isinstance(self.value, (tuple, list)):
            shown = option(name, " ".join(str(v) for v in self.value), repr(tuple(self.value)))
        else:
            shown = option(name, str(self.value), repr(self.value))
        return f"{shown} ({self.reason})"


def preset_for(num_train: int | None) -> RecipeChoice:
    """`tiny` (84k-96k parameters) below `TINY_PRESET_BELOW` training examples, else (or when the
    count is unknown: a streamed source) `small`."""
    if num_train is None:
        return RecipeChoice("--preset", "small", "the number of training examples is unknown")
    if num_train < TINY_PRESET_BELOW:
        return RecipeChoice("--preset", "tiny", f"{num_train} training examples (< {TINY_PRESET_BELOW})")
    return RecipeChoice("--preset", "small", f"{num_train} training examples (>= {TINY_PRESET_BELOW})")


def learning_rate_for(preset: str, num_train: int | None) -> RecipeChoice:
    """`FAST_LEARNING_RATE` for preset tiny on fewer than `FAST_LEARNING_RATE_BELOW` training examples
    (measured on 128-400 examples), else `DEFAULT_LEARNING_RATE` (the fast rate stalled one of four
    MixUp runs on 1,437 digits at 0.925 validation accuracy; 1e-3 reached 0.969 on it)."""
    if preset == "tiny" and num_train is not None and num_train < FAST_LEARNING_RATE_BELOW:
        return RecipeChoice("--learning-rate", FAST_LEARNING_RATE,
                            f"peak rate for preset tiny below {FAST_LEARNING_RATE_BELOW} examples, cosine decay to 0")
    return RecipeChoice("--learning-rate", DEFAULT_LEARNING_RATE, "peak rate, cosine decay to 0")


def epochs_for(num_train: int | None, batch_size: int, mixing: bool = False) -> RecipeChoice:
    """Enough epochs for `MIN_TRAIN_STEPS` optimizer steps (`MIXING_STEPS_FACTOR` times more when
    `mixing` examples), within [`MIN_EPOCHS`, `MAX_EPOCHS`] (`MIN_EPOCHS` when the number of training
    examples is unknown: a streamed source)."""
    if num_train is None:
        return RecipeChoice("--epochs", MIN_EPOCHS, "the number of training examples is unknown")
    steps = max(1, math.ceil(num_train / batch_size))
    min_steps = MIN_TRAIN_STEPS * (MIXING_STEPS_FACTOR if mixing else 1)
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(min_steps / steps)))
    mixed = " (mixed examples)" if mixing else ""
    return RecipeChoice("--epochs", epochs, f"{steps} steps per epoch; at least {min_steps} steps{mixed}, "
                                            f"{MIN_EPOCHS}-{MAX_EPOCHS} epochs")


def patience_for(epochs: int, num_val: int | None) -> RecipeChoice:
    """Stop after a quarter of the epochs (at least `MIN_PATIENCE`) without a better validation score;
    0 (no early stopping: the last epoch of the cosine schedule is kept) below
    `EARLY_STOPPING_MIN_VALIDATION` validation examples. Measured on 48 validation clouds (rotated
    shapes): the best epoch scored 0.979/0.958 on them and 0.900/0.950 on the test clouds; the last
    epoch 0.938/0.938 and 0.929/0.963."""
    if num_val is not None and num_val < EARLY_STOPPING_MIN_VALIDATION:
        return RecipeChoice("--early-stopping", 0, f"{num_val} validation examples (< {EARLY_STOPPING_MIN_VALIDATION}): "
                                                   "too few to pick a best epoch; the last epoch is kept")
    patience = max(MIN_PATIENCE, round(PATIENCE_FRACTION * epochs))
    return RecipeChoice("--early-stopping", patience, "epochs without a better validation score before "
                                                      "stopping; the best epoch's weights are kept")


def principal_axes(points: np.ndarray) -> list[np.ndarray]:
    """The well-defined principal axes (unit vectors) of a cloud `(n, 3)`: those whose variance differs
    from both others by at least `MIN_EIGENVALUE_GAP` of the largest (a sphere has none, a cylinder one)."""
    centred = points - points.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred / max(len(points), 1))
    scale = max(values[-1], 1e-12)
    return [vectors[:, k] for k in range(3)
            if all(abs(values[k] - values[j]) >= MIN_EIGENVALUE_GAP * scale for j in range(3) if j != k)]


def point_cloud_orientation(clouds: list[np.ndarray]) -> tuple[str, str]:
    """The rotation augmentation the clouds call for, `("none" | "z" | "so3", reason)`.

    Looks at the well-defined principal axes of the clouds: when most lie along a coordinate axis,
    the data is axis-aligned ("none": its orientation carries information); when most lie along z or
    in the xy plane, the clouds are upright with any heading ("z"); otherwise they come in any
    orientation ("so3"). Uniformly rotated clouds put about 5% of their axes along a coordinate axis
    and about 19% along z or in the xy plane (within `AXIS_TOLERANCE_DEGREES`).
    """
    tolerance = math.cos(math.radians(AXIS_TOLERANCE_DEGREES))
    planar = math.sin(math.radians(AXIS_TOLERANCE_DEGREES))
    axes = [axis for cloud in clouds for axis in principal_axes(cloud)]
    if len(axes) < 5:
        return "none", f"only {len(axes)} clouds with a distinct principal axis: kept as given"
    axes = np.abs(np.array(axes))
    along_coordinate = float(np.mean(axes.max(axis=1) >= tolerance))
    upright = float(np.mean((axes[:, 2] >= tolerance) | (axes[:, 2] <= planar)))
    measured = (f"{along_coordinate:.0%} of {len(axes)} principal axes along x/y/z, {upright:.0%} along z or "
                "in the xy plane")
    if along_coordinate >= ALIGNED_FRACTION:
        return "none", f"{measured}: axis-aligned clouds"
    if upright >= ALIGNED_FRACTION:
        return "z", f"{measured}: upright clouds, any heading"
    return "so3", f"{measured}: clouds in any orientation"


def num_points_for(sizes: list[int]) -> RecipeChoice:
    """Points per example from the clouds' sizes: the median rounded up to a power of two (at least
    half the clouds are read whole; repeated points cost time only), within `NUM_POINTS_RANGE`."""
    median = float(np.median(sizes))
    low, high = NUM_POINTS_RANGE
    value = int(min(max(2 ** math.ceil(math.log2(max(median, 1.0))), low), high))
    return RecipeChoice("--num-points", value, f"median cloud of {median:.0f} points, rounded up to a power of two "
                                               f"({low}-{high})")


def point_cloud_choices(clouds: list[np.ndarray], align: str | None = None) -> list[RecipeChoice]:
    """Rotation from `point_cloud_orientation` (and, for clouds in any orientation, alignment to their
    principal axes: a canonical pose, so the model need not learn every rotation from few
    examples; with the alignment, training frames from half of each cloud, `FRAME_SAMPLE`), the
    local geometry of every point (whether the surface there is flat, an edge or curved: a
    cross-attention that sees each point alone cannot tell, and few examples do not teach it), then
    the augmentations of `POINT_AUGMENTATION`. `align`: the alignment already decided (given, or a
    fine-tuned model's), or `None` to choose it."""
    rotate, why = point_cloud_orientation(clouds)
    aligned = align == "pca" or (align is None and rotate == "so3")
    if aligned and rotate == "so3":  # a rotation before the alignment would change nothing
        orientation = [RecipeChoice("--align", "pca", f"{why}: principal-axis frame"),
                       RecipeChoice("--rotate", "none", "the alignment removes any rotation")]
    else:
        orientation = [RecipeChoice("--rotate", rotate, why)]
    if aligned:
        orientation.append(RecipeChoice("--frame-sample", FRAME_SAMPLE,
                                        "each training frame from a random half of the cloud: axes of near-equal "
                                        "variance, which the cloud leaves uncertain, turn"))
    return orientation + [
        RecipeChoice("--local-geometry", LOCAL_GEOMETRY_NEIGHBORS,
                     "each point's surface shape and normal, from its nearest neighbours"),
        RecipeChoice("--axis-scale", POINT_AUGMENTATION["axis_scale"], "random scaling of each axis"),
        RecipeChoice("--jitter", POINT_AUGMENTATION["jitter"], "Gaussian noise on every coordinate"),
        RecipeChoice("--point-dropout", POINT_AUGMENTATION["point_dropout"], "random point dropout"),
    ]


def audio_choices(features: str) -> list[RecipeChoice]:
    """Log-mel features standardised per clip (log-mel values span ~15 units against the position
    features' 2, which slowed learning *when* things happen; loudness then carries no weight) and
    stretched along frequency (another speaker's vocal tract); clips of any features moved in time."""
    shift = RecipeChoice("--time-shift", AUDIO_AUGMENTATION["time_shift"], "random shift of each clip in time")
    if features != "log_mel":
        return [shift]
    return [RecipeChoice("--normalize-audio", True, "log-mel features standardised per clip"), shift,
            RecipeChoice("--frequency-warp", AUDIO_AUGMENTATION["frequency_warp"],
                         "random stretch of each spectrum along frequency (vocal-tract length perturbation)")]


def image_choices() -> list[RecipeChoice]:
    """MixUp (`IMAGE_MIXUP_ALPHA`): a few hundred to a few thousand images are memorised within tens of
    epochs (measured: 1,149 digits, training accuracy 1.0 and test 0.944 without it, 0.978 with it); it
    blends whole images pixel by pixel, so it holds for permuted pixels too."""
    return [RecipeChoice("--mixup", IMAGE_MIXUP_ALPHA, "blends pairs of training images and their labels")]


def offset_share(recordings: list[np.ndarray]) -> float:
    """The share of the variance of recordings `(T_i, C)` that lies in their per-channel means: the
    variance of the means across recordings over that plus the mean variance within a recording."""
    between = float(np.stack([r.mean(axis=0) for r in recordings]).var(axis=0).mean())
    within = float(np.mean([r.var(axis=0).mean() for r in recordings]))
    return between / max(between + within, 1e-12)


def offsets_between_classes(recordings: list[np.ndarray], labels: list) -> float | None:
    """The share of the variance of the recordings' per-channel means that lies between the classes'
    average means (the rest: between recordings of one class); None without class ids (multi-hot labels)."""
    if not labels or np.ndim(labels[0]) != 0:
        return None
    offsets, labels = np.stack([r.mean(axis=0) for r in recordings]), np.asarray(labels)
    centres = {label: offsets[labels == label].mean(axis=0) for label in np.unique(labels)}
    within = float(np.mean([((offset - centres[label]) ** 2).mean() for offset, label in zip(offsets, labels)]))
    total = float(offsets.var(axis=0).mean())
    return 1.0 - within / total if total > 1e-12 else 0.0


def sensor_choices(recordings: list[np.ndarray], num_steps: int, tokens: str | None = None,
                   labels: list | None = None) -> list[RecipeChoice]:
    """Centre recordings whose static offsets (per-recording means) hold `OFFSET_SHARE_TO_CENTER` or more
    of the variance, unless those offsets vary more between the classes than within them (`labels`:
    the recordings' class ids): a model would otherwise tell recordings apart by their offsets (e.g. how
    a wearable happened to be oriented) instead of by what happens over time, but where the offsets are
    what separates the classes, centring would remove it (measured on a public multichannel set of
    varying offsets per class: 0.71 with centring). Then the tokens of `sequence_token_choices`
    (`tokens`: the kind already given, or `None` to choose it)."""
    share = offset_share(recordings) if recordings else 0.0
    between = offsets_between_classes(recordings, labels) if recordings else None
    center = share >= OFFSET_SHARE_TO_CENTER and (between is None or between < 0.5)
    verdict = "at least" if share >= OFFSET_SHARE_TO_CENTER else "below"
    reason = f"per-recording offsets hold {share:.0%} of the variance, {verdict} {OFFSET_SHARE_TO_CENTER:.0%}"
    if between is not None and share >= OFFSET_SHARE_TO_CENTER:
        reason += (f", and {between:.0%} of their spread lies between classes (" +
                   ("they vary within classes more: centred" if center else "they tell the classes apart: kept") + ")")
    return [RecipeChoice("--center-recordings", center, reason), *sequence_token_choices(num_steps, tokens),
            window_warp_choice(recordings)]


def periodicity(recording: np.ndarray) -> float:
    """How periodic a recording `(T, C)` is: per channel, the highest normalised autocorrelation at a lag
    between its first negative value and T / 2 (about 1 for a clean periodic signal, near or below 0 for
    a single event), averaged over the channels; 0 where the autocorrelation stays positive that long."""
    centred = recording - recording.mean(axis=0)
    steps = len(centred)
    spectrum = np.fft.rfft(centred, n=2 * steps, axis=0)
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2, axis=0)[:steps]
    autocorrelation = autocorrelation / np.maximum(autocorrelation[:1], 1e-12)
    peaks = []
    for channel in autocorrelation.T:
        negative = np.flatnonzero(channel[: steps // 2] < 0)
        peaks.append(float(channel[negative[0]: steps // 2].max()) if len(negative) else 0.0)
    return float(np.mean(peaks))


def window_warp_choice(recordings: list[np.ndarray]) -> RecipeChoice:
    """`WINDOW_WARP` for recordings that are not periodic (median `periodicity` of `recordings` below
    `PERIODIC_RECORDINGS`), else 0: a few dozen recordings are memorised (training accuracy 1.0) long before
    the schedule ends; warped windows keep each epoch's recordings new."""
    periodic = float(np.median([periodicity(r) for r in recordings])) if recordings else 0.0
    if periodic >= PERIODIC_RECORDINGS:
        return RecipeChoice("--window-warp", 0.0, f"periodic recordings (periodicity {periodic:.2f}, at least "
                                                  f"{PERIODIC_RECORDINGS}): stretching would change their frequencies")
    return RecipeChoice("--window-warp", WINDOW_WARP, f"periodicity {periodic:.2f} (< {PERIODIC_RECORDINGS}): each "
                                                      "training recording a random window of at least 80% of it, "
                                                      "stretched to its length")


def sequence_token_choices(num_steps: int, tokens: str | None = None) -> list[RecipeChoice]:
    """Per-channel tokens (`SEQUENCE_TOKENS`) of `num_steps / SEQUENCE_TOKENS_ALONG_TIME` steps: with one token
    per time step a single cross-attention sees one value per channel and cannot read a local frequency
    or shape (measured: noisy sinusoids of 1 / 2.5 / 4 Hz stayed at chance, 0.28-0.35, where per-channel
    patches of 8 steps reached 1.0). `tokens` given as "steps": no patch size to choose."""
    choices = [] if tokens else [RecipeChoice("--sequence-tokens", SEQUENCE_TOKENS,
                                              "each channel's run of steps is a token: the cross-attention reads "
                                              "local shape and frequency, channel by channel")]
    if (tokens or SEQUENCE_TOKENS) != "steps":
        size = max(1, round(num_steps / SEQUENCE_TOKENS_ALONG_TIME))
        choices.append(RecipeChoice("--sequence-patch-size", size,
                                    f"{num_steps} steps per example in about {SEQUENCE_TOKENS_ALONG_TIME} tokens"))
    return choices


def sample_examples(dataset, count: int | None, with_labels: bool = False):
    """Up to `EXAMINED_EXAMPLES` decoded examples (clouds `(n, 3)`, recordings `(T, C)`), evenly spread
    over an unbatched `(example, label)` dataset of `count` examples (`None`: the first ones); with
    `with_labels`, `(examples, labels)`."""
    stride = max(1, (count or EXAMINED_EXAMPLES) // EXAMINED_EXAMPLES)
    taken = dataset.shard(stride, 0) if stride > 1 else dataset
    pairs = [(np.asarray(example), label) for example, label in taken.take(EXAMINED_EXAMPLES).as_numpy_iterator()]
    examples = [example for example, _ in pairs]
    return (examples, [label for _, label in pairs]) if with_labels else examples

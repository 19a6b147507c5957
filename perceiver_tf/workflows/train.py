"""`perceiver_tf.train`: data -> a Perceiver classifier trained, evaluated and saved, with its files.

The one implementation behind `perceiver-tf train` (which only parses flags into these keywords):
the same recipes read from the data, the output directory's lock, backup/resume, early stopping
and files (`model.keras`, `best.keras`, `metrics.json`, `history.csv`, `logs/`).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import math
import os
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from perceiver_tf.data.errors import error_reason
from perceiver_tf.errors import OptionError, PerceiverError
from perceiver_tf.option_names import option_name
from perceiver_tf.output_paths import writable_directory
from perceiver_tf.workflows.init_from import (
    check_init_from,
    check_init_output,
    check_init_preprocessing,
    init_data_options,
)
from perceiver_tf.workflows.input_notes import training_input_statistics
from perceiver_tf.workflows.options import DEFAULT_PRESET, TrainOptions
from perceiver_tf.workflows.recipe import apply_recipe, choose_recipe, describe_recipe, none_if_auto, recipe_record
from perceiver_tf.workflows.strategy import describe_strategy, make_strategy

#: What `metadata["data"]` records for in-memory data (no source string to read it again from).
IN_MEMORY = "arrays"


@dataclass
class TrainRun:
    """What `train` produced.

    Attributes:
        model: the trained `keras.Model` (the best epoch's weights with early stopping, else the last).
        metrics: the `metrics.json` dict: validation scores, epochs, seconds, model metadata.
        history: `{column: [value per epoch]}` of `history.csv` (a resumed run's earlier epochs included).
        recipe: `{"flags": the value of each option a recipe may choose, "chosen": {flag: why}}`.
        output_dir: the folder holding the run's files.
        wrote_files: whether this process wrote them (under multi-worker training only the chief does).
        example_files: validation examples written back as files the model reads (`examples/`), to
            try `predict` and `attention` on (none for audio + video).
    """

    model: object
    metrics: dict
    history: dict
    recipe: dict
    output_dir: Path
    wrote_files: bool = True
    example_files: list[Path] = field(default_factory=list)


def train(data="digits", output_dir: str | os.PathLike | None = None, *, class_names: list[str] | None = None,
          **options) -> TrainRun:
    """Train, evaluate and save a Perceiver classifier, as `perceiver-tf train` does.

    Args:
        data: a source as `perceiver-tf train --data` takes it ("digits", "tfds:NAME[:SPLIT]", a folder
            with one sub-folder per class, a CSV manifest, TFRecord files, an .npz), or in-memory
            examples: a pair `(x, y)` of arrays (images `(N, H, W[, C])` with pixels 0-255, point
            clouds `(N, P, 3)`, waveforms `(N, T)` at `sample_rate`, sensor streams `(N, T, C)`
            with `modality="sensors"`; integer labels `(N,)`), or a `tf.data.Dataset` of such
            `(example, label)` pairs (read into memory once).
        output_dir: where the run's files go; default `saved_models/<data name>` (`saved_models/arrays`
            for in-memory data).
        class_names: the names of labels 0..K-1 of in-memory data (default: the label numbers).
        **options: `TrainOptions` fields, i.e. every `perceiver-tf train` flag in snake_case:
            `epochs=3`, `preset="tiny"`, `image_size=(32, 32)`, `set={"num_latents": 64}`, ...

    Returns:
        `TrainRun` with `.model`, `.metrics`, `.history`, `.recipe`, `.output_dir`.

    Raises:
        OptionError: options that do not fit each other, the data or the model.
        PerceiverError: data, a model file or an output directory that cannot be used (one line).
    """
    options = TrainOptions.from_keywords(options)
    spec = data if isinstance(data, (str, os.PathLike)) else None
    if spec is not None:
        spec = os.fspath(spec)
    elif not _is_in_memory(data):
        raise OptionError(f"data must be a source string or path, a pair (x, y) of arrays or a tf.data.Dataset; "
                          f"got {type(data).__name__}.")
    if options.init_from:
        check_init_from(options)
    else:
        check_model_options(options.preset or DEFAULT_PRESET, options.set)  # the recipe picks a same-kind preset
    output_dir = os.fspath(output_dir) if output_dir is not None else default_output_dir(spec or IN_MEMORY,
                                                                                        options.init_from)
    if options.init_from:
        check_init_output(options.init_from, output_dir)
    created = not os.path.exists(output_dir)
    output_dir = writable_directory(output_dir, option_name("output_dir"))
    try:
        # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
        strategy, is_chief, worker_id = make_strategy(options.strategy, options.tpu, options.cpu_devices)
        from perceiver_tf.training.run_lock import RunLock

        with RunLock(output_dir) if is_chief else contextlib.nullcontext():  # a busy directory fails before the data loads
            if is_chief:
                check_finished_run(output_dir, options)
            return _train(spec or IN_MEMORY, data, class_names, options, output_dir, strategy, is_chief, worker_id)
    except BaseException:
        if created:  # a run that failed before writing anything leaves no empty folder behind
            with contextlib.suppress(OSError):
                output_dir.rmdir()
        raise


def check_finished_run(output_dir: Path, options: TrainOptions) -> None:
    """Refuse to replace a finished run's `model.keras` unless asked to (`overwrite`); an interrupted
    run's backup resumes as before (`restart` discards the backup, never a finished model).

    Raises:
        PerceiverError: `output_dir` holds a finished run; the message names it and the two ways on.
    """
    from perceiver_tf.training.trainer import METRICS_FILE, MODEL_FILE, holds_checkpoint

    model = output_dir / MODEL_FILE
    if options.overwrite or not model.exists() or (holds_checkpoint(output_dir) and not options.restart):
        return
    raise PerceiverError(f"{output_dir} holds a finished run ({_run_summary(model, output_dir / METRICS_FILE)}); "
                         f"keep it and pass another {option_name('output_dir')}, or pass "
                         f"{option_name('overwrite')} to replace it.")


def _run_summary(model: Path, metrics: Path) -> str:
    """`model.keras of 2026-12-07 13:00, validation accuracy 0.9690` (what metrics.json says, if readable)."""
    import datetime
    import json

    written = datetime.datetime.fromtimestamp(model.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    try:
        scores = json.loads(metrics.read_text())
    except (OSError, ValueError):
        scores = {}
    score = next((f", validation {name} {scores[key]:.4f}" for key, name in
                  (("val_accuracy", "accuracy"), ("val_map", "mAP")) if isinstance(scores.get(key), float)), "")
    return f"{model.name} of {written}{score}"


def _is_in_memory(data) -> bool:
    """A pair `(x, y)`, or a dataset `_dataset_arrays` can read (a `tf.data.Dataset`)."""
    return (isinstance(data, (tuple, list)) and len(data) == 2) or hasattr(data, "as_numpy_iterator")


def _train(spec: str, data, class_names, options: TrainOptions, output_dir: Path, strategy, is_chief: bool,
           worker_id: int) -> TrainRun:
    """Load the data, build and train the model: the body of `train` once the output directory is this run's."""
    import keras

    from perceiver_tf.backend_support import backend, mixed_precision_policy, resolve_jit_compile
    from perceiver_tf.data import PipelineOptions, batched
    from perceiver_tf.data.example_files import write_example_files
    from perceiver_tf.training import compile_classifier, head_summary, train_classifier
    from perceiver_tf.workflows.model_files import load_trained_model

    keras.utils.set_random_seed(options.seed)
    if options.mixed_precision:
        keras.mixed_precision.set_global_policy(mixed_precision_policy())
    init_model = init_processor = None
    read_options = data_options(options)
    if options.init_from:
        init_model, _ = load_trained_model(options.init_from, flag="init_from")
        read_options, init_processor = init_data_options(options, read_options, init_model)
    source = load_data(spec, data, class_names, read_options)
    if init_model is not None:
        check_init_preprocessing(options.init_from, source, init_processor)
    check_source_options(options, source)
    recipe = choose_recipe(options, source)
    try:
        source = apply_recipe(data_options(options), source)
    except ValueError as error:  # a given option and a chosen one that do not go together
        raise OptionError(str(error)) from None
    if source.skipped:
        print(f"Skipped {len(source.skipped)} bad file(s) ({option_name('skip_bad_files')}): "
              + ", ".join(source.skipped[:10]) + (" ..." if len(source.skipped) > 10 else ""))
    num_classes = len(source.class_names)
    # Multi-hot labels are rows already; class ids become one-hot rows for smoothing, MixUp and CutMix.
    one_hot = source.multi_label or bool(options.label_smoothing or options.mixup or options.cutmix)
    pipeline = PipelineOptions(options.batch_size, options.seed, one_hot, options.mixup, options.cutmix,
                               cache=not options.no_cache)
    jit_compile = resolve_jit_compile(options.jit_compile)  # as the model will be compiled (fixed input shapes assumed)

    def split_batches(examples, training: bool, num_examples: int | None):
        multiple = batch_multiple(strategy, options.batch_size, num_examples, jit_compile)
        return batched(examples, source.processor, training, num_classes, replace(pipeline, batch_multiple=multiple),
                       num_examples)

    try:
        train_data = split_batches(source.train, True, source.num_train)
    except ValueError as error:
        raise OptionError(str(error)) from None
    val_data = split_batches(source.val, False, source.num_val)
    steps_per_epoch = (math.ceil(source.num_train / options.batch_size) if source.num_train
                       else int(train_data.reduce(0, lambda n, _: n + 1)))
    record = recipe_record(options, source, recipe)
    metadata = {**source.metadata, "data": spec, "recipe": record,
                "input_statistics": training_input_statistics(source)}
    with strategy.scope():
        model = (_fine_tuned_model(init_model, options, source, metadata) if init_model is not None
                 else _new_model(options, source, metadata))
        jit_choice = "" if options.jit_compile is not None else " (default)"
        # Recorded as resolved (run.json, the log): "auto" depends on the model's input shapes.
        options.jit_compile = resolve_jit_compile(options.jit_compile, model)
        compile_classifier(
            model, options.epochs * steps_per_epoch, optimizer=options.optimizer,
            learning_rate=options.learning_rate, warmup_steps=int(options.warmup_epochs * steps_per_epoch),
            weight_decay=options.weight_decay, global_clipnorm=options.clipnorm or None,
            label_smoothing=options.label_smoothing, jit_compile=options.jit_compile,
        )
    labels = "multi-label" if source.multi_label else "single-label"
    if init_model is not None:
        trainable = sum(math.prod(weight.shape) for weight in model.trainable_weights)
        frozen = ", backbone frozen" if options.freeze_backbone else ""
        described = (f"Fine-tuning {options.init_from} ({model.count_params():,} parameters, {trainable:,} trainable"
                     f"{frozen}; {head_summary(init_model, num_classes, source.class_names, source.multi_label)})")
    else:
        described = f"Training preset {options.preset!r} ({model.count_params():,} parameters)"
    print(f"{described} on {spec} "
          f"({source.modality}, {num_classes} classes, {labels}, input {source.processor.input_shape}): "
          f"{source.num_train or '?'} train / {source.num_val or '?'} validation examples; "
          f"strategy {options.strategy} -> {describe_strategy(strategy)}; Keras backend {backend()}, "
          f"jit_compile {options.jit_compile}{jit_choice}.")
    print(describe_recipe(recipe))
    result = train_classifier(model, train_data, val_data, options.epochs, output_dir,
                              verbose=keras_verbosity(options.verbose), is_chief=is_chief, worker_id=worker_id,
                              tensorboard=not options.no_tensorboard, restart=options.restart,
                              settings=run_settings(spec, options), early_stopping_patience=options.early_stopping,
                              selection_window=options.selection_window)
    resumed = f", resumed at epoch {result.resumed_from_epoch}" if result.resumed_from_epoch else ""
    score = (f"validation mAP: {result.val_map:.4f}" if result.val_map is not None
             else f"validation accuracy: {result.val_accuracy:.4f}")
    print(f"{score}  (loss {result.val_loss:.4f}, {result.epochs} epochs, "
          f"{result.train_seconds:.0f} s{resumed}); model saved to {result.model_path}")
    examples = (write_example_files(source.val, source.processor, source.class_names, output_dir) if is_chief
                else [])
    return TrainRun(model, {**model.metadata, **asdict(result)}, read_history(output_dir) if is_chief else {},
                    record, output_dir, wrote_files=is_chief, example_files=examples)


def batch_multiple(strategy, batch_size: int, num_examples: int | None, jit_compile: bool) -> int:
    """What a split's batches are padded to (`PipelineOptions.batch_multiple`; copies at weight 0).

    - The strategy's multiple (`batch_multiple` of a JAX data-parallel distribution: its device count).
    - The whole batch size (rounded up to that multiple) when the steps are XLA-compiled (`jit_compile`)
      and the split has more examples than a batch, or an unknown number: XLA compiles one program per
      input shape, and a last partial batch cost a second compilation of the training step and of the
      test step (the README demo with `--jit-compile`: first epoch 10.2 s -> 8.4 s).
      A split smaller than a batch is one batch of one shape already.
    """
    multiple = getattr(strategy, "batch_multiple", 1)
    if jit_compile and (num_examples is None or num_examples > batch_size):
        multiple *= math.ceil(batch_size / multiple)  # the batch size rounded up to the device count's multiple
    return multiple


def _new_model(options: TrainOptions, source, metadata: dict):
    """A classifier of `options.preset` (with `options.set`) for `source`'s inputs and classes."""
    from perceiver_tf.models import build_classifier

    try:
        return build_classifier(
            options.preset, source.processor.input_shape, len(source.class_names),
            input_kind=source.processor.input_kind, metadata=metadata,
            **{"multi_label": source.multi_label, **position_options(source.processor),
               **sequence_options(source.processor, options), **options.set},
        )
    except (ValueError, TypeError) as error:
        raise OptionError(f"{option_name('preset')} {options.preset} with {option_name('set')} "
                          f"{options.set or '(none)'} does not build a model for input "
                          f"{source.processor.input_shape}: {error_reason(error)}") from None


def _fine_tuned_model(init_model, options: TrainOptions, source, metadata: dict):
    """A copy of `init_model`'s backbone with a head for `source`'s classes (created in the strategy's scope)."""
    from perceiver_tf.training import classifier_from_trained

    try:
        return classifier_from_trained(
            init_model, class_names=source.class_names, freeze_backbone=options.freeze_backbone,
            multi_label=source.multi_label, metadata={**metadata, "init_from": options.init_from},
        )
    except (ValueError, TypeError) as error:
        raise PerceiverError(f"{option_name('init_from')} {options.init_from!r}: {error_reason(error)}") from None


def load_data(spec: str, data, class_names: list[str] | None, read_options):
    """The `DataSource` of a source string, or of in-memory `(x, y)` arrays / a `tf.data.Dataset`.

    Raises:
        OptionError: data options that do not fit the data.
        PerceiverError: data that cannot be read (one line naming the source).
    """
    from perceiver_tf.data import DataOptionError, from_arrays, load_source

    try:
        if spec != IN_MEMORY:
            return load_source(spec, read_options)
        x, y = data if isinstance(data, (tuple, list)) else _dataset_arrays(data)
        return from_arrays(x, y, class_names, read_options)
    except DataOptionError as error:
        raise OptionError(str(error)) from None
    except ValueError as error:
        raise PerceiverError(f"{option_name('data')} {spec!r}: {error}") from None


def _dataset_arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    """`(x, y)` arrays of an unbatched `tf.data.Dataset` of `(example, label)` pairs of one shape each."""
    pairs = list(dataset.as_numpy_iterator())
    if not pairs or not all(isinstance(pair, tuple) and len(pair) == 2 for pair in pairs):
        raise OptionError("A tf.data.Dataset for train() must yield (example, label) pairs, unbatched.")
    return np.stack([x for x, _ in pairs]), np.asarray([y for _, y in pairs])


def read_history(output_dir: Path) -> dict:
    """`{column: [value per epoch]}` of a run's `history.csv` (floats; `{}` when there is none)."""
    path = Path(output_dir) / "history.csv"
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {column: [float(row[column]) if row[column] not in ("", None) else math.nan for row in rows]
            for column in (rows[0] if rows else {})}


def default_output_dir(data: str, init_from: str | None = None) -> str:
    """`saved_models/<name>`: digits -> saved_models/digits, tfds:mnist -> saved_models/mnist, ...;
    `saved_models/<name>_finetuned` with init_from (the init model may well be saved_models/<name>)."""
    name = data[len("tfds:"):].split(":")[0] if data.startswith("tfds:") else os.path.basename(os.path.normpath(data))
    name = os.path.splitext(name)[0].replace("*", "") or "data"
    return os.path.join("saved_models", name + ("_finetuned" if init_from else ""))


def check_model_options(preset: str, overrides: dict) -> None:
    """Reject an unknown preset or `set` key before any data is read (and before TensorFlow loads).

    Raises:
        OptionError: naming the valid presets or keys.
    """
    from perceiver_tf.model_options import BACKBONE_KEYS, CLASSIFIER_KEYS, PRESET_TASKS

    if preset not in PRESET_TASKS:
        raise OptionError(f"unknown {option_name('preset')} {preset!r}; valid presets: {', '.join(PRESET_TASKS)} "
                          "(see `perceiver-tf presets`).")
    if PRESET_TASKS[preset] != "classifier":
        raise OptionError(f"{option_name('preset')} {preset!r} builds a {PRESET_TASKS[preset].replace('_', ' ')} "
                          "model; training trains classifiers: pick another preset (its weights come from "
                          "`perceiver-tf convert`).")
    valid = BACKBONE_KEYS | CLASSIFIER_KEYS
    set_by_data = {"num_classes", "multi_label", "input_shape", "input_kind", "metadata"}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise OptionError(f"unknown {option_name('set')} key(s) {unknown}; valid keys: "
                          f"{', '.join(sorted(valid - set_by_data))}.")
    from_data = sorted(set(overrides) & set_by_data)
    if from_data:
        raise OptionError(f"{option_name('set')} {from_data[0]} is taken from the data; remove it.")


def check_source_options(options: TrainOptions, source) -> None:
    """Training options that depend on what the data turned out to be (checked before the model is built)."""
    if options.cutmix and source.modality != "image":
        raise OptionError(f"{option_name('cutmix')} cuts image patches, but this data is {source.modality}; remove it "
                          f"({option_name('mixup')} works for every single-input modality).")
    sequence = [name for name in ("sequence_tokens", "sequence_patch_size") if getattr(options, name) is not None]
    if sequence and source.modality != "sensors":
        raise OptionError(f"{option_name(sequence[0])} tokenises sensor recordings, but this data is "
                          f"{source.modality}; remove it.")
    if getattr(source.processor, "masks_padding", False) and options.set.get("use_input_mask") is False:
        raise OptionError(f"{option_name('set')} use_input_mask=False: sensor recordings come with their step masks "
                          "(padding is kept out of the cross-attention); remove it.")
    if options.mixup and source.modality == "audio_video":
        raise OptionError(f"{option_name('mixup')} mixes one input tensor; audio + video examples have two: remove it.")


def position_options(processor) -> dict:
    """Model arguments the data's preprocessing implies: permuted pixels get their position features
    permuted alike (`ImageAdapter(pixel_permutation_seed=...)`, the paper's permuted ImageNet)."""
    seed = processor.config.get("pixel_permutation_seed")
    return {} if seed is None else {"pixel_permutation_seed": seed}


def sequence_options(processor, options: TrainOptions) -> dict:
    """Model arguments of sensor recordings: their tokens (`SequenceAdapter`), and the step mask that keeps
    padded steps out of the cross-attention where the preprocessing marks them (`masks_padding`)."""
    if processor.modality != "sensors":
        return {}
    tokens = {"sequence_tokens": options.sequence_tokens} if options.sequence_tokens else {}
    if options.sequence_patch_size:
        tokens["patch_size"] = options.sequence_patch_size
    return {**tokens, **({"use_input_mask": True} if processor.masks_padding else {})}


def data_options(options: TrainOptions):
    """The `DataOptions` (how the data layer reads the source) of a run's options."""
    from perceiver_tf.data import DataOptions

    return DataOptions(
        modality=options.modality,
        validation_fraction=options.validation_fraction,
        seed=options.seed,
        skip_bad_files=options.skip_bad_files,
        image_size=tuple(options.image_size) if options.image_size else None,
        channels=options.channels,
        rand_augment=options.rand_augment,
        pixel_permutation_seed=options.permute_pixels,
        sample_rate=options.sample_rate,
        clip_seconds=options.clip_seconds,
        audio_features=options.audio_features,
        audio_patch_size=options.patch_size,
        num_mel_bins=options.mel_bins,
        normalize_audio=bool(options.normalize_audio),
        time_shift=options.time_shift or 0.0,
        gain_db=options.gain_db or 0.0,
        frequency_warp=options.frequency_warp or 0.0,
        num_points=options.num_points,
        rotate=none_if_auto(options.rotate) or "none",
        jitter=options.jitter or 0.0,
        scale_range=tuple(options.scale) if options.scale else None,
        axis_scale_range=tuple(options.axis_scale) if options.axis_scale else None,
        point_dropout=options.point_dropout or 0.0,
        point_align=options.align or "none",
        frame_sample=options.frame_sample or 0.0,
        local_geometry=options.local_geometry or 0,
        num_steps=options.num_steps,
        center_recordings=bool(options.center_recordings),
        window_warp=options.window_warp or 0.0,
        num_frames=options.num_frames,
        multi_label=True if options.multi_label else None,
    )


def keras_verbosity(verbose: str | int) -> int:
    """The `verbose` option -> Keras' `verbose`: "auto" is a progress bar on a terminal and one line per
    epoch otherwise (a log file gets no bars of backspaces)."""
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2


#: Options a resumed run may change (the epoch count, patience), and those that change no result
#: (logging, devices).
_NOT_SETTINGS = {"epochs", "early_stopping", "restart", "overwrite", "verbose", "no_tensorboard", "strategy", "tpu",
                 "cpu_devices", "set"}


def run_settings(spec: str, options: TrainOptions) -> dict:
    """What a resumed run must share with the run that wrote the backup (everything that changes the
    result), the same for `train(...)` and `perceiver-tf train`."""
    excluded = set(_NOT_SETTINGS)
    if not options.init_from:  # a run from scratch records what it did before init_from existed
        excluded |= {"init_from", "freeze_backbone"}
    values = {**asdict(options), "data": spec}
    settings = {key: list(value) if isinstance(value, tuple) else value
                for key, value in sorted(values.items()) if key not in excluded}
    settings["overrides"] = options.set
    if options.init_from:  # the same path holding another model is another run
        settings["init_from_sha256"] = file_sha256(options.init_from)
    return settings


def file_sha256(path: str) -> str:
    """The sha256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

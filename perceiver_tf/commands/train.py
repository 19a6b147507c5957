"""`perceiver-tf train`: data source -> Perceiver classifier -> model.keras, metrics.json, history.csv."""

from __future__ import annotations

import contextlib
import json
import math
import os

from perceiver_tf.commands.errors import CommandError, UsageError
from perceiver_tf.commands.output_paths import writable_directory
from perceiver_tf.data.errors import error_reason


def default_output_dir(data: str) -> str:
    """`saved_models/<name>`: digits -> saved_models/digits, tfds:mnist -> saved_models/mnist, ..."""
    name = data[len("tfds:"):].split(":")[0] if data.startswith("tfds:") else os.path.basename(os.path.normpath(data))
    name = os.path.splitext(name)[0].replace("*", "") or "data"
    return os.path.join("saved_models", name)


def parse_overrides(pairs: list[str]) -> dict:
    """`["num_latents=16", "spacing=log"]` -> `{"num_latents": 16, "spacing": "log"}` (JSON values).

    Raises:
        UsageError: a pair without `=`.
    """
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, e.g. --set num_latents=64. Received: {pair!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def check_model_flags(preset: str, overrides: dict) -> None:
    """Reject an unknown `--preset` or `--set` key before any data is read.

    Raises:
        UsageError: naming the valid presets or keys.
    """
    from perceiver_tf.models import PRESETS, PerceiverClassifier
    from perceiver_tf.models.presets import BACKBONE_KEYS

    if preset not in PRESETS:
        raise UsageError(f"unknown --preset {preset!r}; valid presets: {', '.join(PRESETS)} (see `perceiver-tf presets`).")
    valid = BACKBONE_KEYS | set(PerceiverClassifier.task_keys)
    set_by_data = {"num_classes", "multi_label", "input_shape", "input_kind", "metadata"}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise UsageError(f"unknown --set key(s) {unknown}; valid keys: {', '.join(sorted(valid - set_by_data))}.")
    from_data = sorted(set(overrides) & set_by_data)
    if from_data:
        raise UsageError(f"--set {from_data[0]} is taken from the data; remove it.")


def check_recipe_flags(args) -> None:
    """Flags whose values only make sense together (single values are range-checked by argparse)."""
    if args.warmup_epochs >= args.epochs:
        raise UsageError(f"--warmup-epochs {args.warmup_epochs} must be fewer than --epochs {args.epochs}.")
    if args.scale and args.scale[0] > args.scale[1]:
        raise UsageError(f"--scale LOW HIGH needs LOW <= HIGH. Received: {args.scale[0]} {args.scale[1]}")
    if args.tpu and args.strategy not in ("auto", "tpu"):
        raise UsageError(f"--tpu names a TPU for --strategy tpu, but --strategy is {args.strategy!r}.")


def check_source_flags(args, source) -> None:
    """Training flags that depend on what the data turned out to be (checked before the model is built)."""
    if source.multi_label and (args.cutmix or args.mixup):
        raise UsageError("--mixup/--cutmix mix single labels; this data is multi-label: remove them.")
    if args.cutmix and source.modality != "image":
        raise UsageError(f"--cutmix cuts image patches, but this data is {source.modality}; remove it "
                         "(--mixup works for every single-input modality).")
    if args.mixup and source.modality == "audio_video":
        raise UsageError("--mixup mixes one input tensor; audio + video examples have two: remove it.")


def make_strategy(args):
    """`(strategy, is_chief, worker_id)` for `--strategy` / `--tpu` / `--cpu-devices`.

    Raises:
        CommandError: the strategy cannot start (e.g. no TPU, a bad TF_CONFIG).
    """
    import tensorflow as tf

    from perceiver_tf.training import distribute

    if args.cpu_devices:
        distribute.split_cpu(args.cpu_devices)
    try:
        strategy = distribute.make_strategy(args.strategy, args.tpu)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        hint = " (pass --tpu NAME or set TPU_NAME)" if args.strategy == "tpu" else ""
        raise CommandError(f"--strategy {args.strategy} cannot start: {error_reason(error)}{hint}; "
                           "use --strategy auto on this machine.") from None
    return (strategy, *distribute.worker_role(strategy))


def data_options(args):
    from perceiver_tf.data import DataOptions

    return DataOptions(
        modality=args.modality,
        validation_fraction=args.validation_fraction,
        seed=args.seed,
        skip_bad_files=args.skip_bad_files,
        image_size=tuple(args.image_size) if args.image_size else None,
        channels=args.channels,
        rand_augment=args.rand_augment,
        pixel_permutation_seed=args.permute_pixels,
        sample_rate=args.sample_rate,
        clip_seconds=args.clip_seconds,
        audio_features=args.audio_features,
        audio_patch_size=args.patch_size,
        num_mel_bins=args.mel_bins,
        num_points=args.num_points,
        rotate=args.rotate,
        jitter=args.jitter,
        scale_range=tuple(args.scale) if args.scale else None,
        num_steps=args.num_steps,
        num_frames=args.num_frames,
        multi_label=True if args.multi_label else None,
    )


def run(args) -> int:
    overrides = parse_overrides(args.set)
    check_model_flags(args.preset, overrides)
    check_recipe_flags(args)
    output_dir = writable_directory(args.output_dir or default_output_dir(args.data), "--output-dir")
    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy, is_chief, worker_id = make_strategy(args)
    from perceiver_tf.training.run_lock import RunLock

    with RunLock(output_dir) if is_chief else contextlib.nullcontext():  # a busy directory fails before the data loads
        return _train(args, overrides, output_dir, strategy, is_chief, worker_id)


def _train(args, overrides: dict, output_dir: str, strategy, is_chief: bool, worker_id: int) -> int:
    """Load the data, build and train the model: the body of `run` once the output directory is this run's."""

    import keras
    import tensorflow as tf

    from perceiver_tf.data import DataOptionError, PipelineOptions, batched, load_source
    from perceiver_tf.models import build_classifier
    from perceiver_tf.training import compile_classifier, train_classifier

    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy(
            "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"
        )
    try:
        source = load_source(args.data, data_options(args))
    except DataOptionError as error:
        raise UsageError(str(error)) from None
    except ValueError as error:
        raise CommandError(f"--data {args.data!r}: {error}") from None
    check_source_flags(args, source)
    if source.skipped:
        print(f"Skipped {len(source.skipped)} bad file(s) (--skip-bad-files): "
              + ", ".join(source.skipped[:10]) + (" ..." if len(source.skipped) > 10 else ""))
    num_classes = len(source.class_names)
    # Multi-hot labels are rows already; class ids become one-hot rows for smoothing, MixUp and CutMix.
    one_hot = source.multi_label or bool(args.label_smoothing or args.mixup or args.cutmix)
    pipeline = PipelineOptions(args.batch_size, args.seed, one_hot, args.mixup, args.cutmix, cache=not args.no_cache)
    try:
        train = batched(source.train, source.processor, True, num_classes, pipeline, source.num_train)
    except ValueError as error:
        raise UsageError(str(error)) from None
    val = batched(source.val, source.processor, False, num_classes, pipeline, source.num_val)
    steps_per_epoch = (math.ceil(source.num_train / args.batch_size) if source.num_train
                       else int(train.reduce(0, lambda n, _: n + 1)))
    total_steps = args.epochs * steps_per_epoch
    with strategy.scope():
        try:
            model = build_classifier(
                args.preset, source.processor.input_shape, num_classes, input_kind=source.processor.input_kind,
                metadata={**source.metadata, "data": args.data}, **{"multi_label": source.multi_label, **overrides},
            )
        except (ValueError, TypeError) as error:
            raise UsageError(f"--preset {args.preset} with --set {overrides or '(none)'} does not build a model "
                             f"for input {source.processor.input_shape}: {error_reason(error)}") from None
        compile_classifier(
            model, total_steps, optimizer=args.optimizer, learning_rate=args.learning_rate,
            warmup_steps=int(args.warmup_epochs * steps_per_epoch), weight_decay=args.weight_decay,
            global_clipnorm=args.clipnorm or None, label_smoothing=args.label_smoothing,
            jit_compile=args.jit_compile, one_hot_labels=one_hot,
        )
    labels = "multi-label" if source.multi_label else "single-label"
    print(f"Training preset {args.preset!r} ({model.count_params():,} parameters) on {args.data} "
          f"({source.modality}, {num_classes} classes, {labels}, input {source.processor.input_shape}): "
          f"{source.num_train or '?'} train / {source.num_val or '?'} validation examples; "
          f"strategy {args.strategy} -> {type(strategy).__name__} x{strategy.num_replicas_in_sync}.")
    result = train_classifier(model, train, val, args.epochs, output_dir, verbose=args.verbose,
                              is_chief=is_chief, worker_id=worker_id, tensorboard=not args.no_tensorboard,
                              restart=args.restart, settings=run_settings(args, overrides))
    resumed = f", resumed at epoch {result.resumed_from_epoch}" if result.resumed_from_epoch else ""
    score = (f"validation mAP: {result.val_map:.4f}" if result.val_map is not None
             else f"validation accuracy: {result.val_accuracy:.4f}")
    print(f"{score}  (loss {result.val_loss:.4f}, {result.epochs} epochs, "
          f"{result.train_seconds:.0f} s{resumed}); model saved to {result.model_path}")
    return 0


def run_settings(args, overrides: dict) -> dict:
    """What a resumed run must share with the run that wrote the backup (everything that changes the
    result; not the epoch count, which a resume may extend, nor logging or device flags)."""
    excluded = {"epochs", "restart", "output_dir", "verbose", "no_tensorboard", "handler", "command", "debug",
                "strategy", "tpu", "cpu_devices", "set"}
    return {**{k: v for k, v in sorted(vars(args).items()) if k not in excluded}, "overrides": overrides}

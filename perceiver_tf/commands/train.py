"""`perceiver-tf train`: data source -> Perceiver classifier -> model.keras, metrics.json, history.csv."""

from __future__ import annotations

import json
import math
import os


def default_output_dir(data: str) -> str:
    """`saved_models/<name>`: digits -> saved_models/digits, tfds:mnist -> saved_models/mnist, ..."""
    name = data[len("tfds:"):].split(":")[0] if data.startswith("tfds:") else os.path.basename(os.path.normpath(data))
    name = os.path.splitext(name)[0].replace("*", "") or "data"
    return os.path.join("saved_models", name)


def parse_overrides(pairs: list[str]) -> dict:
    """`["num_latents=16", "spacing=log"]` -> `{"num_latents": 16, "spacing": "log"}` (JSON values)."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --set expects KEY=VALUE. Received: {pair!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


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
    if args.epochs < 1 or args.batch_size < 1:
        raise SystemExit("error: --epochs and --batch-size must be >= 1")
    overrides = parse_overrides(args.set)
    from perceiver_tf.training import distribute

    if args.cpu_devices:
        distribute.split_cpu(args.cpu_devices)
    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy = distribute.make_strategy(args.strategy, args.tpu)
    is_chief, worker_id = distribute.worker_role(strategy)

    import keras
    import tensorflow as tf

    from perceiver_tf.data import PipelineOptions, batched, load_source
    from perceiver_tf.models import build_classifier
    from perceiver_tf.training import compile_classifier, train_classifier

    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy(
            "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"
        )
    try:
        source = load_source(args.data, data_options(args))
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    if source.multi_label and (args.cutmix or args.mixup):
        raise SystemExit("error: --mixup/--cutmix mix single labels; this data is multi-label.")
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
        raise SystemExit(f"error: {error}") from None
    val = batched(source.val, source.processor, False, num_classes, pipeline, source.num_val)
    steps_per_epoch = (math.ceil(source.num_train / args.batch_size) if source.num_train
                       else int(train.reduce(0, lambda n, _: n + 1)))
    total_steps = args.epochs * steps_per_epoch
    with strategy.scope():
        model = build_classifier(
            args.preset, source.processor.input_shape, num_classes, input_kind=source.processor.input_kind,
            metadata={**source.metadata, "data": args.data}, **{"multi_label": source.multi_label, **overrides},
        )
        compile_classifier(
            model, total_steps, optimizer=args.optimizer, learning_rate=args.learning_rate,
            warmup_steps=int(args.warmup_epochs * steps_per_epoch), weight_decay=args.weight_decay,
            global_clipnorm=args.clipnorm or None, label_smoothing=args.label_smoothing,
            jit_compile=args.jit_compile, one_hot_labels=one_hot,
        )
    output_dir = args.output_dir or default_output_dir(args.data)
    labels = "multi-label" if source.multi_label else "single-label"
    print(f"Training preset {args.preset!r} ({model.count_params():,} parameters) on {args.data} "
          f"({source.modality}, {num_classes} classes, {labels}, input {source.processor.input_shape}): "
          f"{source.num_train or '?'} train / {source.num_val or '?'} validation examples; "
          f"strategy {args.strategy} -> {type(strategy).__name__} x{strategy.num_replicas_in_sync}.")
    result = train_classifier(model, train, val, args.epochs, output_dir, verbose=args.verbose,
                              is_chief=is_chief, worker_id=worker_id, tensorboard=not args.no_tensorboard)
    resumed = f", resumed at epoch {result.resumed_from_epoch}" if result.resumed_from_epoch else ""
    score = (f"validation mAP: {result.val_map:.4f}" if result.val_map is not None
             else f"validation accuracy: {result.val_accuracy:.4f}")
    print(f"{score}  (loss {result.val_loss:.4f}, {result.epochs} epochs, "
          f"{result.train_seconds:.0f} s{resumed}); model saved to {result.model_path}")
    return 0

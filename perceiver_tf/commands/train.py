"""`perceiver-tf train`: data source -> Perceiver classifier -> model.keras, metrics.json, history.csv."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys

from perceiver_tf.commands.errors import CommandError, UsageError
from perceiver_tf.commands.output_paths import writable_directory
from perceiver_tf.commands.recipe_flags import apply_recipe, choose_recipe, describe_recipe, none_if_auto, recipe_record
from perceiver_tf.data.errors import error_reason
from perceiver_tf.optional_packages import tensorboard_installed

#: The preset whose --set keys are checked before the data is read (the recipe then picks tiny or small).
DEFAULT_PRESET = "small"


def default_output_dir(data: str, init_from: str | None = None) -> str:
    """`saved_models/<name>`: digits -> saved_models/digits, tfds:mnist -> saved_models/mnist, ...;
    `saved_models/<name>_finetuned` with --init-from (the init model may well be saved_models/<name>)."""
    name = data[len("tfds:"):].split(":")[0] if data.startswith("tfds:") else os.path.basename(os.path.normpath(data))
    name = os.path.splitext(name)[0].replace("*", "") or "data"
    return os.path.join("saved_models", name + ("_finetuned" if init_from else ""))


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
    if PRESETS[preset].task != "classifier":
        raise UsageError(f"--preset {preset!r} builds a {PRESETS[preset].task.replace('_', ' ')} model; "
                         "`perceiver-tf train` trains classifiers: pick another preset (its weights come from "
                         "`perceiver-tf convert`).")
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
    if args.epochs is not None and args.warmup_epochs >= args.epochs:
        raise UsageError(f"--warmup-epochs {args.warmup_epochs} must be fewer than --epochs {args.epochs}.")
    for flag in ("scale", "axis_scale"):
        low_high = getattr(args, flag)
        if low_high and low_high[0] > low_high[1]:
            raise UsageError(f"--{flag.replace('_', '-')} LOW HIGH needs LOW <= HIGH. "
                             f"Received: {low_high[0]} {low_high[1]}")
    if args.tpu and args.strategy not in ("auto", "tpu"):
        raise UsageError(f"--tpu names a TPU for --strategy tpu, but --strategy is {args.strategy!r}.")


def check_source_flags(args, source) -> None:
    """Training flags that depend on what the data turned out to be (checked before the model is built)."""
    if args.cutmix and source.modality != "image":
        raise UsageError(f"--cutmix cuts image patches, but this data is {source.modality}; remove it "
                         "(--mixup works for every single-input modality).")
    if args.mixup and source.modality == "audio_video":
        raise UsageError("--mixup mixes one input tensor; audio + video examples have two: remove it.")


def _policy_name(dtype) -> str:
    """The name of a dtype policy as a Keras config holds it (a serialized policy or a string)."""
    if isinstance(dtype, dict):
        return str(dtype.get("config", {}).get("name", "float32"))
    return str(dtype or "float32")


def check_init_from(args) -> dict:
    """Check `--init-from` (and the flags it rules out) before TensorFlow starts; return the model's
    saved config (its `config.json`).

    The architecture comes from the init model: `--preset` and `--set` are refused. Its dtype too:
    `--mixed-precision` must be given when (and only when) it was trained in mixed precision.

    Raises:
        UsageError: --preset/--set with --init-from, or a --mixed-precision that differs.
        CommandError: a missing, empty, corrupt or foreign file, or one without the metadata of
            `perceiver-tf train` (one line, as `perceiver-tf evaluate --model` reports it).
    """
    from perceiver_tf.commands.model_files import REQUIRED_CONVERTED_METADATA, missing_metadata, read_keras_config

    path = args.init_from
    given = [flag for flag, value in (("--preset", args.preset), ("--set", args.set)) if value]
    if given:
        raise UsageError(f"--init-from takes the architecture from {path!r}: remove {' and '.join(given)} "
                         "(--preset and --set choose the architecture of a model trained from scratch).")
    saved = read_keras_config(path, "--init-from")
    config = saved.get("config") if isinstance(saved, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("backbone"), dict):
        kind = saved.get("class_name", "model") if isinstance(saved, dict) else "model"
        raise CommandError(f"--init-from {path!r} is a {kind}, not a perceiver_tf classifier; "
                           "pass a model.keras written by `perceiver-tf train`.")
    metadata = config.get("metadata") or {}
    if metadata.get("modality") in REQUIRED_CONVERTED_METADATA:
        kind = "a masked language model" if metadata["modality"] == "text" else "an optical-flow model"
        raise CommandError(f"--init-from {path!r} is {kind}; --init-from takes an image, audio, point-cloud or "
                           "sensor classifier.")
    missing = missing_metadata(metadata)
    if missing:
        raise CommandError(f"--init-from {path!r} lacks metadata {missing}; train it with `perceiver-tf train`.")
    policy = _policy_name(config["backbone"].get("config", {}).get("dtype"))
    if args.mixed_precision != policy.startswith("mixed"):
        fix = "add --mixed-precision" if policy.startswith("mixed") else "remove --mixed-precision"
        raise UsageError(f"--init-from {path!r} computes in {policy} (its dtype policy is kept): {fix}.")
    return saved


def check_init_output(init_from: str, output_dir: str) -> None:
    """Refuse an init model inside the output directory: a fresh run deletes or replaces its files.

    Raises:
        UsageError: naming both and what to do.
    """
    model_path = os.path.realpath(init_from)
    folder = os.path.realpath(output_dir)
    if os.path.commonpath([model_path, folder]) == folder:
        raise UsageError(f"--init-from {init_from!r} is inside --output-dir {output_dir!r}, whose files this run "
                         "replaces; pass another --output-dir.")


#: `DataOptions` fields an init model's preprocessing config sets (`{config key: field}`) when the
#: user gives other data flags (e.g. --rand-augment) but not these.
_OPTIONS_FROM_PREPROCESSING = {"image_size": "image_size", "channels": "channels",
                               "pixel_permutation_seed": "pixel_permutation_seed", "num_points": "num_points",
                               "num_steps": "num_steps", "align": "point_align", "local_geometry": "local_geometry",
                               "normalize": "normalize_audio",
                               "center": "center_recordings", "sample_rate": "sample_rate",
                               "features": "audio_features", "patch_size": "audio_patch_size",
                               "num_mel_bins": "num_mel_bins"}


def init_data_options(args, metadata: dict):
    """`(DataOptions, processor)` to read `--data` for a model fine-tuned from `--init-from`.

    Without modality data flags (`MODALITY_OPTIONS`: --image-size, --rand-augment, ...), the data
    is read with the init model's own preprocessing (`processor_for(metadata)`): the input shape
    matches. With some, the options are the flags', with what they leave open taken from the
    model's preprocessing; `check_init_preprocessing` then checks that the data is read as the
    model was trained (augmentation flags such as --rand-augment change no shape). --rand-augment
    alone on an image model augments the model's own preprocessing (e.g. a converted checkpoint's
    ImageNet crop and normalisation).

    Raises:
        UsageError: --modality differs from the model's.
    """
    from dataclasses import replace

    from perceiver_tf.commands.model_files import processor_for
    from perceiver_tf.data import MODALITY_OPTIONS
    from perceiver_tf.data.sources import modality_options_set

    processor = processor_for(metadata)
    if args.modality and args.modality != processor.modality:
        raise UsageError(f"--modality {args.modality}: --init-from {args.init_from!r} reads {processor.modality} "
                         "examples; remove --modality (the model's modality is used).")
    options = replace(data_options(args), modality=processor.modality)
    given = modality_options_set(options)
    if not given:
        return replace(options, processor=processor), processor
    if processor.modality == "image" and given == ["rand_augment"]:  # the model's preprocessing, augmented
        from perceiver_tf.data.images import ImageProcessor

        augmented = ImageProcessor.from_config(processor.config, rand_augment=True)
        return replace(options, processor=augmented), processor
    filled = {}
    for key, name in _OPTIONS_FROM_PREPROCESSING.items():
        if key in processor.config and name not in given and processor.modality in MODALITY_OPTIONS[name][1]:
            value = processor.config[key]
            filled[name] = tuple(value) if isinstance(value, list) else value
    if processor.modality == "audio" and "clip_seconds" not in given:
        filled["clip_seconds"] = processor.config["num_samples"] / processor.config["sample_rate"]
    return replace(options, **filled), processor


def check_init_preprocessing(args, source, processor) -> None:
    """The data flags read the data as the init model was trained, or a `UsageError` naming what differs."""
    if source.processor is processor:
        return
    model_config, data_config = dict(processor.config), dict(source.processor.config)
    if model_config == data_config:
        return
    keys = sorted(k for k in set(model_config) | set(data_config) if model_config.get(k) != data_config.get(k))
    shown = lambda config: ", ".join(f"{k} {config.get(k, '(unset)')}" for k in keys)  # noqa: E731
    raise UsageError(f"--init-from {args.init_from!r} reads its {processor.modality} data with {shown(model_config)}, "
                     f"but the data flags give {shown(data_config)}: make them agree, or remove the data flags to "
                     "read the data as the model was trained.")


def make_strategy(args):
    """`(strategy, is_chief, worker_id)` for `--strategy` / `--tpu` / `--cpu-devices`: a tf.distribute
    strategy, or under `KERAS_BACKEND=jax` a `keras.distribution` one (`training.jax_distribution`).

    Raises:
        UsageError: a strategy the JAX backend does not have.
        CommandError: the strategy cannot start (e.g. no TPU, a bad TF_CONFIG).
    """
    from perceiver_tf.backend_support import backend

    if backend() == "jax":
        from perceiver_tf.training.jax_distribution import make_jax_strategy

        try:
            return make_jax_strategy(args.strategy, args.cpu_devices), True, 0
        except ValueError as error:
            raise UsageError(str(error)) from None
        except RuntimeError as error:
            raise CommandError(f"--cpu-devices {args.cpu_devices}: {error}.") from None
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


def describe_strategy(strategy) -> str:
    """The training log's name of a strategy (tf.distribute's or `keras.distribution`'s)."""
    from perceiver_tf.training.jax_distribution import JaxStrategy

    if isinstance(strategy, JaxStrategy):
        return strategy.description
    from perceiver_tf.training import distribute

    return distribute.describe(strategy)


def position_options(processor) -> dict:
    """Model arguments the data's preprocessing implies: permuted pixels get their position features
    permuted alike (`ImageAdapter(pixel_permutation_seed=...)`, the paper's permuted ImageNet)."""
    seed = processor.config.get("pixel_permutation_seed")
    return {} if seed is None else {"pixel_permutation_seed": seed}


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
        normalize_audio=bool(args.normalize_audio),
        time_shift=args.time_shift or 0.0,
        gain_db=args.gain_db or 0.0,
        frequency_warp=args.frequency_warp or 0.0,
        num_points=args.num_points,
        rotate=none_if_auto(args.rotate) or "none",
        jitter=args.jitter or 0.0,
        scale_range=tuple(args.scale) if args.scale else None,
        axis_scale_range=tuple(args.axis_scale) if args.axis_scale else None,
        point_dropout=args.point_dropout or 0.0,
        point_align=args.align or "none",
        frame_sample=args.frame_sample or 0.0,
        local_geometry=args.local_geometry or 0,
        num_steps=args.num_steps,
        center_recordings=bool(args.center_recordings),
        num_frames=args.num_frames,
        multi_label=True if args.multi_label else None,
    )


def run(args) -> int:
    overrides = parse_overrides(args.set)
    if args.init_from:
        check_init_from(args)
    else:
        if args.freeze_backbone:
            raise UsageError("--freeze-backbone keeps a trained model's backbone: add --init-from MODEL.keras.")
        check_model_flags(args.preset or DEFAULT_PRESET, overrides)  # the recipe picks among same-kind presets
    check_recipe_flags(args)
    output_dir = args.output_dir or default_output_dir(args.data, args.init_from)
    if args.init_from:
        check_init_output(args.init_from, output_dir)
    output_dir = writable_directory(output_dir, "--output-dir")
    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy, is_chief, worker_id = make_strategy(args)
    from perceiver_tf.training.run_lock import RunLock

    with RunLock(output_dir) if is_chief else contextlib.nullcontext():  # a busy directory fails before the data loads
        return _train(args, overrides, output_dir, strategy, is_chief, worker_id)


def _train(args, overrides: dict, output_dir: str, strategy, is_chief: bool, worker_id: int) -> int:
    """Load the data, build and train the model: the body of `run` once the output directory is this run's."""

    import keras

    from perceiver_tf.backend_support import backend, mixed_precision_policy, resolve_jit_compile
    from perceiver_tf.commands.model_files import load_trained_model
    from perceiver_tf.data import DataOptionError, PipelineOptions, batched, load_source
    from perceiver_tf.models import build_classifier
    from perceiver_tf.training import (
        classifier_from_trained,
        compile_classifier,
        head_summary,
        train_classifier,
    )

    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy(mixed_precision_policy())
    init_model = init_processor = None
    if args.init_from:
        init_model, init_metadata = load_trained_model(args.init_from, flag="--init-from")
        options, init_processor = init_data_options(args, init_metadata)
    else:
        options = data_options(args)
    try:
        source = load_source(args.data, options)
    except DataOptionError as error:
        raise UsageError(str(error)) from None
    except ValueError as error:
        raise CommandError(f"--data {args.data!r}: {error}") from None
    if init_model is not None:
        check_init_preprocessing(args, source, init_processor)
    check_source_flags(args, source)
    recipe = choose_recipe(args, source)
    try:
        source = apply_recipe(data_options(args), source)
    except DataOptionError as error:  # a given flag and a chosen one that do not go together
        raise UsageError(str(error)) from None
    if source.skipped:
        print(f"Skipped {len(source.skipped)} bad file(s) (--skip-bad-files): "
              + ", ".join(source.skipped[:10]) + (" ..." if len(source.skipped) > 10 else ""))
    num_classes = len(source.class_names)
    # Multi-hot labels are rows already; class ids become one-hot rows for smoothing, MixUp and CutMix.
    one_hot = source.multi_label or bool(args.label_smoothing or args.mixup or args.cutmix)
    pipeline = PipelineOptions(args.batch_size, args.seed, one_hot, args.mixup, args.cutmix, cache=not args.no_cache,
                               batch_multiple=getattr(strategy, "batch_multiple", 1))
    try:
        train = batched(source.train, source.processor, True, num_classes, pipeline, source.num_train)
    except ValueError as error:
        raise UsageError(str(error)) from None
    val = batched(source.val, source.processor, False, num_classes, pipeline, source.num_val)
    steps_per_epoch = (math.ceil(source.num_train / args.batch_size) if source.num_train
                       else int(train.reduce(0, lambda n, _: n + 1)))
    total_steps = args.epochs * steps_per_epoch
    with strategy.scope():
        if init_model is not None:
            try:  # a copy of the backbone, created in the strategy's scope
                model = classifier_from_trained(
                    init_model, class_names=source.class_names, freeze_backbone=args.freeze_backbone,
                    multi_label=source.multi_label,
                    metadata={**source.metadata, "data": args.data, "init_from": args.init_from,
                              "recipe": recipe_record(args, source, recipe)},
                )
            except (ValueError, TypeError) as error:
                raise CommandError(f"--init-from {args.init_from!r}: {error_reason(error)}") from None
        else:
            try:
                model = build_classifier(
                    args.preset, source.processor.input_shape, num_classes, input_kind=source.processor.input_kind,
                    metadata={**source.metadata, "data": args.data, "recipe": recipe_record(args, source, recipe)},
                    **{"multi_label": source.multi_label, **position_options(source.processor), **overrides},
                )
            except (ValueError, TypeError) as error:
                raise UsageError(f"--preset {args.preset} with --set {overrides or '(none)'} does not build a model "
                                 f"for input {source.processor.input_shape}: {error_reason(error)}") from None
        jit_choice = "" if args.jit_compile is not None else " (default)"
        # Recorded as resolved (run.json, the log): "auto" depends on the model's input shapes.
        args.jit_compile = resolve_jit_compile(args.jit_compile, model)
        compile_classifier(
            model, total_steps, optimizer=args.optimizer, learning_rate=args.learning_rate,
            warmup_steps=int(args.warmup_epochs * steps_per_epoch), weight_decay=args.weight_decay,
            global_clipnorm=args.clipnorm or None, label_smoothing=args.label_smoothing,
            jit_compile=args.jit_compile,
        )
    labels = "multi-label" if source.multi_label else "single-label"
    if init_model is not None:
        trainable = sum(math.prod(weight.shape) for weight in model.trainable_weights)
        frozen = ", backbone frozen" if args.freeze_backbone else ""
        described = (f"Fine-tuning {args.init_from} ({model.count_params():,} parameters, {trainable:,} trainable"
                     f"{frozen}; {head_summary(init_model, num_classes, source.class_names, source.multi_label)})")
    else:
        described = f"Training preset {args.preset!r} ({model.count_params():,} parameters)"
    print(f"{described} on {args.data} "
          f"({source.modality}, {num_classes} classes, {labels}, input {source.processor.input_shape}): "
          f"{source.num_train or '?'} train / {source.num_val or '?'} validation examples; "
          f"strategy {args.strategy} -> {describe_strategy(strategy)}; Keras backend {backend()}, "
          f"jit_compile {args.jit_compile}{jit_choice}.")
    print(describe_recipe(recipe))
    result = train_classifier(model, train, val, args.epochs, output_dir, verbose=keras_verbosity(args.verbose),
                              is_chief=is_chief, worker_id=worker_id, tensorboard=not args.no_tensorboard,
                              restart=args.restart, settings=run_settings(args, overrides),
                              early_stopping_patience=args.early_stopping,
                              selection_window=args.selection_window)
    resumed = f", resumed at epoch {result.resumed_from_epoch}" if result.resumed_from_epoch else ""
    score = (f"validation mAP: {result.val_map:.4f}" if result.val_map is not None
             else f"validation accuracy: {result.val_accuracy:.4f}")
    print(f"{score}  (loss {result.val_loss:.4f}, {result.epochs} epochs, "
          f"{result.train_seconds:.0f} s{resumed}); model saved to {result.model_path}")
    if is_chief:
        print(next_steps(output_dir, source.modality, tensorboard=not args.no_tensorboard and tensorboard_installed()))
    return 0


def keras_verbosity(verbose: str | int) -> int:
    """`--verbose` -> Keras' `verbose`: "auto" is a progress bar on a terminal and one line per epoch
    otherwise (a log file gets no bars of backspaces)."""
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2


#: A file of each modality to try `predict` / `attention` on.
_EXAMPLE_FILES = {"image": "photo.png", "audio": "clip.wav", "points": "cloud.ply", "sensors": "recording.csv",
                  "audio_video": "clip_folder/"}


def next_steps(output_dir: str, modality: str, tensorboard: bool = True) -> str:
    """What to do with a finished run: where its files are and the commands that use them."""
    model = os.path.join(output_dir, "model.keras")
    example = _EXAMPLE_FILES.get(modality, "FILE")
    lines = [
        f"Files in {output_dir}/: model.keras (the best epoch's weights with early stopping, else the last), best.keras (best epoch; best.keras.json: its epoch and "
        f"score), metrics.json, history.csv{', logs/' if tensorboard else ''}. Next:",
        f"  perceiver-tf evaluate --model {model}",
        f"  perceiver-tf predict --model {model} {example}",
        f"  perceiver-tf attention --model {model} --out attention.png {example}",
        f"  perceiver-tf export --model {model} --format saved_model --output {output_dir}_serving",
    ]
    if tensorboard:
        lines.append(f"  tensorboard --logdir {os.path.join(output_dir, 'logs')}")
    return "\n".join(lines)


def run_settings(args, overrides: dict) -> dict:
    """What a resumed run must share with the run that wrote the backup (everything that changes the
    result; not the epoch count or early-stopping patience, which a resume may change, nor logging or
    device flags)."""
    excluded = {"epochs", "early_stopping", "restart", "output_dir", "verbose", "no_tensorboard", "handler", "command", "debug",
                "strategy", "tpu", "cpu_devices", "set"}
    init_from = getattr(args, "init_from", None)
    if not init_from:  # a run from scratch records what it did before --init-from existed
        excluded |= {"init_from", "freeze_backbone"}
    settings = {**{k: v for k, v in sorted(vars(args).items()) if k not in excluded}, "overrides": overrides}
    if init_from:  # the same path holding another model is another run
        settings["init_from_sha256"] = file_sha256(init_from)
    return settings


def file_sha256(path: str) -> str:
    """The sha256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

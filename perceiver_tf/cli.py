"""The `perceiver-tf` command line: `perceiver-tf train`, `perceiver-tf presets`."""

from __future__ import annotations

import argparse
import json
import sys

from perceiver_tf.export.cli import add_export_parser


def _add_train_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="Train, evaluate and save a Perceiver classifier (default: offline digits).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", default="digits", help="Data source; 'digits' is the built-in offline dataset.")
    parser.add_argument("--preset", default="small", help="Model preset (see `perceiver-tf presets`).")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=4e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--optimizer", default="lamb", choices=["lamb", "adamw"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="saved_models/digits")
    parser.set_defaults(handler=_train)


def _train(args) -> int:
    import keras
    import tensorflow as tf

    from perceiver_tf.data import DIGITS_CLASS_NAMES, load_digits_split
    from perceiver_tf.models import build_classifier
    from perceiver_tf.training import compile_classifier, train_classifier

    if args.data != "digits":
        raise SystemExit(f"error: unknown --data {args.data!r}; available: digits")
    if args.epochs < 1 or args.batch_size < 1:
        raise SystemExit("error: --epochs and --batch-size must be >= 1")
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_val, y_val) = load_digits_split(seed=args.seed)
    train = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=args.seed)
        .batch(args.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    val = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(args.batch_size).prefetch(tf.data.AUTOTUNE)
    model = build_classifier(
        args.preset,
        x_train.shape[1:],
        len(DIGITS_CLASS_NAMES),
        input_kind="image",
        metadata={"class_names": DIGITS_CLASS_NAMES, "modality": "image", "data": args.data},
    )
    steps = args.epochs * int(train.cardinality())
    compile_classifier(
        model, steps, optimizer=args.optimizer, learning_rate=args.learning_rate, weight_decay=args.weight_decay
    )
    print(f"Training preset {args.preset!r} ({model.count_params():,} parameters) on {args.data}: "
          f"{len(x_train)} train / {len(x_val)} validation examples.")
    result = train_classifier(model, train, val, args.epochs, args.output_dir)
    print(f"validation accuracy: {result.val_accuracy:.4f}  (loss {result.val_loss:.4f}, "
          f"{result.train_seconds:.0f} s); model saved to {result.model_path}")
    return 0


def _add_presets_parser(subparsers) -> None:
    parser = subparsers.add_parser("presets", help="List the model presets with their parameter counts.")
    parser.set_defaults(handler=_presets)


def _presets(args) -> int:
    from perceiver_tf.models import PRESETS

    for preset in PRESETS.values():
        print(json.dumps({"name": preset.name, "params": preset.params, "input_kind": preset.input_kind,
                          "description": preset.description}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="perceiver-tf", description="Perceiver models for Keras 3 / TensorFlow.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(subparsers)
    _add_presets_parser(subparsers)
    add_export_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `perceiver-tf` console script."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

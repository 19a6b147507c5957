"""The `perceiver-tf` command line: `train`, `evaluate`, `predict`, `attention`, `presets`."""

from __future__ import annotations

import argparse
import importlib
import sys

from perceiver_tf.commands.arguments import Parser, verbosity
from perceiver_tf.commands.convert import add_convert_parser
from perceiver_tf.commands.errors import report, show_data_warnings_as_lines
from perceiver_tf.commands.export import add_export_parser
from perceiver_tf.option_names import use_command_line_names
from perceiver_tf.workflows.options import VALUE_RULES as VALUES
from perceiver_tf.workflows.values import positive_int


def _command(name: str):
    """A handler that imports `perceiver_tf.commands.<name>` only when that subcommand runs."""

    def handler(args) -> int:
        module = importlib.import_module(f"perceiver_tf.commands.{name}")
        return module.run(args)

    return handler


def _add_train_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="Train, evaluate and save a Perceiver classifier (default: offline digits).",
        description="Train, evaluate and save a Perceiver classifier. Each flag's default is shown; "
                    "flags of another modality than the data's are refused.")
    data = parser.add_argument_group("data")
    data.add_argument("--data", default="digits",
                      help="'digits' (built-in, offline), tfds:NAME[:SPLIT], a folder with one sub-folder per "
                           "class (images, audio, point clouds, sensor CSV/NPY, or audio + video clip folders; "
                           "optional train/ + val/), a CSV manifest with columns file,labels (';'-separated, "
                           "multi-label), TFRecord file(s), or an .npz with arrays x, y.")
    data.add_argument("--modality", choices=VALUES["modality"], default=None,
                      help="Override the modality detected from file extensions (needed for a folder of .npy "
                           "files only).")
    data.add_argument("--multi-label", action="store_true",
                      help="Treat a manifest's labels as independent (sigmoid) even when every file has one.")
    data.add_argument("--validation-fraction", type=VALUES["validation_fraction"], default=0.2,
                      help="Seeded held-out fraction when the source has no validation split.")
    data.add_argument("--skip-bad-files", action="store_true",
                      help="Skip (and count) corrupt, unreadable or unsupported files instead of failing.")
    data.add_argument("--no-cache", action="store_true", help="Do not cache decoded examples in memory.")
    images = parser.add_argument_group("images (and video frames)")
    images.add_argument("--image-size", type=VALUES["image_size"], nargs=2, metavar=("H", "W"),
                        help="Resize images to H x W. Default: the median size of all images, longest side at "
                             "most 32.")
    images.add_argument("--channels", type=int, choices=VALUES["channels"],
                        help="Default: 3 if any image has colour, else 1.")
    images.add_argument("--rand-augment", action="store_true", help="RandAugment training images.")
    images.add_argument("--permute-pixels", type=VALUES["permute_pixels"], default=None, metavar="SEED",
                        help="Apply one fixed pixel permutation (the paper's permuted-ImageNet experiment).")
    audio = parser.add_argument_group("audio")
    audio.add_argument("--sample-rate", type=VALUES["sample_rate"], default=16000, help="Audio is resampled to this rate (Hz).")
    audio.add_argument("--clip-seconds", type=VALUES["clip_seconds"], default=1.0,
                       help="Crop/pad length (random crop in training, centre crop in evaluation).")
    audio.add_argument("--audio-features", choices=VALUES["audio_features"], default="log_mel",
                       help="log_mel: log-mel spectrogram frames; waveform: raw-sample patches.")
    audio.add_argument("--patch-size", type=VALUES["patch_size"], default=128,
                       help="Samples per raw-waveform patch (--audio-features waveform).")
    audio.add_argument("--mel-bins", type=VALUES["mel_bins"], default=64, help="Mel bands of the log-mel features.")
    audio.add_argument("--normalize-audio", action=argparse.BooleanOptionalAction, default=None,
                       help="Standardise each clip's log-mel features (training, evaluation and serving).")
    audio.add_argument("--time-shift", type=VALUES["time_shift"], default=None, metavar="FRACTION",
                       help="Move training clips by up to this fraction of their length either way.")
    audio.add_argument("--gain-db", type=VALUES["gain_db"], default=None, metavar="DB",
                       help="Random gain of training clips (and sensor recordings), up to this many dB either way "
                            "(not chosen by a recipe).")
    audio.add_argument("--frequency-warp", type=VALUES["frequency_warp"], default=None, metavar="W",
                       help="Stretch training log-mel spectra along frequency by a factor in [1-W, 1+W] "
                            "(vocal-tract length perturbation).")
    points = parser.add_argument_group("point clouds")
    points.add_argument("--num-points", type=VALUES["num_points"], default=None,
                        help="Points per point-cloud example. Default (recipe): the median cloud's point count "
                             "rounded up to a power of two, 128 to 1024.")
    points.add_argument("--rotate", nargs="?", const="z", default="auto", choices=VALUES["rotate"],
                        help="Random rotation of training point clouds: none, z (about the up axis; the value of a "
                             "bare --rotate) or so3 (any 3-D rotation). Default auto (recipe): from the clouds' "
                             "principal axes (aligned: none; upright: z; any orientation: --align pca, then none).")
    points.add_argument("--align", choices=VALUES["align"], default=None,
                        help="pca: rotate every cloud into its principal axes (training, evaluation and serving). "
                             "Default (recipe): pca for clouds in any orientation (see --rotate), else none.")
    points.add_argument("--local-geometry", type=VALUES["local_geometry"], default=None, metavar="K",
                        help="Append to every point the shape of its K nearest neighbours (linearity, planarity, "
                             "scattering, |normal|; training, evaluation and serving); 0: xyz only. "
                             "Default (recipe): 32.")
    points.add_argument("--jitter", type=VALUES["jitter"], default=None,
                        help="Gaussian jitter std for training point clouds (sensor recordings: relative to each "
                             "recording's std, not chosen by a recipe). Default (recipe): 0.01.")
    points.add_argument("--scale", type=VALUES["scale"], nargs=2, metavar=("LOW", "HIGH"),
                        help="Random isotropic scaling range for training point clouds.")
    points.add_argument("--axis-scale", type=VALUES["axis_scale"], nargs=2, metavar=("LOW", "HIGH"),
                        help="Random scaling range of each axis of training point clouds. Default (recipe): 0.8 1.25.")
    points.add_argument("--point-dropout", type=VALUES["point_dropout"], default=None, metavar="FRACTION",
                        help="Drop up to this fraction of a training cloud's points. Default (recipe): 0.2.")
    points.add_argument("--frame-sample", type=VALUES["frame_sample"], default=None, metavar="FRACTION",
                        help="With --align pca: each training cloud's principal axes from this random fraction of "
                             "its points, so that axes of near-equal variance turn (0: from all points). "
                             "Default (recipe, with --align pca): 0.5.")
    series = parser.add_argument_group("sensor streams and video clips")
    series.add_argument("--num-steps", type=VALUES["num_steps"], default=None,
                        help="Time steps per sensor example. Default: the longest recording, at most 1024.")
    series.add_argument("--center-recordings", action=argparse.BooleanOptionalAction, default=None,
                        help="Subtract each sensor recording's per-channel mean (static offsets such as gravity). "
                             "Default (recipe): on when such offsets hold a quarter or more of the variance.")
    series.add_argument("--sequence-tokens", choices=VALUES["sequence_tokens"], default=None,
                        help="How a sensor recording becomes tokens: steps (one per time step), patches (every "
                             "--sequence-patch-size steps of all channels), conv (a Conv1D stem pooled over that "
                             "many steps), fcn (three Conv1D layers, kernels 8/5/3, pooled alike) or channels (each "
                             "channel's patch a token of its own, with its channel index in the position features). "
                             "Default (recipe): channels.")
    series.add_argument("--sequence-patch-size", type=VALUES["sequence_patch_size"], default=None, metavar="STEPS",
                        help="Time steps per sensor token (--sequence-tokens patches, conv, fcn, channels). "
                             "Default (recipe): --num-steps / 16, at least 1.")
    series.add_argument("--window-warp", type=VALUES["window_warp"], default=None, metavar="FRACTION",
                        help="Each training sensor recording becomes a random window of at least 1 - FRACTION of "
                             "its length, stretched back to its length. Default (recipe): 0.2, or 0 for "
                             "periodic recordings.")
    series.add_argument("--num-frames", type=VALUES["num_frames"], default=8,
                        help="Frames per video clip (audio + video data).")
    model = parser.add_argument_group("model")
    model.add_argument("--preset", default=None,
                       help="Model preset (see `perceiver-tf presets`). Default (recipe): tiny below 2,000 training "
                            "examples, else small (with --init-from: the init model's architecture; --preset is "
                            "then refused).")
    model.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="Override a preset argument, e.g. --set num_latents=16 (repeatable; not with "
                            "--init-from).")
    model.add_argument("--init-from", default=None, metavar="MODEL.keras",
                       help="Fine-tune: start from the weights of a model.keras written by `perceiver-tf train`. "
                            "Its architecture and preprocessing are kept (data flags must agree with them; "
                            "augmentation flags may be added); its head is reused when the data has the same "
                            "class names in the same order, else a new head is trained. The optimizer starts "
                            "afresh with the recipe flags: a smaller --learning-rate, e.g. 1e-4, usually suits "
                            "fine-tuning. Default --output-dir: saved_models/<data name>_finetuned.")
    model.add_argument("--freeze-backbone", action="store_true",
                       help="With --init-from: train only the classification head (the backbone's weights "
                            "stay as they are).")
    recipe = parser.add_argument_group(
        "recipe", "Cosine decay, clipping, weight decay. --optimizer lamb --learning-rate 4e-3 is the paper's "
                  "ImageNet recipe; AdamW 1e-3 measured more reliable on small data sets.")
    recipe.add_argument("--epochs", type=VALUES["epochs"], default=None,
                        help="Epochs in total (a resumed run included). Default (recipe): enough for 500 steps "
                             "(1,500 with --mixup or --cutmix), 25 to 300.")
    recipe.add_argument("--early-stopping", type=VALUES["early_stopping"], default=None, metavar="PATIENCE",
                        help="Stop after PATIENCE epochs without a better validation score and keep the best "
                             "epoch's weights; 0: train every epoch, keep the last. Default (recipe): a quarter "
                             "of the epochs, at least 10; 0 below 200 validation examples.")
    recipe.add_argument("--selection-window", type=VALUES["selection_window"], default=1, metavar="EPOCHS",
                        help="Score each epoch (for the best weights and early stopping) by the mean validation "
                             "score over it and the EPOCHS-1 before it (steadier on a small validation set); "
                             "1: each epoch alone.")
    recipe.add_argument("--batch-size", type=VALUES["batch_size"], default=64, help="Global batch size (all replicas).")
    recipe.add_argument("--seed", type=VALUES["seed"], default=0,
                        help="Seeds the split, the initial weights, shuffling and augmentation.")
    recipe.add_argument("--optimizer", default="adamw", choices=VALUES["optimizer"], help="The optimizer.")
    recipe.add_argument("--learning-rate", type=VALUES["learning_rate"], default=None,
                        help="Peak learning rate (after warm-up), decayed to 0 by a cosine. Default (recipe): 3e-3 "
                             "for preset tiny below 1,000 training examples, else 1e-3.")
    recipe.add_argument("--weight-decay", type=VALUES["weight_decay"], default=0.01, help="Decoupled weight decay.")
    recipe.add_argument("--clipnorm", type=VALUES["clipnorm"], default=10.0,
                        help="Global gradient-norm clip; 0 disables.")
    recipe.add_argument("--warmup-epochs", type=VALUES["warmup_epochs"], default=0.0,
                        help="Linear warm-up before cosine decay (fewer than --epochs).")
    recipe.add_argument("--label-smoothing", type=VALUES["label_smoothing"], default=0.0, help="Label smoothing in [0, 1).")
    recipe.add_argument("--mixup", type=VALUES["mixup"], default=None, metavar="ALPHA",
                        help="MixUp Beta alpha; 0 disables. Multi-label targets are blended the same way (soft "
                             "multi-hot). Default (recipe): 0.2 for images (unless --cutmix is given), else 0.")
    recipe.add_argument("--cutmix", type=VALUES["cutmix"], default=0.0, metavar="ALPHA",
                        help="CutMix Beta alpha (images); 0 disables.")
    devices = parser.add_argument_group("devices")
    devices.add_argument("--strategy", default="auto",
                         choices=VALUES["strategy"],
                         help="tf.distribute strategy; multi_worker reads the cluster from TF_CONFIG.")
    devices.add_argument("--tpu", default=None, help="TPU name or grpc:// address for --strategy tpu.")
    devices.add_argument("--cpu-devices", type=VALUES["cpu_devices"], default=0,
                         help="Split the CPU into N logical devices (test data parallelism on one machine).")
    devices.add_argument("--mixed-precision", action="store_true",
                         help="mixed_float16 on GPU, mixed_bfloat16 on CPU/TPU (softmax/LayerNorm stay float32).")
    devices.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                         help="Compile train/eval steps with XLA. Default: on under KERAS_BACKEND=jax; under "
                         "TensorFlow on for fixed input shapes on one device, off for variable sizes (it would "
                         "compile once per shape), under --distribute and, on a CPU, for chunked cross-attention "
                         "(its memory bound).")
    output = parser.add_argument_group("output")
    output.add_argument("--output-dir", default=None, help="Default: saved_models/<data name>.")
    output.add_argument("--restart", action="store_true",
                        help="Discard the output directory's backup/ (an interrupted run) and train from scratch.")
    output.add_argument("--overwrite", action="store_true",
                        help="Replace the finished run in --output-dir (its model.keras, metrics, history); "
                        "without it such a directory is refused.")
    output.add_argument("--no-tensorboard", action="store_true", help="Do not write TensorBoard logs.")
    output.add_argument("--verbose", default="auto", type=verbosity,
                        help="Progress: auto (a progress bar on a terminal, one line per epoch otherwise), "
                             "0 (silent), 1 (progress bar), 2 (one line per epoch).")
    parser.set_defaults(handler=_command("train"))


def _add_evaluate_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="Accuracy and loss of a trained model on a data source (JSON).")
    parser.add_argument("--model", required=True, help="A model.keras written by `perceiver-tf train`.")
    parser.add_argument("--data", default=None,
                        help="Data source, as for `train --data`. Default: the model's training data (its metadata).")
    parser.add_argument("--split", default="auto", choices=["auto", "val", "all"],
                        help="auto: the source's own validation split if it has one, else every example.")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="Examples per evaluation batch.")
    parser.add_argument("--skip-bad-files", action="store_true",
                        help="Skip (and count) corrupt or unreadable files instead of failing.")
    parser.set_defaults(handler=_command("evaluate"))


def _add_predict_parser(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="Top-k classes of files (one JSON line per file).")
    parser.add_argument("--model", required=True, help="A model.keras written by `perceiver-tf train`.")
    parser.add_argument("--top-k", type=positive_int, default=3, help="Classes listed per file, most probable first.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="Files the model can read (as in training).")
    parser.set_defaults(handler=_command("predict"))


def _add_attention_parser(subparsers) -> None:
    from perceiver_tf.commands.attention import add_attention_parser

    add_attention_parser(subparsers)


def _add_presets_parser(subparsers) -> None:
    parser = subparsers.add_parser("presets", help="List the model presets with their parameter counts.")
    parser.set_defaults(handler=_presets)


def _presets(args) -> int:
    from perceiver_tf.models import PRESETS

    rows = [(p.name, f"{p.params:,}", p.modality, p.description) for p in PRESETS.values()]
    header = ("preset", "parameters", "modality", "description")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = Parser(prog="perceiver-tf", description="Perceiver models for Keras 3 / TensorFlow.")
    parser.add_argument("--debug", action="store_true", help="Show the full traceback of an error.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(subparsers)
    _add_evaluate_parser(subparsers)
    _add_predict_parser(subparsers)
    _add_attention_parser(subparsers)
    _add_presets_parser(subparsers)
    add_export_parser(subparsers)
    add_convert_parser(subparsers)
    for subparser in subparsers.choices.values():  # `--debug` after the subcommand works too
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                               help="Show the full traceback of an error.")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `perceiver-tf` console script: the subcommand's exit status.

    A usage error is one `error:` line and status 2 (argparse's, or the command's `OptionError`);
    a failure the user can fix is one `error:` line and status 1; `--debug` re-raises instead.
    """
    args = build_parser().parse_args(argv)
    use_command_line_names()  # messages name options as --flags
    show_data_warnings_as_lines()
    try:
        return args.handler(args)
    except (Exception, KeyboardInterrupt) as error:
        if args.debug:
            raise
        output = getattr(args, "output_dir", None) or getattr(args, "output", None) or getattr(args, "out", None)
        return report(error, args.command, output)


if __name__ == "__main__":
    sys.exit(main())

"""`perceiver-tf convert`: a transformers Perceiver checkpoint (directory or hub id) -> a `.keras` model.

    perceiver-tf convert deepmind/vision-perceiver-fourier --output saved_models/vision_perceiver_fourier.keras
    perceiver-tf convert ./language-perceiver --output saved_models/language_perceiver.keras --gelu tanh
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from perceiver_tf.errors import OptionError
from perceiver_tf.workflows.values import positive_int

#: `perceiver_tf.convert.GELU_VARIANTS`, spelled out so that `--help` does not import TensorFlow.
GELU_CHOICES = ("exact", "tanh")


def add_convert_parser(subparsers) -> None:
    """Register the `convert` subcommand on an argparse `subparsers` object."""
    parser = subparsers.add_parser(
        "convert", help="Import a transformers Perceiver checkpoint (DeepMind's official weights) as a .keras model.")
    parser.add_argument("source", metavar="SRC",
                        help="A directory with config.json + model.safetensors (or pytorch_model.bin), or a hub id "
                             "such as deepmind/vision-perceiver-fourier (downloaded with huggingface_hub).")
    parser.add_argument("--output", required=True, help="The .keras file to write (atomically).")
    parser.add_argument("--gelu", choices=GELU_CHOICES, default=None,
                        help="Default: as transformers evaluates the checkpoint (exact GELU for DeepMind's); tanh: "
                             "the approximation DeepMind trained with.")
    parser.add_argument("--image-size", type=positive_int, default=None,
                        help="Input side of a Fourier / conv image model (default: the checkpoint's preprocessor "
                             "config, else 224).")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing --output file.")
    parser.set_defaults(handler=run)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args) -> int:
    from perceiver_tf.commands.json_lines import json_line
    from perceiver_tf.convert import convert_transformers, read_checkpoint, save_converted

    output = Path(args.output)
    if output.suffix != ".keras":
        raise OptionError(f"--output {args.output!r} must end in .keras.")
    if output.exists() and not args.overwrite:
        raise OptionError(f"--output {args.output!r} exists; pass --overwrite to replace it.")
    start = time.perf_counter()
    if not Path(args.source).exists():
        _progress(f"downloading {args.source} from the Hugging Face hub ...")
    checkpoint = read_checkpoint(args.source)
    _progress(f"converting {len(checkpoint.tensors)} tensors ({checkpoint.config.get('architectures', ['?'])[0]}) ...")
    model = convert_transformers(checkpoint, gelu=args.gelu, image_size=args.image_size)
    _progress(f"saving {output} ...")
    save_converted(model, output)
    metadata = model.metadata
    print(json_line({
        "output": str(output), "architecture": metadata["converted_from"]["architecture"],
        "parameters": int(model.count_params()), "gelu": metadata["converted_from"]["gelu"],
        "inputs": [int(d) for d in model.backbone.adapters["inputs"].example_shape],
        "classes": len(metadata.get("class_names", [])) or None,
        "seconds": round(time.perf_counter() - start, 1),
    }))
    return 0

"""`perceiver-tf attention`: plot a trained model's cross-attention on one file as a PNG.

The plot follows `model.metadata["modality"]`: image -> per-latent maps over the pixels for
the first and last cross-attend; audio -> attention over time; points -> points coloured by
attention. The file goes through the same preprocessing as `perceiver-tf predict`.
"""

from __future__ import annotations

import json


def add_attention_parser(subparsers) -> None:
    """Register `perceiver-tf attention --model M FILE --out x.png`."""
    parser = subparsers.add_parser("attention", help="Plot a trained model's cross-attention on one file (PNG).")
    parser.add_argument("--model", required=True, help="A model.keras written by `perceiver-tf train`.")
    parser.add_argument("--out", required=True, help="PNG file to write.")
    parser.add_argument("--latents", type=int, default=6, help="Latents shown (the most focused ones).")
    parser.add_argument("file", metavar="FILE", help="An image, audio or point-cloud file the model can read.")
    parser.set_defaults(handler=run)  # `run` imports TensorFlow only when the subcommand runs


def run(args) -> int:
    import numpy as np
    import tensorflow as tf

    from perceiver_tf.commands.model_files import (
        first_error_line,
        load_trained_model,
        model_input_from_file,
        processor_for,
    )
    from perceiver_tf.visualize import (
        cross_attention_maps,
        plot_image_attention,
        plot_point_attention,
        plot_sequence_attention,
    )

    if args.latents < 1:
        raise SystemExit(f"error: --latents must be >= 1. Received: {args.latents}")
    model, metadata = load_trained_model(args.model)
    if getattr(model, "use_input_mask", False):
        raise SystemExit("error: `attention` supports models without an input mask (use_input_mask=False).")
    processor, _ = processor_for(metadata)
    modality = metadata["modality"]
    try:
        example = np.asarray(model_input_from_file(processor, tf.constant(args.file)))
    except (tf.errors.OpError, ValueError) as error:
        raise SystemExit(f"error: cannot read {modality} file {args.file!r}: {first_error_line(error)}") from None
    maps = cross_attention_maps(model, example[None])
    num_latents = min(args.latents, maps[0].shape[2])
    if modality == "image":
        path = plot_image_attention(example, maps, args.out, num_latents=num_latents)
    elif modality == "audio":
        path = plot_sequence_attention(maps, args.out, num_latents=num_latents)
    else:
        path = plot_point_attention(example, maps, args.out, num_latents=num_latents)
    print(json.dumps({"file": args.file, "out": str(path), "modality": modality,
                      "cross_attends": len(maps), "attention_shape": list(maps[0].shape)}))
    return 0

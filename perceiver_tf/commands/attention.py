"""`perceiver-tf attention`: plot a trained model's cross-attention on one file as a PNG.

The plot follows `model.metadata["modality"]`: image -> per-latent maps over the pixels (or
patches) for the first and last cross-attend; audio and sensor streams -> attention over time;
points -> points coloured by attention; audio + video -> attention over time and over the middle
frame. The file goes through the same preprocessing as `perceiver-tf predict`.
"""

from __future__ import annotations

from perceiver_tf.commands.arguments import positive_int
from perceiver_tf.commands.json_lines import json_line


def add_attention_parser(subparsers) -> None:
    """Register `perceiver-tf attention --model M FILE --out x.png`."""
    parser = subparsers.add_parser("attention", help="Plot a trained model's cross-attention on one file (PNG).")
    parser.add_argument("--model", required=True, help="A model.keras written by `perceiver-tf train`.")
    parser.add_argument("--out", required=True, help="PNG file to write.")
    parser.add_argument("--latents", type=positive_int, default=6, help="Latents shown (the most focused ones).")
    parser.add_argument("file", metavar="FILE", help="A file (or, for audio + video, a clip folder) the model can read.")
    parser.set_defaults(handler=run)  # `run` imports TensorFlow only when the subcommand runs


def run(args) -> int:
    import numpy as np
    import tensorflow as tf

    from perceiver_tf import visualize
    from perceiver_tf.commands.errors import CommandError
    from perceiver_tf.commands.model_files import (
        as_model_inputs,
        load_trained_model,
        model_input_from_file,
        non_finite_problem,
        processor_for,
    )
    from perceiver_tf.commands.output_paths import writable_file
    from perceiver_tf.data.errors import error_reason
    from perceiver_tf.export.saved_model import model_outputs

    writable_file(args.out, "--out")
    model, metadata = load_trained_model(args.model)
    processor = processor_for(metadata)
    modality = metadata["modality"]
    try:
        example = tf.nest.map_structure(np.asarray, model_input_from_file(processor, tf.constant(args.file)))
    except (tf.errors.OpError, ValueError) as error:
        raise CommandError(f"cannot read {modality} file {args.file!r}: {error_reason(error)}") from None
    problem = non_finite_problem(example)
    if problem:
        raise CommandError(f"{args.file!r}: {problem}")
    inputs = as_model_inputs(model, example)
    maps = visualize.cross_attention_maps(model, inputs)
    probabilities = np.asarray(model_outputs(model, inputs)["probabilities"])[0]
    best = int(probabilities.argmax())
    title = f"{args.file.rstrip('/').split('/')[-1]}: predicted {metadata['class_names'][best]!r} (p = {probabilities[best]:.2f})"
    num_latents = min(args.latents, maps[0].shape[2])
    adapters = model.backbone.adapters
    if modality == "image":
        path = visualize.plot_image_attention(example, maps, args.out, num_latents=num_latents,
                                              grid=adapters["inputs"].element_grid, title=title)
    elif modality in ("audio", "sensors"):
        path = visualize.plot_sequence_attention(maps, args.out, num_latents=num_latents, title=title)
    elif modality == "points":
        path = visualize.plot_point_attention(example, maps, args.out, num_latents=num_latents, title=title)
    else:
        split = [visualize.attention_by_input(model, m) for m in maps]
        path = visualize.plot_audio_video_attention(example["video"], [s["audio"] for s in split],
                                                    [s["video"] for s in split], adapters["video"].element_grid,
                                                    args.out, num_latents=num_latents, title=title)
    report = {"file": args.file, "out": str(path), "modality": modality, "cross_attends": len(maps),
              "attention_shape": list(maps[0].shape), "predicted": metadata["class_names"][best]}
    if getattr(model, "decoder", None) == "query":
        report["decoder_attention_shape"] = list(visualize.decoder_attention_maps(model, inputs)["head"].shape)
    print(json_line(report))
    return 0

"""`perceiver-tf attention`: `perceiver_tf.plot_attention` of the flags (the figure is described there),
its report printed as one JSON line."""

from __future__ import annotations

from perceiver_tf.workflows.values import positive_int


def add_attention_parser(subparsers) -> None:
    """Register `perceiver-tf attention --model M FILE --out x.png`."""
    parser = subparsers.add_parser("attention", help="Plot a trained model's cross-attention on one file (PNG).")
    parser.add_argument("--model", required=True, help="A model.keras written by `perceiver-tf train`.")
    parser.add_argument("--out", required=True, help="PNG file to write.")
    parser.add_argument("--latents", type=positive_int, default=6,
                        help="The most latents shown per cross-attend (the most focused ones with distinct maps).")
    parser.add_argument("file", metavar="FILE", help="A file (or, for audio + video, a clip folder) the model can read.")
    parser.set_defaults(handler=run)  # `run` imports TensorFlow only when the subcommand runs


def run(args) -> int:
    from perceiver_tf.commands.json_lines import json_line
    from perceiver_tf.workflows.attention import plot_attention

    print(json_line(plot_attention(args.model, args.file, args.out, latents=args.latents)))
    return 0

"""`perceiver-tf train`: the flags as `perceiver_tf.train` keywords, then where the files are and what to run next."""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import fields

from perceiver_tf.errors import OptionError


def parse_overrides(pairs: list[str]) -> dict:
    """`["num_latents=16", "spacing=log"]` -> `{"num_latents": 16, "spacing": "log"}` (JSON values).

    Raises:
        OptionError: a pair without `=`.
    """
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OptionError(f"--set expects KEY=VALUE, e.g. --set num_latents=64. Received: {pair!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def run(args) -> int:
    from perceiver_tf.optional_packages import tensorboard_installed
    from perceiver_tf.workflows.options import TrainOptions
    from perceiver_tf.workflows.train import train

    options = {f.name: getattr(args, f.name) for f in fields(TrainOptions)}
    options["set"] = parse_overrides(args.set)
    run = train(args.data, args.output_dir, **options)
    if run.wrote_files:
        print(next_steps(str(run.output_dir), run.example_files,
                         tensorboard=not args.no_tensorboard and tensorboard_installed()))
    return 0


def next_steps(output_dir: str, example_files: list, tensorboard: bool = True) -> str:
    """What to do with a finished run: where its files are and the commands that use them, each of
    which runs as printed (`predict` and `attention` on one of the validation examples written to
    `examples/`; without one, as for audio + video, those two lines are left out)."""
    model = shlex.quote(os.path.join(output_dir, "model.keras"))
    examples = ", examples/ (validation examples to try)" if example_files else ""
    lines = [
        f"Files in {output_dir}/: model.keras (the best epoch's weights with early stopping, else the last), best.keras (best epoch; best.keras.json: its epoch and "
        f"score), metrics.json, history.csv{', logs/' if tensorboard else ''}{examples}. Next:",
        f"  perceiver-tf evaluate --model {model}",
    ]
    if example_files:
        example = shlex.quote(str(example_files[0]))
        lines += [f"  perceiver-tf predict --model {model} {example}",
                  f"  perceiver-tf attention --model {model} --out attention.png {example}"]
    lines.append(f"  perceiver-tf export --model {model} --format saved_model "
                 f"--output {shlex.quote(output_dir + '_serving')}")
    if tensorboard:
        lines.append(f"  tensorboard --logdir {shlex.quote(os.path.join(output_dir, 'logs'))}")
    return "\n".join(lines)

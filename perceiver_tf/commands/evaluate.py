"""`perceiver-tf evaluate`: `perceiver_tf.evaluate` of the flags, printed as one JSON line."""

from __future__ import annotations

from perceiver_tf.commands.json_lines import json_line


def run(args) -> int:
    from perceiver_tf.workflows.evaluate import evaluate

    scores = evaluate(args.model, args.data, split=args.split, batch_size=args.batch_size,
                      skip_bad_files=args.skip_bad_files)
    print(json_line({**scores, "model": args.model}))
    return 0

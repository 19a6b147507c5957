"""`perceiver-tf predict`: `perceiver_tf.predict` of the files, one JSON line per file as it is classified
(exit 1 when any failed)."""

from __future__ import annotations

from perceiver_tf.commands.json_lines import json_line


def run(args) -> int:
    from perceiver_tf.workflows.predict import predictions

    failures = 0
    for line in predictions(args.model, args.files, top_k=args.top_k):
        failures += "error" in line
        print(json_line(line), flush=True)
    return 1 if failures else 0

"""`perceiver-tf predict`: `perceiver_tf.predict` of the files, one JSON line per file as it is classified
(exit 1 when any failed), and a `note:` line on stderr for a file that preprocessing converted or that
looks unlike the training data."""

from __future__ import annotations

import sys

from perceiver_tf.commands.json_lines import json_line


def run(args) -> int:
    from perceiver_tf.workflows.predict import predictions

    failures = 0
    for line in predictions(args.model, args.files, top_k=args.top_k):
        failures += "error" in line
        print(json_line(line), flush=True)
        note = input_note(line)
        if note:
            print(note, file=sys.stderr, flush=True)
    return 1 if failures else 0


def input_note(line: dict) -> str | None:
    """The one stderr line about an input that was converted or looks unlike the training data, else None."""
    parts = [", ".join(line["conversions"])] if line.get("conversions") else []
    if line.get("unusual"):
        parts.append("unlike the training data: " + "; ".join(line["unusual"]))
    return f"note: {line['file']}: {'; '.join(parts)}" if parts else None

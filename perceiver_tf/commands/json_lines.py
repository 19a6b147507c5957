"""Strict JSON for command output: a non-finite number (a diverged loss) is `null`, never a bare `NaN`."""

from __future__ import annotations

import json

from perceiver_tf.files import finite_json


def json_line(payload: dict, **dumps_kwargs) -> str:
    """`json.dumps` that any JSON parser reads (`allow_nan=False` after `finite_json`)."""
    return json.dumps(finite_json(payload), allow_nan=False, **dumps_kwargs)

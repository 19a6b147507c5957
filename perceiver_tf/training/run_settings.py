"""The fingerprint of a training run, kept with its backup so that only the same run resumes it.

`backup/run.json` holds `{"settings": ..., "model": ..., "epochs": ...}`: the caller's settings
(the `perceiver-tf train` flags that change the result; `None` for library callers), a sha256 of
the model's config and optimizer class, and the epoch count. A resume must match the settings
and the model; the epoch count may differ (a resume may extend the run).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import keras

from perceiver_tf.files import write_json_atomic
from perceiver_tf.training.run_lock import OutputDirectoryError

#: The fingerprint file inside the backup folder.
RUN_FILE = "run.json"
#: How many differing settings an error message names.
MAX_NAMED_DIFFERENCES = 3
#: The longest value quoted in an error message.
MAX_VALUE_CHARS = 40


def model_hash(model: keras.Model) -> str:
    """sha256 of the model's config (without its name, which Keras numbers per process) and optimizer class."""
    config = {key: value for key, value in model.get_config().items() if key != "name"}
    optimizer = type(model.optimizer).__name__ if getattr(model, "optimizer", None) is not None else None
    text = json.dumps({"config": config, "optimizer": optimizer}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_fingerprint(model: keras.Model, settings: dict | None, epochs: int) -> dict:
    """The `run.json` record of a run (settings as they read back from JSON: tuples become lists)."""
    return {"settings": json.loads(json.dumps(settings, default=str)), "model": model_hash(model), "epochs": epochs}


def write_fingerprint(backup_dir: str | os.PathLike, fingerprint: dict) -> None:
    """Write `backup_dir/run.json` atomically (creating `backup_dir`)."""
    Path(backup_dir).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(backup_dir) / RUN_FILE, fingerprint)


def _quoted(value) -> str:
    text = "(unset)" if value is None else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _flat(settings: dict | None, prefix: str = "") -> dict:
    """`{"overrides": {"num_latents": 16}}` -> `{"overrides.num_latents": 16}` (nested dicts, any depth)."""
    flat = {}
    for key, value in (settings or {}).items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def differences(recorded: dict, current: dict) -> list[str]:
    """What differs between two fingerprints, e.g. `["seed 0 -> 1", "overrides.num_latents 16 -> 8",
    "a different model config"]` (the epoch count is ignored)."""
    old, new = _flat(recorded.get("settings")), _flat(current.get("settings"))
    changed = [f"{key} {_quoted(old.get(key))} -> {_quoted(new.get(key))}"
               for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]
    if recorded.get("model") != current.get("model"):
        changed.append("a different model config")
    return changed


def _summary(changed: list[str]) -> str:
    named = ", ".join(changed[:MAX_NAMED_DIFFERENCES])
    more = len(changed) - MAX_NAMED_DIFFERENCES
    return named + (f" and {more} more" if more > 0 else "")


def check_resumable(backup_dir: str | os.PathLike, fingerprint: dict) -> None:
    """Refuse to resume a backup written by another run.

    Raises:
        OutputDirectoryError: `backup_dir/run.json` is missing or unreadable (an older version's
            backup), or its settings or model differ from `fingerprint`; one line naming
            `backup/`, up to 3 differences, and how to start fresh.
    """
    folder = f"{os.path.normpath(backup_dir)}{os.sep}"
    discard = "pass --restart (restart=True) to discard it, or choose another --output-dir"
    try:
        recorded = json.loads((Path(backup_dir) / RUN_FILE).read_text())
    except (OSError, ValueError):
        raise OutputDirectoryError(f"{folder} holds an interrupted run without a record of its settings "
                                   f"(written by an older perceiver_tf); {discard}") from None
    changed = differences(recorded, fingerprint)
    if changed:
        raise OutputDirectoryError(f"{folder} holds an interrupted run with other settings ({_summary(changed)}); "
                                   f"rerun with the same settings to resume it, or {discard}")

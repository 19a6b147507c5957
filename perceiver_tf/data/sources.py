"""Resolve a data spec into labelled, decoded train / validation examples (`load_source`).

Each kind of source lives in its own module and registers itself (`source.register_source`):
`digits` (built-in, offline), `tfds:NAME[:SPLIT]`, TFRecord files (`*.tfrecord`, a glob, or a
folder of them), a CSV manifest of files and (multi-)labels, an `.npz` file with arrays `x` and
`y`, a UCR/UEA `.ts` file of labelled series (`ts_source`), and a class-per-sub-folder directory
of images / audio / point clouds / sensor recordings (or audio + video clip folders). In-memory
arrays: `array_source.from_arrays`.
"""

from __future__ import annotations

import glob
import os

from perceiver_tf.data import (  # noqa: F401 (importing a kind's module registers the kind)
    digits_source,
    folder_source,
    manifest,
    npz_source,
    tfds_source,
    tfrecord_source,
    ts_source,
)
from perceiver_tf.data.options import DataOptions
from perceiver_tf.data.source import DataSource, SourceKind, registered_sources
from perceiver_tf.option_names import option_name

#: The built-in kinds (registered by the modules above), asked first and in this order: `digits`
#: and `tfds:` before any file of that name; a folder of TFRecords is TFRecords, not a class folder.
BUILT_IN_ORDER = ("digits", "tfds", "tfrecord", "csv", "npz", "ts", "folder")


def source_kinds() -> list[SourceKind]:
    """The kinds `load_source` asks, in order: the built-in ones (`BUILT_IN_ORDER`), then others as registered."""
    kinds = {kind.name: kind for kind in registered_sources()}
    built_in = [kinds.pop(name) for name in BUILT_IN_ORDER]
    return built_in + list(kinds.values())


def load_source(spec: str, options: DataOptions | None = None) -> DataSource:
    """Read `spec` with the first kind that matches it (`source_kinds`) into a `DataSource`.

    Raises:
        ValueError: a spec that names nothing that exists, one no kind reads (the message lists
            what is expected), or what the kind's loader refuses.
    """
    options = options or DataOptions()
    kinds = source_kinds()
    kind = next((kind for kind in kinds if kind.matches(spec)), None)
    if kind is not None:
        return kind.load(spec, options)
    if not os.path.exists(spec) and not glob.glob(spec):
        raise ValueError(f"{option_name('data')} {spec!r} does not exist.")
    expected = [kind.describe for kind in kinds]
    raise ValueError(f"Unknown {option_name('data')} {spec!r}: expected {', '.join(expected[:-1])}, or {expected[-1]}.")

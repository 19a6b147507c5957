"""`DataSource` (what a source reads into) and the registry of source kinds `load_source` asks.

A kind of source registers itself in its own module (`register_source`): how to tell a spec it
reads (`matches`), how to read it (`load`), and how the "unknown data" message describes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import tensorflow as tf

from perceiver_tf.data.model_inputs import describe_inputs
from perceiver_tf.data.options import DataOptions


@dataclass
class DataSource:
    """Decoded `(example, label)` datasets (unbatched) with what is needed to build the model."""

    train: tf.data.Dataset
    val: tf.data.Dataset
    class_names: list[str]
    processor: object
    num_train: int | None = None
    num_val: int | None = None
    skipped: list[str] = field(default_factory=list)
    #: Why each skipped file was left out, `{path: reason}`.
    skip_reasons: dict[str, str] = field(default_factory=dict)
    #: True when validation comes from the source's own held-out split (val/ folder, TFDS
    #: validation/test split, val TFRecords, the digits split), not a seeded split.
    explicit_val: bool = False
    #: Labels are multi-hot float vectors `(num_classes,)` instead of class ids.
    multi_label: bool = False

    @property
    def modality(self) -> str:
        return self.processor.modality

    def relabel(self, class_names: list[str]) -> DataSource:
        """This source with labels re-indexed into `class_names` (e.g. a trained model's classes).

        Raises:
            ValueError: a class of this source that `class_names` lacks.
        """
        unknown = [c for c in self.class_names if c not in class_names]
        if unknown:
            raise ValueError(f"Classes {unknown} are not among the model's classes {list(class_names)}.")
        table = tf.constant([list(class_names).index(c) for c in self.class_names], tf.int32)
        if self.multi_label:  # scatter the multi-hot columns into the model's class order
            remap = lambda x, y: (x, tf.scatter_nd(table[:, None], y, [len(class_names)]))  # noqa: E731
        else:
            remap = lambda x, y: (x, tf.gather(table, y))  # noqa: E731
        return replace(self, train=self.train.map(remap), val=self.val.map(remap), class_names=list(class_names))

    @property
    def metadata(self) -> dict:
        """The model metadata contract: class names, modality, the preprocessing dict and what the
        model's inputs hold (`model_inputs.describe_inputs`: dtype, shape, value range)."""
        return {"class_names": list(self.class_names), "modality": self.modality,
                "preprocessing": dict(self.processor.config), "multi_label": self.multi_label,
                "inputs": describe_inputs(self.processor)}


#: Reads a spec (a string the kind `matches`) with the options into a `DataSource`.
SourceLoader = Callable[[str, DataOptions], DataSource]


@dataclass(frozen=True)
class SourceKind:
    """One kind of data source `load_source` reads.

    Attributes:
        name: a short name (`"folder"`, `"tfds"`, ...), unique among the kinds.
        matches: whether a spec is of this kind (cheap: a prefix, an extension, a file test).
        load: reads a matching spec (`SourceLoader`).
        describe: the kind in the "unknown data" message, e.g. `"a .csv manifest (file,labels)"`.
    """

    name: str
    matches: Callable[[str], bool]
    load: SourceLoader
    describe: str


_KINDS: dict[str, SourceKind] = {}


def register_source(name: str, matches: Callable[[str], bool], load: SourceLoader, describe: str) -> None:
    """Register a kind of source (`SourceKind`'s fields) for `load_source`; one of the same name is replaced."""
    _KINDS[name] = SourceKind(name, matches, load, describe)


def registered_sources() -> list[SourceKind]:
    """Every registered kind, in the order they were first registered."""
    return list(_KINDS.values())

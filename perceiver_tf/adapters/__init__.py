"""Input adapters: one Keras layer per modality turns its examples into the byte array `(B, M, C)`.

`make_adapter(input_kind, input_shape, **kwargs)` builds the adapter registered for a kind;
`ADAPTERS` maps every kind to its class. A new modality is one `InputAdapter` subclass (see
`perceiver_tf.adapters.base`), passed to `PerceiverBackbone(adapters=...)` or registered here.
"""

from __future__ import annotations

import inspect

from perceiver_tf.adapters.array import ArrayAdapter
from perceiver_tf.adapters.audio import AudioAdapter
from perceiver_tf.adapters.base import ElementSetAdapter, InputAdapter
from perceiver_tf.adapters.grid import POSITION_ENCODINGS, GridAdapter
from perceiver_tf.adapters.image import ImageAdapter
from perceiver_tf.adapters.points import PointsAdapter
from perceiver_tf.adapters.sequence import SequenceAdapter
from perceiver_tf.adapters.text import TextAdapter
from perceiver_tf.adapters.video import VideoAdapter

#: input_kind -> adapter class.
ADAPTERS: dict[str, type[InputAdapter]] = {
    cls.input_kind: cls
    for cls in (ImageAdapter, AudioAdapter, SequenceAdapter, VideoAdapter, PointsAdapter, ArrayAdapter, TextAdapter)
}


def adapter_arguments(cls: type[InputAdapter]) -> set[str]:
    """The keyword arguments an adapter class accepts (its own and its bases')."""
    names = set()
    for klass in cls.__mro__:
        if klass in (InputAdapter, ElementSetAdapter) or not issubclass(klass, InputAdapter):
            continue
        names |= {n for n, p in inspect.signature(klass.__init__).parameters.items()
                  if n not in ("self", "kwargs", "input_shape") and p.kind is not p.VAR_KEYWORD}
    return names | {"example_dtype", "name", "dtype"}


def get_adapter_class(input_kind: str) -> type[InputAdapter]:
    """The adapter class of `input_kind`, raising a ValueError that lists the valid kinds."""
    if input_kind not in ADAPTERS:
        raise ValueError(f"Unknown input_kind {input_kind!r}. Valid: {', '.join(ADAPTERS)}")
    return ADAPTERS[input_kind]


def infer_input_kind(input_shape) -> str:
    """Guess the kind from the example rank: 3 -> image, 4 -> video; rank 2 is ambiguous."""
    by_rank = {3: "image", 4: "video"}
    if len(input_shape) in by_rank:
        return by_rank[len(input_shape)]
    raise ValueError(
        f"Cannot infer input_kind from input_shape={tuple(input_shape)}: pass input_kind= one of "
        "'audio'/'sequence' (time, channels), 'points' (points, 3 + features) or 'array' (elements, channels)."
    )


def make_adapter(input_kind: str, input_shape, **kwargs) -> InputAdapter:
    """Build the adapter of `input_kind` for examples of `input_shape`.

    Raises:
        ValueError: an unknown kind, or an argument that adapter does not take (naming the
            valid ones), e.g. `patch_size` for point clouds, which have no grid.
    """
    cls = get_adapter_class(input_kind)
    unknown = sorted(set(kwargs) - adapter_arguments(cls))
    if unknown:
        reason = " (point clouds and arrays have no grid to patch)" if "patch_size" in unknown else ""
        raise ValueError(
            f"input_kind={input_kind!r} ({cls.__name__}) does not take {unknown}{reason}. "
            f"Valid: {', '.join(sorted(adapter_arguments(cls)))}"
        )
    return cls(input_shape, **kwargs)


__all__ = [
    "ADAPTERS",
    "POSITION_ENCODINGS",
    "ArrayAdapter",
    "AudioAdapter",
    "ElementSetAdapter",
    "GridAdapter",
    "ImageAdapter",
    "InputAdapter",
    "PointsAdapter",
    "SequenceAdapter",
    "TextAdapter",
    "VideoAdapter",
    "adapter_arguments",
    "get_adapter_class",
    "infer_input_kind",
    "make_adapter",
]

"""What each `input_kind` means: the example layout and where positions come from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputKind:
    """Layout of one example of a modality.

    Attributes:
        name: the `input_kind` string.
        layout: the example shape, in words (batch axis excluded).
        rank: rank of one example.
        coordinate_channels: leading channels holding coordinates (point clouds), else `None`.
        has_grid: positions come from the example's grid (index dims).
    """

    name: str
    layout: str
    rank: int
    coordinate_channels: int | None = None
    has_grid: bool = True


INPUT_KINDS: dict[str, InputKind] = {
    kind.name: kind
    for kind in (
        InputKind("image", "(height, width, channels)", 3),
        InputKind("audio", "(time, channels)", 2),
        InputKind("sequence", "(time, channels)", 2),
        InputKind("video", "(time, height, width, channels)", 4),
        InputKind("points", "(points, 3 + features); channels 0-2 are xyz in [-1, 1]", 2, coordinate_channels=3, has_grid=False),
        InputKind("array", "(elements, channels), no positions", 2, has_grid=False),
    )
}


def get_input_kind(name: str) -> InputKind:
    """Look up an input kind, raising a ValueError that lists the valid names."""
    if name not in INPUT_KINDS:
        raise ValueError(f"Unknown input_kind {name!r}. Valid: {', '.join(INPUT_KINDS)}")
    return INPUT_KINDS[name]


def infer_input_kind(input_shape: tuple) -> str:
    """Guess the kind from the example rank: 3 -> image, 4 -> video; rank 2 is ambiguous."""
    by_rank = {3: "image", 4: "video"}
    if len(input_shape) in by_rank:
        return by_rank[len(input_shape)]
    raise ValueError(
        f"Cannot infer input_kind from input_shape={tuple(input_shape)}: pass input_kind= one of "
        "'audio'/'sequence' (time, channels), 'points' (points, 3 + features) or 'array' "
        "(elements, channels)."
    )


def validate_input_shape(kind: InputKind, input_shape: tuple) -> tuple:
    """Check an example shape against the kind's layout; return it as a tuple."""
    input_shape = tuple(input_shape)
    if len(input_shape) != kind.rank:
        raise ValueError(
            f"input_kind={kind.name!r} expects examples of rank {kind.rank} {kind.layout}. "
            f"Received: input_shape={input_shape} (rank {len(input_shape)})"
        )
    for dim in input_shape:
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
            raise ValueError(f"input_shape entries must be positive ints or None. Received: input_shape={input_shape}")
    if input_shape[-1] is None:
        raise ValueError(f"The channel count (last axis) must be known. Received: input_shape={input_shape}")
    if kind.has_grid and None in input_shape:
        raise ValueError(
            f"input_kind={kind.name!r} lays positions out on a fixed grid, so every axis must be "
            f"known. Received: input_shape={input_shape}"
        )
    if kind.coordinate_channels and input_shape[-1] < kind.coordinate_channels:
        raise ValueError(
            f"input_kind={kind.name!r} needs at least {kind.coordinate_channels} channels (xyz first). "
            f"Received: input_shape={input_shape}"
        )
    return input_shape

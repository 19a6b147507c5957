"""Cross-attention maps of a trained Perceiver, and plots of them and of training curves.

The maps come from the model's own layers (`position_encoding` -> `encoder` with
`return_attention_scores=True`), so nothing is rebuilt or retrained.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def cross_attention_maps(model, inputs, input_mask=None) -> list[np.ndarray]:
    """Attention probabilities of every cross-attend for a batch.

    Args:
        model: a `PerceiverClassifier` (layers named "position_encoding" and "encoder").
        inputs: a batch shaped like the model's `inputs`, `(B, *input_shape)`.
        input_mask: optional bool `(B, M)` for models built with `use_input_mask`.

    Returns:
        One float32 array `(B, heads, N, M)` per cross-attend, in order (element m of M is the
        m-th input element in row-major order of the input grid).
    """
    byte_array = model.get_layer("position_encoding")(np.asarray(inputs, dtype="float32"))
    _, scores = model.get_layer("encoder")(byte_array, input_mask=input_mask, return_attention_scores=True)
    return [np.asarray(s, dtype="float32") for s in scores]


def most_focused_latents(attention: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` latents with the most peaked attention (lowest entropy).

    Args:
        attention: `(N, M)` probabilities of one example and head.
    """
    entropy = -np.sum(attention * np.log(attention + 1e-12), axis=-1)
    return np.argsort(entropy)[:count]


def _pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported lazily: plotting is optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(rows: int, cols: int, size: float = 2.2):
    fig, axes = _pyplot().subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    return fig, axes


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def attention_share(attention: np.ndarray, region: np.ndarray) -> np.ndarray:
    """How much of each latent's attention lands inside a region of the input.

    Args:
        attention: `(B, heads, N, M)` probabilities of one cross-attend (an element of
            `cross_attention_maps`).
        region: bool `(B, M)` (or `(B, H, W)` for images), True for the inputs of interest.

    Returns:
        float `(B, N)` in [0, 1], averaged over heads; uniform attention gives the region's
        share of the inputs, `region.mean(-1)`.
    """
    attention = np.asarray(attention)
    region = np.asarray(region, dtype=bool).reshape(len(region), -1)
    if attention.ndim != 4 or region.shape != (attention.shape[0], attention.shape[-1]):
        raise ValueError(
            f"Expected attention (B, heads, N, M) and a region (B, M). Received: attention {attention.shape}, "
            f"region {region.shape}"
        )
    return np.einsum("bhnm,bm->bn", attention, region.astype(attention.dtype)) / attention.shape[1]


def _displayable(image: np.ndarray) -> np.ndarray:
    """`(H, W, C)` -> grey `(H, W)` or RGB `(H, W, 3)` scaled to [0, 1] for imshow."""
    shown = image[..., 0] if image.shape[-1] == 1 else image[..., :3]
    return (shown - shown.min()) / (np.ptp(shown) + 1e-12)


def _overlay(ax, image: np.ndarray, attention_map: np.ndarray | None, title: str) -> None:
    """Draw `image` `(H, W, C)` with an `(H * W,)` attention map over it (None: the image alone)."""
    shown = _displayable(image)
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    if attention_map is not None:
        ax.imshow(attention_map.reshape(image.shape[:2]), cmap="inferno", alpha=0.6)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def plot_image_attention(
    image: np.ndarray, maps: Sequence[np.ndarray], path, num_latents: int = 6, cross_attends: Sequence[int] = (0, -1)
) -> Path:
    """Per-latent attention over the pixels, overlaid on the image (the paper's Figure 4 style).

    Args:
        image: one example `(H, W, C)`.
        maps: `cross_attention_maps(...)` for a batch whose first example is `image`.
        path: PNG file to write.
        num_latents: latents to show per row (the most focused ones of each cross-attend).
        cross_attends: which cross-attends to show, one row each (default first and last).
    """
    fig, axes = _figure(len(cross_attends), num_latents + 1)
    for row, index in enumerate(cross_attends):
        attention = maps[index][0].mean(axis=0)  # (N, M), averaged over heads
        _overlay(axes[row, 0], image, None, f"cross-attend {index % len(maps) + 1}")
        for col, latent in enumerate(most_focused_latents(attention, num_latents), start=1):
            _overlay(axes[row, col], image, attention[latent], f"latent {latent}")
    return _save(fig, path)


def plot_latent_across_images(images: np.ndarray, attention: np.ndarray, latent: int, path, title: str = "") -> Path:
    """One latent's attention on several images, to see whether it follows an object around.

    Args:
        images: `(B, H, W, C)`.
        attention: `(B, heads, N, H * W)` maps of one cross-attend for `images`.
        latent: which of the N latents to show (averaged over heads).
        path: PNG file to write.
        title: figure title.
    """
    fig, axes = _figure(1, len(images))
    for ax, image, scores in zip(axes[0], images, np.asarray(attention)):
        _overlay(ax, image, scores[:, latent].mean(axis=0), "")
    fig.suptitle(title or f"latent {latent}", fontsize=9)
    return _save(fig, path)


def plot_sequence_attention(maps: Sequence[np.ndarray], path, num_latents: int = 4) -> Path:
    """Attention over time (audio, sensor streams) of the most focused latents, per cross-attend."""
    fig, axes = _figure(len(maps), 1, size=3.0)
    for row, scores in enumerate(maps):
        attention = scores[0].mean(axis=0)
        for latent in most_focused_latents(attention, num_latents):
            axes[row, 0].plot(attention[latent], label=f"latent {latent}", linewidth=1)
        axes[row, 0].set(title=f"cross-attend {row + 1}", xlabel="input element (time)", ylabel="attention")
        axes[row, 0].legend(fontsize=6)
    fig.set_size_inches(8, 2.4 * len(maps))
    return _save(fig, path)


def plot_point_attention(points: np.ndarray, maps: Sequence[np.ndarray], path, num_latents: int = 4) -> Path:
    """Points `(P, 3+)` coloured by the attention of the most focused latents (last cross-attend)."""
    attention = maps[-1][0].mean(axis=0)
    latents = most_focused_latents(attention, num_latents)
    fig = _pyplot().figure(figsize=(3 * num_latents, 3))
    for col, latent in enumerate(latents, start=1):
        ax = fig.add_subplot(1, num_latents, col, projection="3d")
        ax.scatter(points[:, 0], points[:, 1], points[:, 2], c=attention[latent], cmap="inferno", s=4)
        ax.set_title(f"latent {latent}", fontsize=8)
        ax.set_axis_off()
    return _save(fig, path)


def plot_history(history_csv, path) -> Path:
    """Loss and accuracy curves from a Keras `CSVLogger` file (train and validation)."""
    with open(history_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{history_csv} has no epochs to plot.")
    epochs = [int(r["epoch"]) + 1 for r in rows]
    metrics = [m for m in ("loss", "accuracy") if m in rows[0]]
    fig, axes = _figure(1, len(metrics), size=3.5)
    for ax, metric in zip(axes[0], metrics):
        for prefix in ("", "val_"):
            if prefix + metric in rows[0]:
                ax.plot(epochs, [float(r[prefix + metric]) for r in rows], label=(prefix or "train_") + metric)
        ax.set(xlabel="epoch", title=metric)
        ax.legend(fontsize=7)
    return _save(fig, path)

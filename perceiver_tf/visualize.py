"""Attention maps of a trained Perceiver, and plots of them and of training curves.

The maps come from the model's own layers (the backbone's adapters -> `encoder` with
`return_attention_scores=True`; the decoders likewise), so nothing is rebuilt or retrained.
They work for every backbone: patched inputs (the maps index patches), several inputs (split
them with `attention_by_input`), classifiers and Perceiver IO models (`decoder_attention_maps`).
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: The sentence under every attention figure.
CAPTION = "Brighter = more attention. Each panel is one latent's cross-attention over the input (heads averaged)."


def _backbone(model):
    """The `PerceiverBackbone` of a task, or the model itself."""
    backbone = getattr(model, "backbone", model)
    if not hasattr(backbone, "byte_array") or not hasattr(backbone, "encoder"):
        raise ValueError(f"Attention maps need a Perceiver model (a backbone or a task). Received: {type(model).__name__}")
    return backbone


def cross_attention_maps(model, inputs) -> list[np.ndarray]:
    """Attention probabilities of every cross-attend of the encoder for a batch.

    Args:
        model: a `PerceiverBackbone` or any task on one (classifier, Perceiver IO).
        inputs: a batch as the model takes it: `(B, *input_shape)`, or the model's dict of
            inputs (masks included).

    Returns:
        One float32 array `(B, heads, N, M)` per cross-attend, in order. Element m of M is the
        m-th byte-array element: the m-th input element (pixel, patch, time step, point) in
        row-major order of the adapter's `element_grid`; for several inputs the inputs follow
        each other in sorted name order (`attention_by_input`).
    """
    backbone = _backbone(model)
    byte_array, input_mask = backbone.byte_array(inputs)
    _, scores = backbone.encoder(byte_array, input_mask=input_mask, return_attention_scores=True)
    return [np.asarray(s, dtype="float32") for s in scores]


def decoder_attention_maps(model, inputs) -> dict[str, np.ndarray]:
    """Attention of every decoder's queries over the latents, `{name: (B, heads, O, N)}`.

    A `PerceiverClassifier` with `decoder="query"` has one decoder, "head" (O = 1); a
    `PerceiverIO` model has one per task (O = the task's output elements).

    Raises:
        ValueError: a model without query decoders (e.g. the mean-pool classifier).
    """
    backbone = _backbone(model)
    latents = backbone(inputs, training=False)
    if hasattr(model, "decoders"):
        return {name: np.asarray(model.decoders[name](model.queries[name](latents), latents,
                                                      return_attention_scores=True)[1], dtype="float32")
                for name in model.decoders}
    if getattr(model, "decoder", None) == "query":
        return {"head": np.asarray(model.head(latents, return_attention_scores=True)[1], dtype="float32")}
    raise ValueError(
        f"{model.name} has no query decoder (a mean-pool classifier averages the latents); decoder attention "
        "exists for PerceiverClassifier(decoder='query') and PerceiverIO models."
    )


def attention_by_input(model, attention: np.ndarray) -> dict[str, np.ndarray]:
    """Split `(B, heads, N, M)` along M into `{input name: (B, heads, N, M_k)}` (sorted name order)."""
    sizes = _backbone(model).modality_sizes
    if len(sizes) == 1:
        return {next(iter(sizes)): attention}
    bounds = np.cumsum([0, *sizes.values()])
    return {name: attention[..., start:stop] for name, start, stop in zip(sizes, bounds[:-1], bounds[1:])}


def most_focused_latents(attention: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` latents with the most peaked attention (lowest entropy).

    Args:
        attention: `(N, M)` probabilities of one example and head.
    """
    entropy = -np.sum(attention * np.log(attention + 1e-12), axis=-1)
    return np.argsort(entropy)[:count]


def distinct_focused_latents(attention: np.ndarray, count: int, max_overlap: float = 0.8) -> np.ndarray:
    """Up to `count` focused latents (lowest entropy first) whose maps differ from the ones already picked.

    A latent is skipped when the overlap `sum(min(p, q))` of its map with a picked one exceeds
    `max_overlap` (1 = identical), so a figure does not show the same map six times; when too
    few differ, the most focused remaining latents fill up the `count`.
    """
    order = most_focused_latents(attention, len(attention))
    picked: list[int] = []
    for latent in order:
        if all(np.minimum(attention[latent], attention[p]).sum() <= max_overlap for p in picked):
            picked.append(int(latent))
        if len(picked) == count:
            return np.asarray(picked)
    rest = [int(latent) for latent in order if latent not in picked]
    return np.asarray(picked + rest[: count - len(picked)])


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


# --- plotting ---------------------------------------------------------------------------------


def _pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported lazily: plotting is optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(rows: int, cols: int, size: float = 2.2, colorbar: bool = False):
    """A grid of panels; with `colorbar`, one more narrow column per row holds a colour bar (`axes[:, -1]`)."""
    widths = [1.0] * cols + ([0.07] if colorbar else [])
    fig, axes = _pyplot().subplots(rows, len(widths), figsize=(size * sum(widths), size * rows + 0.6), squeeze=False,
                                   gridspec_kw={"width_ratios": widths})
    return fig, axes


def _save(fig, path, caption: str | None = None, layout: bool = True) -> Path:
    """Write `fig` as a PNG (to a temporary name, then renamed), with `caption` under it.

    `layout=False` keeps a layout the caller arranged (3-D axes, a placed colour bar)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if caption:
        fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=7, wrap=True)
    if layout:
        with warnings.catch_warnings():  # colour bars: tight_layout approximates them, which is fine
            warnings.simplefilter("ignore", UserWarning)
            fig.tight_layout(rect=(0, 0.04 if caption else 0, 1, 1))
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, path)
    _pyplot().close(fig)
    return path


def _displayable(image: np.ndarray) -> np.ndarray:
    """`(H, W, C)` -> grey `(H, W)` or RGB `(H, W, 3)` scaled to [0, 1] for imshow."""
    shown = image[..., 0] if image.shape[-1] == 1 else image[..., :3]
    return (shown - shown.min()) / (np.ptp(shown) + 1e-12)


def _on_pixels(attention_map: np.ndarray, grid: Sequence[int], image_size: Sequence[int]) -> np.ndarray:
    """An `(prod(grid),)` map over a 2-D element grid (pixels or patches) -> `(H, W)` (nearest neighbour)."""
    grid_map = np.asarray(attention_map).reshape(tuple(grid))
    rows = np.arange(image_size[0]) * grid_map.shape[0] // image_size[0]
    cols = np.arange(image_size[1]) * grid_map.shape[1] // image_size[1]
    return grid_map[np.ix_(rows, cols)]


def _overlay(ax, image: np.ndarray, attention_map: np.ndarray | None, grid, title: str, vmax: float | None = None):
    """Draw `image` `(H, W, C)` with an attention map over its element `grid` (None: the image alone),
    on the colour scale [0, vmax] (shared by the panels of a row, so brightness compares across them)."""
    shown = _displayable(image)
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    artist = None
    if attention_map is not None:
        artist = ax.imshow(_on_pixels(attention_map, grid, image.shape[:2]), cmap="inferno", alpha=0.65,
                           vmin=0.0, vmax=vmax)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
    return artist


def plot_image_attention(
    image: np.ndarray,
    maps: Sequence[np.ndarray],
    path,
    num_latents: int = 6,
    cross_attends: Sequence[int] = (0, -1),
    grid: Sequence[int] | None = None,
    title: str = "",
) -> Path:
    """Per-latent attention over the pixels, overlaid on the image (the paper's Figure 4 style).

    Args:
        image: one example `(H, W, C)`.
        maps: `cross_attention_maps(...)` for a batch whose first example is `image`.
        path: PNG file to write.
        num_latents: latents per row: the most focused ones whose maps differ.
        cross_attends: which cross-attends to show, one row each (default first and last).
        grid: the element grid the maps index (`adapter.element_grid`, e.g. the patch grid);
            default: the image's pixels.
        title: figure title (e.g. the predicted class).
    """
    grid = tuple(grid or image.shape[:2])
    rows = list(dict.fromkeys(index % len(maps) for index in cross_attends))
    fig, axes = _figure(len(rows), num_latents + 1, colorbar=True)
    for row, index in enumerate(rows):
        attention = maps[index][0].mean(axis=0)  # (N, M), averaged over heads
        latents = distinct_focused_latents(attention, num_latents)
        vmax = float(attention[latents].max())
        _overlay(axes[row, 0], image, None, grid, f"input (cross-attend {index + 1} of {len(maps)})")
        for col, latent in enumerate(latents, start=1):
            artist = _overlay(axes[row, col], image, attention[latent], grid, f"latent {latent}", vmax)
        for ax in axes[row, len(latents) + 1 : -1]:
            ax.axis("off")
        fig.colorbar(artist, cax=axes[row, -1], label="attention")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, CAPTION + f" Shown: the {num_latents} most focused latents with distinct maps.")


def plot_latent_across_images(images: np.ndarray, attention: np.ndarray, latent: int, path, title: str = "",
                              grid: Sequence[int] | None = None) -> Path:
    """One latent's attention on several images, to see whether it follows an object around.

    Args:
        images: `(B, H, W, C)`.
        attention: `(B, heads, N, M)` maps of one cross-attend for `images`.
        latent: which of the N latents to show (averaged over heads).
        path: PNG file to write.
        title: figure title.
        grid: the element grid of the maps (default: the pixels).
    """
    grid = tuple(grid or images.shape[1:3])
    fig, axes = _figure(1, len(images), colorbar=True)
    maps = np.asarray(attention)[:, :, latent].mean(axis=1)  # (B, M)
    for ax, image, scores in zip(axes[0], images, maps):
        artist = _overlay(ax, image, scores, grid, "", float(maps.max()))
    fig.colorbar(artist, cax=axes[0, -1], label="attention")
    fig.suptitle(title or f"latent {latent}", fontsize=9)
    return _save(fig, path, CAPTION)


def plot_sequence_attention(maps: Sequence[np.ndarray], path, num_latents: int = 4, title: str = "",
                            seconds_per_element: float | None = None) -> Path:
    """Attention over time (audio, sensor streams) of distinct focused latents, one row per cross-attend.

    Args:
        maps: `cross_attention_maps(...)` (first example shown), M = time steps / patches / frames.
        path: PNG file to write.
        num_latents: lines per row.
        title: figure title.
        seconds_per_element: label the axis in seconds instead of element indices.
    """
    fig, axes = _figure(len(maps), 1, size=3.0)
    for row, scores in enumerate(maps):
        attention = scores[0].mean(axis=0)
        ax = axes[row, 0]
        steps = np.arange(attention.shape[-1]) * (seconds_per_element or 1.0)
        for rank, latent in enumerate(distinct_focused_latents(attention, num_latents)):
            ax.plot(steps, attention[latent], label=f"latent {latent}", linewidth=1.2,
                    linestyle=("-", "--", ":", "-.")[rank % 4])
        ax.axhline(1.0 / attention.shape[-1], color="grey", linewidth=0.8, linestyle=":", label="uniform")
        ax.set(title=f"cross-attend {row + 1} of {len(maps)}",
               xlabel="time (s)" if seconds_per_element else "input element (time order)", ylabel="attention")
        ax.legend(fontsize=6, ncol=2)
    fig.set_size_inches(8, 2.4 * len(maps) + 0.6)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, "Each line is one latent's cross-attention over time (heads averaged); the dotted line "
                            "is uniform attention.")


def plot_point_attention(points: np.ndarray, maps: Sequence[np.ndarray], path, num_latents: int = 4,
                         title: str = "") -> Path:
    """Points `(P, 3+)` coloured by the attention of distinct focused latents (last cross-attend)."""
    attention = maps[-1][0].mean(axis=0)
    latents = distinct_focused_latents(attention, num_latents)
    fig = _pyplot().figure(figsize=(3 * len(latents) + 1.0, 3.6))
    scale = dict(cmap="inferno", vmin=0.0, vmax=float(attention[latents].max()))
    scatter = None
    for col, latent in enumerate(latents, start=1):
        ax = fig.add_subplot(1, len(latents), col, projection="3d")
        scatter = ax.scatter(points[:, 0], points[:, 1], points[:, 2], c=attention[latent], s=10, **scale)
        ax.set_title(f"latent {latent}", fontsize=8)
        ax.set_axis_off()
    fig.subplots_adjust(left=0.0, right=0.9, bottom=0.08, top=0.85, wspace=0.0)
    fig.colorbar(scatter, cax=fig.add_axes([0.92, 0.2, 0.012, 0.6]), label="attention")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, CAPTION.replace("over the input", "over the points") + " Last cross-attend.", layout=False)


def plot_audio_video_attention(video: np.ndarray, audio_maps: Sequence[np.ndarray], video_maps: Sequence[np.ndarray],
                               grid: Sequence[int], path, num_latents: int = 4, title: str = "") -> Path:
    """Audio + video: the last cross-attend's distinct focused latents over time (top) and over the middle frame.

    Args:
        video: one clip `(T, H, W, C)`.
        audio_maps / video_maps: the audio and video parts of `cross_attention_maps` (`attention_by_input`).
        grid: the video adapter's element grid `(T', H', W')`.
        path: PNG file to write.
        num_latents: latents shown.
        title: figure title.
    """
    audio, frames = audio_maps[-1][0].mean(axis=0), video_maps[-1][0].mean(axis=0)  # (N, M_audio), (N, M_video)
    latents = distinct_focused_latents(np.concatenate([audio, frames], axis=-1), num_latents)
    fig, axes = _figure(2, len(latents), size=2.4)
    middle = grid[0] // 2  # the grid's middle time step, and the frame it starts at
    frame = video[middle * video.shape[0] // grid[0]]
    per_step = int(np.prod(grid[1:]))
    vmax = float(frames[latents, middle * per_step:(middle + 1) * per_step].max())
    top = 1.05 * float(audio[latents].max())  # one scale for every panel: a latent that ignores the sound is flat
    for col, latent in enumerate(latents):
        axes[0, col].plot(audio[latent], linewidth=1)
        axes[0, col].set_ylim(0.0, top)
        axes[0, col].set(title=f"latent {latent}: audio ({audio[latent].sum():.2f})", xlabel="time", ylabel="attention")
        axes[0, col].title.set_fontsize(8)
        share = frames[latent].sum()
        step = frames[latent, middle * per_step:(middle + 1) * per_step]
        _overlay(axes[1, col], frame, step, grid[1:], f"video ({share:.2f}), middle frame", vmax)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, "Each column is one latent of the last cross-attend: its attention over the sound (top) "
                            "and the middle frame (bottom); in brackets, the share of its attention on that modality.")


def plot_history(history_csv, path) -> Path:
    """Loss and accuracy curves from a Keras `CSVLogger` file (train and validation)."""
    with open(history_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{history_csv} has no epochs to plot.")
    epochs = [int(r["epoch"]) + 1 for r in rows]
    metrics = [m for m in ("loss", "accuracy", "map") if m in rows[0]]
    fig, axes = _figure(1, len(metrics), size=3.5)
    for ax, metric in zip(axes[0], metrics):
        for prefix in ("", "val_"):
            if prefix + metric in rows[0]:
                ax.plot(epochs, [float(r[prefix + metric]) for r in rows], label=(prefix or "train_") + metric)
        ax.set(xlabel="epoch", title=metric)
        ax.legend(fontsize=7)
    return _save(fig, path)

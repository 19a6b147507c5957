"""Plots of a trained Perceiver's attention (PNG files) and of its training curves.

The maps themselves, and the choice of latents to show, are in `perceiver_tf.attention_maps`;
its public functions are available here too (`visualize.cross_attention_maps`, ...).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from perceiver_tf.attention_maps import (  # noqa: F401 (the maps' public API, re-exported)
    attention_by_input,
    attention_share,
    cross_attention_maps,
    decoder_attention_maps,
    distinct_focused_latents,
    latent_groups,
    most_focused_latents,
)

# --- plotting ---------------------------------------------------------------------------------
#
# Every attention figure explains itself: a title (the file and the predicted class with its
# probability, when given), a titled input panel, one panel or row per shown latent titled with its
# index and how many latents have an alike map ("+k alike", see `latent_groups`), a labelled colour
# bar, and a caption saying what brightness means and which latents are shown. `plot_*` write a PNG
# (the title and caption also go into its "Title" / "Description" text chunks); the `_*_figure`
# builders return the matplotlib figure.

#: What brightness means, at the start of every attention figure's caption.
CAPTION = "Brighter = more attention (heads averaged)."

#: The colour bar label of attention weights.
ATTENTION_LABEL = "attention weight"


def _pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported lazily: plotting is optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(rows: int, cols: int, size: float = 2.2, colorbar: bool = False):
    """A grid of panels; with `colorbar`, one more narrow column per row holds a colour bar (`axes[:, -1]`)."""
    widths = [1.0] * cols + ([0.07] if colorbar else [])
    fig, axes = _pyplot().subplots(rows, len(widths), figsize=(size * sum(widths) + 0.4, size * rows), squeeze=False,
                                   gridspec_kw={"width_ratios": widths})
    return fig, axes


def _title_text(title: str = "", prediction=None) -> str:
    """`title` and the prediction: `(class name, probability)` -> "predicted: cat (p = 0.93)", or a ready sentence."""
    parts = [title] if title else []
    if isinstance(prediction, str):
        parts.append(prediction)
    elif prediction is not None:
        name, probability = prediction
        parts.append(f"predicted: {name} (p = {float(probability):.2f})")
    return " | ".join(parts)


def _caption_lines(caption: str, width_inches: float) -> tuple[list[str], float]:
    """`caption` wrapped to a figure `width_inches` wide, and the height in inches the lines take."""
    import textwrap

    lines = textwrap.wrap(caption, width=max(40, int(width_inches * 72 / (7.5 * 0.5)))) if caption else []
    return lines, (len(lines) * 7.5 * 1.3 / 72 + 0.12) if lines else 0.0


def _finish(fig, title: str = "", caption: str = "", layout: bool = True):
    """Add the title (top) and the caption (bottom, wrapped to the figure's width) to `fig`.

    `layout=True` grows the figure to hold them and lays the panels out between; `layout=False` keeps a
    layout the caller arranged (3-D axes), which must leave the room (`_caption_lines`; 0.4 inch for a title)."""
    width, height = fig.get_size_inches()
    lines, caption_in = _caption_lines(caption, width)
    title_in = 0.4 if title else 0.0
    if layout:
        height += caption_in + title_in
        fig.set_size_inches(width, height)
    if title:
        fig.suptitle(title, fontsize=11)
    if lines:
        fig.text(0.5, 0.04 / height, "\n".join(lines), ha="center", va="bottom", fontsize=7.5, linespacing=1.3,
                 color="0.15")
    if layout:  # constrained layout: room for titles, tick labels and colour bars; the caption below `rect`
        fig.set_layout_engine("constrained", rect=(0, caption_in / height, 1, 1 - caption_in / height),
                              h_pad=0.05, w_pad=0.05)
    fig._perceiver_text = {"Title": title, "Description": caption}
    return fig


def _save(fig, path, caption: str | None = None, layout: bool = True) -> Path:
    """Write `fig` as a PNG (to a temporary name, then renamed; the title and caption of `_finish` as text chunks).

    `caption`: add it (and lay the figure out) first, for figures not passed through `_finish`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if caption is not None:
        _finish(fig, caption=caption, layout=layout)
    metadata = {k: v for k, v in getattr(fig, "_perceiver_text", {}).items() if v}
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        fig.savefig(tmp, dpi=110, format="png", metadata={"Software": "perceiver_tf", **metadata})
        os.replace(tmp, path)
    finally:
        _pyplot().close(fig)
        if tmp.exists():
            tmp.unlink()
    return path


def _plain(ax, title: str = "") -> None:
    """An image panel: no ticks or frame (an axis label still shows), a small title."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=8)


def _colorbar(fig, artist, cax, label: str = ATTENTION_LABEL):
    bar = fig.colorbar(artist, cax=cax)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return bar


def _latent_title(group: Sequence[int]) -> str:
    """ "latent 11", or "latent 11 (+5 alike)" when 5 more latents have a map like it."""
    return f"latent {int(group[0])}" + (f" (+{len(group) - 1} alike)" if len(group) > 1 else "")


def _no_other_maps(num_latents: int) -> str:
    """The note in the empty panels of a row whose latents have fewer distinct maps than panels."""
    return f"no other distinct maps:\nall {num_latents} latents are\nshown or alike one shown"


def _uniform_text(num_elements: int, what: str = "input elements") -> str:
    return (f"Each latent's weights over the {num_elements} {what} sum to 1 (uniform attention = "
            f"{1 / num_elements:.2g} each).")


def _chosen_text(rows: Sequence[tuple[int, Sequence[np.ndarray], int]], max_correlation: float) -> str:
    """Which latents are shown: `rows` of (cross-attend index, its `latent_groups`, its number of latents)."""
    parts = []
    for index, groups, total in rows:
        if sum(len(g) for g in groups) == total and len(groups) < total:  # every latent is shown or alike one
            maps = "one map" if len(groups) == 1 else f"{len(groups)} distinct maps"
            parts.append(f"all {total} latents of cross-attend {index + 1}, as {maps}")
        else:
            parts.append(f"the {len(groups)} most focused latent{'s' if len(groups) != 1 else ''} of cross-attend "
                         f"{index + 1}, of {total} latents")
    return ("Shown: " + "; ".join(parts) + f" (most focused = lowest attention entropy; a latent whose map "
            f"correlates > {max_correlation:g} with a shown one is not shown again but counted as '+k alike').")


def _heads_mean(maps: Sequence[np.ndarray], index: int) -> np.ndarray:
    """`(N, M)`: the first example's map of cross-attend `index`, averaged over heads."""
    return np.asarray(maps[index][0], dtype="float64").mean(axis=0)


def _rows(maps: Sequence[np.ndarray], cross_attends: Sequence[int] | None) -> list[int]:
    """The cross-attends to show (negative indices count from the last), without repeats, in the given order."""
    if cross_attends is None:
        return list(range(len(maps)))
    return list(dict.fromkeys(int(index) % len(maps) for index in cross_attends))


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
    artist = ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0.0, vmax=1.0)
    if attention_map is not None:
        artist = ax.imshow(_on_pixels(attention_map, grid, image.shape[:2]), cmap="inferno", alpha=0.7,
                           vmin=0.0, vmax=vmax)
    _plain(ax, title)
    return artist


def _image_label(image_shape: Sequence[int], grid: Sequence[int]) -> str:
    """ "input (8x8 grey)", "input (32x32 RGB, 8x8 patches)"."""
    height, width, channels = image_shape[0], image_shape[1], image_shape[-1]
    colour = {1: "grey", 3: "RGB"}.get(channels, f"{channels} channels")
    patches = "" if tuple(grid) == (height, width) else f", {grid[0]}x{grid[1]} patches"
    return f"input ({height}x{width} {colour}{patches})"


def _image_attention_figure(image, maps, num_latents=6, cross_attends=(0, -1), grid=None, title="", prediction=None,
                            input_label=None, max_correlation=0.9):
    """The figure of `plot_image_attention`."""
    image = np.asarray(image)
    grid = tuple(grid or image.shape[:2])
    rows = [(index, _heads_mean(maps, index)) for index in _rows(maps, cross_attends)]
    rows = [(index, attention, latent_groups(attention, num_latents, max_correlation)) for index, attention in rows]
    cols = max(len(groups) for _, _, groups in rows)
    fig, axes = _figure(len(rows), cols + 1, colorbar=True)
    for row, (index, attention, groups) in enumerate(rows):
        _overlay(axes[row, 0], image, None, grid, input_label or _image_label(image.shape, grid))
        axes[row, 0].set_ylabel(f"cross-attend {index + 1} of {len(maps)}", fontsize=9)
        vmax = float(attention[[g[0] for g in groups]].max())
        for col, group in enumerate(groups, start=1):
            artist = _overlay(axes[row, col], image, attention[group[0]], grid, _latent_title(group), vmax)
        for ax in axes[row, len(groups) + 1 : -1]:
            ax.axis("off")
        if len(groups) < cols:  # every other latent is alike a shown one
            axes[row, len(groups) + 1].text(0.05, 0.5, _no_other_maps(len(attention)), fontsize=7.5, va="center",
                                            color="0.3")
        _colorbar(fig, artist, axes[row, -1])
    elements = "pixels" if grid == tuple(image.shape[:2]) else "patches"
    caption = " ".join([CAPTION, _uniform_text(rows[0][1].shape[-1], elements),
                        _chosen_text([(i, g, len(a)) for i, a, g in rows], max_correlation)])
    return _finish(fig, _title_text(title, prediction), caption)


def plot_image_attention(
    image: np.ndarray,
    maps: Sequence[np.ndarray],
    path,
    num_latents: int = 6,
    cross_attends: Sequence[int] = (0, -1),
    grid: Sequence[int] | None = None,
    title: str = "",
    *,
    prediction=None,
    input_label: str | None = None,
    max_correlation: float = 0.9,
) -> Path:
    """Per-latent attention over the pixels, overlaid on the image (the paper's Figure 4 style).

    One row per cross-attend: the input, then its most focused latents with distinct maps
    (`latent_groups`), on one colour scale per row (the colour bar on the right).

    Args:
        image: one example `(H, W, C)`.
        maps: `cross_attention_maps(...)` for a batch whose first example is `image`.
        path: PNG file to write.
        num_latents: the most latents per row (fewer when fewer maps differ).
        cross_attends: which cross-attends to show, one row each (default first and last).
        grid: the element grid the maps index (`adapter.element_grid`, e.g. the patch grid);
            default: the image's pixels.
        title: figure title (e.g. the file name).
        prediction: `(class name, probability)` (or a sentence) added to the title.
        input_label: the input panel's title (default e.g. "input (8x8 grey)").
        max_correlation: maps correlating more than this with a shown one are not shown again.
    """
    return _save(_image_attention_figure(image, maps, num_latents, cross_attends, grid, title, prediction, input_label,
                                         max_correlation), path)


def plot_latent_across_images(images: np.ndarray, attention: np.ndarray, latent: int, path, title: str = "",
                              grid: Sequence[int] | None = None, *, labels: Sequence[str] | None = None) -> Path:
    """One latent's attention on several images, to see whether it follows an object around.

    Args:
        images: `(B, H, W, C)`.
        attention: `(B, heads, N, M)` maps of one cross-attend for `images`.
        latent: which of the N latents to show (averaged over heads).
        path: PNG file to write.
        title: figure title.
        grid: the element grid of the maps (default: the pixels).
        labels: one panel title per image (e.g. its class).
    """
    grid = tuple(grid or images.shape[1:3])
    fig, axes = _figure(1, len(images), colorbar=True)
    maps = np.asarray(attention)[:, :, latent].mean(axis=1)  # (B, M)
    for index, (ax, image, scores) in enumerate(zip(axes[0], images, maps)):
        artist = _overlay(ax, image, scores, grid, labels[index] if labels else f"image {index + 1}",
                          float(maps.max()))
    _colorbar(fig, artist, axes[0, -1])
    caption = (f"{CAPTION} Each panel: latent {latent}'s cross-attention on one image, on one colour scale. "
               + _uniform_text(maps.shape[-1], "pixels" if grid == tuple(images.shape[1:3]) else "patches"))
    return _save(_finish(fig, title or f"latent {latent}", caption), path)


def _time_axis(num_elements: int, seconds_per_element: float | None, steps: int | None) -> tuple[float, str]:
    """The span and label of a time axis: seconds, else the input's time steps, else element indices."""
    if seconds_per_element:
        return num_elements * float(seconds_per_element), "time (s)"
    if steps:
        return float(steps), "input time step"
    return float(num_elements), "input element (time order)"


def _draw_sequence_input(fig, ax, cax, inputs, span, title, unit, feature_label):
    """The input over time: `(T,)` or `(T, 1)` as a line, `(T, F)` as a heatmap (features up) with a colour bar
    in `cax` (None: none)."""
    inputs = np.asarray(inputs, dtype="float64")
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    if inputs.ndim == 1 or inputs.shape[-1] == 1:
        values = inputs.reshape(-1)
        ax.plot(np.linspace(0.0, span, len(values), endpoint=False), values, linewidth=0.6, color="tab:blue")
        ax.set_ylabel(unit, fontsize=8)
        if cax is not None:
            cax.axis("off")
    else:
        artist = ax.imshow(inputs.T, aspect="auto", origin="lower", interpolation="nearest", cmap="viridis",
                           extent=(0.0, span, -0.5, inputs.shape[-1] - 0.5))
        ax.set_ylabel(feature_label, fontsize=8)
        if cax is not None:
            _colorbar(fig, artist, cax, unit)
    ax.set_xlim(0.0, span)
    ax.tick_params(labelsize=7)


def _draw_latent_rows(fig, ax, cax, attention, groups, span, title):
    """A heatmap: one row per shown latent (most focused on top), its attention over time; a colour bar."""
    latents = [int(g[0]) for g in groups]
    artist = ax.imshow(attention[latents], aspect="auto", interpolation="nearest", cmap="inferno", vmin=0.0,
                       vmax=float(attention[latents].max()), extent=(0.0, span, len(latents) - 0.5, -0.5))
    ax.set_yticks(range(len(latents)), [_latent_title(g) for g in groups], fontsize=7)
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(axis="x", labelsize=7)
    _colorbar(fig, artist, cax)
    return artist


def _sequence_attention_figure(maps, num_latents=4, title="", seconds_per_element=None, inputs=None,
                               input_label=None, input_unit="input value", feature_label="feature", prediction=None,
                               cross_attends=None, max_correlation=0.9):
    """The figure of `plot_sequence_attention`."""
    rows = [(index, _heads_mean(maps, index)) for index in _rows(maps, cross_attends)]
    rows = [(index, attention, latent_groups(attention, num_latents, max_correlation)) for index, attention in rows]
    num_elements = rows[0][1].shape[-1]
    span, xlabel = _time_axis(num_elements, seconds_per_element, None if inputs is None else len(inputs))
    heights = ([1.7] if inputs is not None else []) + [max(0.9, 0.3 * len(groups)) + 0.5 for _, _, groups in rows]
    fig, axes = _pyplot().subplots(len(heights), 2, figsize=(9.0, sum(heights) + 0.5), squeeze=False,
                                   gridspec_kw={"width_ratios": [1.0, 0.018], "height_ratios": heights})
    first = 0
    if inputs is not None:
        shape = "x".join(str(s) for s in np.shape(inputs))
        _draw_sequence_input(fig, axes[0, 0], axes[0, 1], inputs, span, input_label or f"input ({shape})", input_unit,
                             feature_label)
        first = 1
    for row, (index, attention, groups) in enumerate(rows, start=first):
        _draw_latent_rows(fig, axes[row, 0], axes[row, 1], attention, groups, span,
                          f"cross-attend {index + 1} of {len(maps)}: one row per latent, its attention over time")
        axes[row, 0].set_xlim(0.0, span)
    axes[-1, 0].set_xlabel(xlabel, fontsize=8)
    caption = " ".join([CAPTION, ("Top: the input. " if inputs is not None else "")
                        + "Each heatmap row is one latent's cross-attention over time.",
                        _uniform_text(num_elements, "time elements"),
                        _chosen_text([(i, g, len(a)) for i, a, g in rows], max_correlation)])
    return _finish(fig, _title_text(title, prediction), caption)


def plot_sequence_attention(maps: Sequence[np.ndarray], path, num_latents: int = 4, title: str = "",
                            seconds_per_element: float | None = None, *, inputs: np.ndarray | None = None,
                            input_label: str | None = None, input_unit: str = "input value",
                            feature_label: str = "feature", prediction=None, cross_attends: Sequence[int] | None = None,
                            max_correlation: float = 0.9) -> Path:
    """Attention over time (audio, sensor streams): the input on top, then one heatmap per cross-attend whose
    rows are its most focused distinct latents (`latent_groups`) and columns the time elements, with a colour bar.

    Args:
        maps: `cross_attention_maps(...)` (first example shown), M = time steps / patches / frames.
        path: PNG file to write.
        num_latents: the most latents (heatmap rows) per cross-attend.
        title: figure title (e.g. the file name).
        seconds_per_element: label the time axis in seconds instead of element indices.
        inputs: the example `(T, F)` (a heatmap: e.g. log-mel frames x bins, steps x channels) or
            `(T,)` / `(T, 1)` (a line: a waveform), drawn on top over the same time span.
        input_label / input_unit / feature_label: the input panel's title, colour-bar label and y label.
        prediction: `(class name, probability)` (or a sentence) added to the title.
        cross_attends: which cross-attends to show (default all).
        max_correlation: maps correlating more than this with a shown one are not shown again.
    """
    return _save(_sequence_attention_figure(maps, num_latents, title, seconds_per_element, inputs, input_label,
                                            input_unit, feature_label, prediction, cross_attends, max_correlation),
                 path)


def _cube_limits(ax, xyz: np.ndarray) -> None:
    """Equal scales on x, y and z around the cloud, so shapes are not stretched."""
    centre = (xyz.max(axis=0) + xyz.min(axis=0)) / 2
    radius = float(np.ptp(xyz, axis=0).max()) / 2 or 1.0
    ax.set(xlim=(centre[0] - radius, centre[0] + radius), ylim=(centre[1] - radius, centre[1] + radius),
           zlim=(centre[2] - radius, centre[2] + radius))
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()


def _point_attention_figure(points, maps, num_latents=4, title="", prediction=None, input_label=None,
                            cross_attends=(0, -1), max_correlation=0.9):
    """The figure of `plot_point_attention`."""
    xyz = np.asarray(points, dtype="float64")[:, :3]
    rows = [(index, _heads_mean(maps, index)) for index in _rows(maps, cross_attends)]
    rows = [(index, attention, latent_groups(attention, num_latents, max_correlation)) for index, attention in rows]
    caption = " ".join([CAPTION, "Each panel after the input: the point cloud coloured (and sized) by one latent's "
                        "cross-attention, on one colour scale per row.", _uniform_text(rows[0][1].shape[-1], "points"),
                        _chosen_text([(i, g, len(a)) for i, a, g in rows], max_correlation)])
    panel, cols = 2.6, max(len(groups) for _, _, groups in rows) + 1
    width = panel * cols + 1.2
    _, caption_in = _caption_lines(caption, width)
    title_in = 0.7
    height = panel * len(rows) + caption_in + title_in
    fig = _pyplot().figure(figsize=(width, height))
    bottom, top, left, right = caption_in / height, 1 - title_in / height, 0.3 / width, 1 - 0.9 / width
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top, wspace=0.02, hspace=0.12)
    for row, (index, attention, groups) in enumerate(rows):
        ax = fig.add_subplot(len(rows), cols, row * cols + 1, projection="3d")
        ax.scatter(xyz[:, 0], xyz[:, 1], xyz[:, 2], c="0.35", s=6, depthshade=False)
        ax.set_title(input_label or f"input ({len(xyz)} points)", fontsize=8)
        _cube_limits(ax, xyz)
        box = ax.get_position()
        fig.text(box.x0 - 0.05 / width, box.y0 + box.height / 2, f"cross-attend {index + 1} of {len(maps)}",
                 rotation=90, ha="right", va="center", fontsize=9)
        vmax = float(attention[[g[0] for g in groups]].max())
        for col, group in enumerate(groups, start=2):
            ax = fig.add_subplot(len(rows), cols, row * cols + col, projection="3d")
            weights = attention[group[0]]
            order = np.argsort(weights)  # the brightest points drawn last, on top
            scatter = ax.scatter(xyz[order, 0], xyz[order, 1], xyz[order, 2], c=weights[order], cmap="inferno",
                                 vmin=0.0, vmax=vmax, s=5 + 40 * weights[order] / (vmax + 1e-12), depthshade=False,
                                 edgecolors="0.6", linewidths=0.2)
            ax.set_title(_latent_title(group), fontsize=8)
            _cube_limits(ax, xyz)
        if len(groups) < cols - 1:
            fig.text(box.x0 + (len(groups) + 1.1) * box.width * 1.02, box.y0 + box.height / 2,
                     _no_other_maps(len(attention)), fontsize=7.5, va="center", color="0.3")
        cax = fig.add_axes([right + 0.15 / width, box.y0 + 0.15 * box.height, 0.12 / width, 0.7 * box.height])
        _colorbar(fig, scatter, cax)
    return _finish(fig, _title_text(title, prediction), caption, layout=False)


def plot_point_attention(points: np.ndarray, maps: Sequence[np.ndarray], path, num_latents: int = 4,
                         title: str = "", *, prediction=None, input_label: str | None = None,
                         cross_attends: Sequence[int] = (0, -1), max_correlation: float = 0.9) -> Path:
    """The point cloud `(P, 3+)`, then the same cloud coloured by the attention of each of the most focused
    distinct latents (`latent_groups`), one row per cross-attend, with a colour bar per row.

    Args:
        points: one example `(P, 3+)` (xyz first).
        maps: `cross_attention_maps(...)` for a batch whose first example is `points`.
        path: PNG file to write.
        num_latents: the most latents per row.
        title: figure title (e.g. the file name).
        prediction: `(class name, probability)` (or a sentence) added to the title.
        input_label: the input panel's title (default "input (P points)").
        cross_attends: which cross-attends to show, one row each (default first and last).
        max_correlation: maps correlating more than this with a shown one are not shown again.
    """
    return _save(_point_attention_figure(points, maps, num_latents, title, prediction, input_label, cross_attends,
                                         max_correlation), path)


def _audio_video_figure(video, audio_maps, video_maps, grid, num_latents=4, title="", prediction=None, audio=None,
                        seconds_per_element=None, cross_attend=-1, max_correlation=0.9, audio_label=None,
                        audio_feature_label="feature"):
    """The figure of `plot_audio_video_attention`."""
    index = int(cross_attend) % len(audio_maps)
    sound, frames = _heads_mean(audio_maps, index), _heads_mean(video_maps, index)  # (N, M_audio), (N, M_video)
    joint = np.concatenate([sound, frames], axis=-1)
    groups = latent_groups(joint, num_latents, max_correlation)
    latents = [int(g[0]) for g in groups]
    fig, axes = _figure(2, len(groups) + 1, size=2.4, colorbar=True)
    span, xlabel = _time_axis(sound.shape[-1], seconds_per_element, None)
    steps = (np.arange(sound.shape[-1]) + 0.5) * (span / sound.shape[-1])  # element centres
    middle = grid[0] // 2  # the grid's middle time step, and the frame it starts at
    frame_index = middle * video.shape[0] // grid[0]
    per_step = int(np.prod(grid[1:]))
    if audio is not None:
        import textwrap

        _draw_sequence_input(fig, axes[0, 0], None, audio, span, "", "amplitude", audio_feature_label)
        axes[0, 0].set_title(textwrap.fill(audio_label or "input audio (brighter = louder)", 34), fontsize=8)
        axes[0, 0].set_xlabel(xlabel, fontsize=7)
    else:
        axes[0, 0].axis("off")
    axes[0, -1].axis("off")
    _overlay(axes[1, 0], video[frame_index], None, grid[1:], f"input video, frame {frame_index + 1} of {len(video)}")
    top = 1.08 * float(sound[latents].max())  # one scale for every panel: a latent that ignores the sound is flat
    vmax = float(frames[latents, middle * per_step:(middle + 1) * per_step].max())
    for col, group in enumerate(groups, start=1):
        latent = int(group[0])
        ax = axes[0, col]
        ax.plot(steps, sound[latent], linewidth=1.2, color="tab:orange")
        ax.axhline(1.0 / joint.shape[-1], color="grey", linewidth=0.8, linestyle=":")
        ax.set_ylim(0.0, top)
        ax.set_xlim(0.0, span)
        ax.set_title(f"{_latent_title(group)}\n{sound[latent].sum():.0%} of it on the audio", fontsize=8)
        ax.set_xlabel(xlabel, fontsize=7)
        ax.tick_params(labelsize=6)
        ax.yaxis.set_major_locator(_pyplot().MaxNLocator(4))
        if col == 1:
            ax.set_ylabel(ATTENTION_LABEL, fontsize=7)
        step = frames[latent, middle * per_step:(middle + 1) * per_step]
        artist = _overlay(axes[1, col], video[frame_index], step, grid[1:],
                          f"{frames[latent].sum():.0%} on the video (all frames)", vmax)
    _colorbar(fig, artist, axes[1, -1])
    caption = " ".join([
        CAPTION, "Each column after the input is one latent: top, its attention over the sound (dotted: uniform "
        f"attention); bottom, its attention over video frame {frame_index + 1} (colour bar).",
        _uniform_text(joint.shape[-1], "audio and video elements"),
        _chosen_text([(index, groups, len(joint))], max_correlation)])
    return _finish(fig, _title_text(title, prediction), caption)


def plot_audio_video_attention(video: np.ndarray, audio_maps: Sequence[np.ndarray], video_maps: Sequence[np.ndarray],
                               grid: Sequence[int], path, num_latents: int = 4, title: str = "", *, prediction=None,
                               audio: np.ndarray | None = None, seconds_per_element: float | None = None,
                               cross_attend: int = -1, max_correlation: float = 0.9, audio_label: str | None = None,
                               audio_feature_label: str = "feature") -> Path:
    """Audio + video: one cross-attend's (default the last) most focused distinct latents (`latent_groups`, over
    both inputs), each over time (top) and over the middle frame (bottom), after the input itself.

    Args:
        video: one clip `(T, H, W, C)`.
        audio_maps / video_maps: the audio and video parts of `cross_attention_maps` (`attention_by_input`).
        grid: the video adapter's element grid `(T', H', W')`.
        path: PNG file to write.
        num_latents: the most latents shown.
        title: figure title (e.g. the clip name).
        prediction: `(class name, probability)` (or a sentence) added to the title.
        audio: the clip's audio input `(T, F)` (e.g. log-mel) or `(T,)`, drawn top left.
        seconds_per_element: seconds per audio element, for a time axis in seconds.
        cross_attend: which cross-attend to show.
        max_correlation: maps correlating more than this with a shown one are not shown again.
        audio_label / audio_feature_label: the audio input panel's title and y label.
    """
    return _save(_audio_video_figure(np.asarray(video), audio_maps, video_maps, grid, num_latents, title, prediction,
                                     audio, seconds_per_element, cross_attend, max_correlation, audio_label,
                                     audio_feature_label), path)


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
    return _save(_finish(fig), path)

"""Attention-map extraction matches the encoder's computation; the latents shown differ; the figures explain
themselves (titled input, prediction in the title, labelled colour bars, caption, legible time series)."""

import numpy as np
import pytest
from numpy_reference import attention as reference_attention
from numpy_reference import layer_norm
from PIL import Image

import perceiver_tf as pt
from perceiver_tf import visualize
from perceiver_tf.visualize import (
    attention_by_input,
    attention_share,
    cross_attention_maps,
    decoder_attention_maps,
    distinct_focused_latents,
    latent_groups,
    most_focused_latents,
    plot_audio_video_attention,
    plot_history,
    plot_image_attention,
    plot_latent_across_images,
    plot_point_attention,
    plot_sequence_attention,
)


def _model(shape=(6, 5, 1), kind=None, **kw):
    return pt.build_classifier("tiny", shape, 3, input_kind=kind, num_latents=4, latent_dim=8, num_blocks=2,
                               num_self_attends_per_block=1, num_self_attention_heads=2, num_bands=2, **kw)


def test_first_map_equals_attention_of_the_initial_latents(rng):
    model = _model()
    images = rng.normal(size=(2, 6, 5, 1)).astype("float32")
    maps = cross_attention_maps(model, images)
    assert [m.shape for m in maps] == [(2, 1, 4, 30)] * 2
    np.testing.assert_allclose(maps[0].sum(-1), 1.0, atol=1e-5)
    encoder = model.backbone.encoder
    block = encoder.cross_attentions[0]
    byte_array = np.asarray(model.backbone.byte_array(images)[0])
    latents = np.broadcast_to(np.asarray(encoder.latents), (2, 4, 8))
    ln = lambda x, norm: layer_norm(x, *(np.asarray(w) for w in norm.get_weights()))  # noqa: E731
    _, expected = reference_attention(ln(latents, block.latent_norm), ln(byte_array, block.input_norm), block.attention)
    np.testing.assert_allclose(maps[0], expected, atol=1e-5)
    assert not np.allclose(maps[0], maps[1], atol=1e-4)  # the second cross-attend sees updated latents


def test_most_focused_latents_orders_by_entropy():
    attention = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    np.testing.assert_array_equal(most_focused_latents(attention, 2), [1, 2])


def test_distinct_latents_skip_duplicate_maps():
    sharp = np.eye(4)[[0, 0, 1, 2]]  # latents 0 and 1 attend to the same input
    assert list(distinct_focused_latents(sharp, 3)) == [0, 2, 3]
    assert list(distinct_focused_latents(sharp, 4)) == [0, 2, 3]  # only 3 maps differ: no repeat
    assert sorted(distinct_focused_latents(sharp, 4, fill=True)) == [0, 1, 2, 3]  # fill tops up


def _three_latents(rng):
    """Latents 0 and 1: the same peaked map (1 with a little noise); latent 2: a flatter, different map."""
    peaked = np.array([0.7, 0.1, 0.1, 0.05, 0.05])
    other = np.array([0.05, 0.05, 0.1, 0.4, 0.4])
    copy = peaked + rng.uniform(0, 1e-3, size=5)
    return np.stack([peaked, copy / copy.sum(), other])


def test_the_chosen_latents_are_not_duplicates(rng):
    attention = _three_latents(rng)
    assert sorted(most_focused_latents(attention, 2)) == [0, 1]  # entropy alone picks the duplicate pair
    picked = distinct_focused_latents(attention, 2)
    assert len(picked) == 2 and 2 in picked and len({0, 1} & set(picked)) == 1
    groups = latent_groups(attention)
    assert [sorted(g) for g in groups] == [[0, 1], [2]] and groups[0][0] in (0, 1)  # the duplicate counts as alike
    assert [sorted(g) for g in latent_groups(attention, count=1)] == [[0, 1]]  # a distinct latent beyond count: out


def test_latent_groups_rule_is_a_correlation_threshold_and_flat_maps_are_alike():
    base = np.array([0.4, 0.3, 0.2, 0.1])
    similar = np.array([0.4, 0.2, 0.3, 0.1])  # Pearson correlation 0.8 with base
    assert np.isclose(np.corrcoef(base, similar)[0, 1], 0.8)
    assert len(latent_groups(np.stack([base, similar]))) == 2  # 0.8 <= 0.9: both shown
    assert len(latent_groups(np.stack([base, similar]), max_correlation=0.7)) == 1
    uniform = np.full(4, 0.25)
    groups = latent_groups(np.stack([uniform, base, uniform]))
    assert [sorted(g) for g in groups] == [[1], [0, 2]]  # focused first; the two uniform maps are one group


def test_maps_of_patched_multimodal_and_decoder_models(rng):
    """Patches: M counts patches; several inputs: M splits by input; decoders: queries over latents."""
    patched = pt.build_classifier("tiny", (8, 8, 1), 3, patch_size=4, num_latents=4, latent_dim=8, num_blocks=1,
                                  num_cross_attends=1, num_self_attends_per_block=1, num_self_attention_heads=2,
                                  num_bands=2, decoder="query")
    images = rng.normal(size=(2, 8, 8, 1)).astype("float32")
    (maps,) = cross_attention_maps(patched, images)
    assert maps.shape == (2, 1, 4, 4)  # 2 x 2 patches
    decoder = decoder_attention_maps(patched, images)["head"]
    assert decoder.shape == (2, 1, 1, 4)
    np.testing.assert_allclose(decoder.sum(-1), 1.0, atol=1e-5)
    backbone = pt.PerceiverBackbone(adapters={"b": dict(input_kind="sequence", input_shape=(6, 2), num_bands=2),
                                              "a": dict(input_kind="array", input_shape=(3, 4))},
                                    num_latents=4, latent_dim=8, num_blocks=1, num_self_attends_per_block=1,
                                    num_self_attention_heads=2)
    inputs = {"a": rng.normal(size=(1, 3, 4)), "b": rng.normal(size=(1, 6, 2))}
    (maps,) = cross_attention_maps(backbone, inputs)
    split = attention_by_input(backbone, maps)
    assert {k: v.shape for k, v in split.items()} == {"a": (1, 1, 4, 3), "b": (1, 1, 4, 6)}
    np.testing.assert_allclose(split["a"].sum(-1) + split["b"].sum(-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="no query decoder"):
        decoder_attention_maps(_model(), rng.normal(size=(1, 6, 5, 1)))


def test_attention_share_sums_attention_inside_the_region_averaged_over_heads(rng):
    attention = rng.dirichlet(np.ones(6), size=(2, 3, 4))  # (B=2, heads=3, N=4, M=6), rows sum to 1
    region = rng.uniform(size=(2, 6)) < 0.5
    expected = np.array([[np.mean([attention[b, h, n][region[b]].sum() for h in range(3)]) for n in range(4)]
                         for b in range(2)])
    np.testing.assert_allclose(attention_share(attention, region), expected, rtol=1e-6)
    uniform = np.full((2, 1, 4, 6), 1 / 6)
    np.testing.assert_allclose(attention_share(uniform, region), np.repeat(region.mean(-1, keepdims=True), 4, 1))
    np.testing.assert_allclose(attention_share(attention, region.reshape(2, 2, 3)), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="region"):
        attention_share(attention, region[:, :5])


def test_plots_are_written(tmp_path, rng):
    model = _model()
    images = rng.normal(size=(1, 6, 5, 1)).astype("float32")
    maps = cross_attention_maps(model, images)
    assert plot_image_attention(images[0], maps, tmp_path / "img.png", num_latents=3).stat().st_size > 1000
    assert plot_sequence_attention(maps, tmp_path / "seq.png", num_latents=2).stat().st_size > 1000
    batch = rng.normal(size=(3, 6, 5, 1)).astype("float32")
    latent_plot = plot_latent_across_images(batch, cross_attention_maps(model, batch)[0], 1, tmp_path / "lat.png")
    assert latent_plot.stat().st_size > 1000
    points = rng.uniform(-1, 1, size=(1, 30, 3)).astype("float32")
    point_maps = cross_attention_maps(_model((30, 3), "points", max_resolution=8), points)
    assert plot_point_attention(points[0], point_maps, tmp_path / "pts.png", num_latents=2).stat().st_size > 1000
    csv = tmp_path / "history.csv"
    csv.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.0,0.4,1.1\n1,0.7,0.8,0.6,0.9\n")
    assert plot_history(csv, tmp_path / "curves.png").stat().st_size > 1000


# --- what the figures show (built from hand-made maps: no model, fast) -------------------------


def _maps(rng, num_latents=4, elements=30, cross_attends=2, duplicate=True):
    """`cross_attention_maps`-like arrays `(1, 2 heads, N, M)`; with `duplicate`, latent 1's map equals latent 0's."""
    logits = rng.normal(scale=3.0, size=(cross_attends, 1, 2, num_latents, elements))
    if duplicate:
        logits[:, :, :, 1] = logits[:, :, :, 0]
    maps = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return list(maps)


def _titles(fig):
    return [ax.get_title() for ax in fig.axes]


def _colorbar_axes(fig, label="attention weight"):
    return [ax for ax in fig.axes if ax.get_ylabel() == label]


def _caption(fig):
    """The figure's drawn texts (title, caption), whitespace (the caption's wrapping) made single spaces."""
    return " ".join(" ".join(t.get_text() for t in fig.texts).split())


def test_image_figure_explains_itself(tmp_path, rng):
    maps = _maps(rng)
    image = rng.uniform(size=(6, 5, 1))
    fig = visualize._image_attention_figure(image, maps, num_latents=4, title="x.png", prediction=("cat", 0.934))
    assert fig._suptitle.get_text() == "x.png | predicted: cat (p = 0.93)"
    titles = _titles(fig)
    assert titles.count("input (6x5 grey)") == 2  # the input column of both rows
    assert {ax.get_ylabel() for ax in fig.axes} >= {"cross-attend 1 of 2", "cross-attend 2 of 2"}
    latent_titles = [t for t in titles if t.startswith("latent")]
    shown = [int(t.split()[1]) for t in latent_titles]
    for row in (shown[:3], shown[3:]):  # 4 latents, 0 and 1 identical: 3 panels per row, never both 0 and 1
        assert len(row) == 3 and len(set(row)) == 3 and not {0, 1} <= set(row)
    assert sum("(+1 alike)" in t for t in latent_titles) == 2
    assert len(_colorbar_axes(fig)) == 2
    caption = _caption(fig)
    assert "Brighter = more attention" in caption and "all 4 latents of cross-attend 1, as 3 distinct maps" in caption
    assert "correlates > 0.9" in caption and "uniform attention = 0.033" in caption
    visualize._pyplot().close(fig)
    fewer = visualize._image_attention_figure(image, maps, num_latents=2, cross_attends=(-1,))
    assert len([t for t in _titles(fewer) if t.startswith("latent")]) == 2
    assert "the 2 most focused latents of cross-attend 2, of 4 latents" in _caption(fewer)
    visualize._pyplot().close(fewer)
    path = plot_image_attention(image, maps, tmp_path / "a.png", prediction=("cat", 0.934), title="x.png")
    text = Image.open(path).text  # the PNG carries its title and caption
    assert text["Title"] == "x.png | predicted: cat (p = 0.93)" and "Brighter" in text["Description"]


def test_patched_image_input_is_labelled_with_its_patches(rng):
    maps = _maps(rng, elements=4, cross_attends=1, duplicate=False)
    fig = visualize._image_attention_figure(rng.uniform(size=(8, 8, 3)), maps, grid=(2, 2))
    assert "input (8x8 RGB, 2x2 patches)" in _titles(fig) and "over the 4 patches" in _caption(fig)
    visualize._pyplot().close(fig)


def test_sequence_figure_is_one_heatmap_row_per_latent_with_colour_bars(rng):
    maps = _maps(rng, num_latents=5, elements=12)
    features = rng.normal(size=(12, 8))
    fig = visualize._sequence_attention_figure(maps, num_latents=3, inputs=features, input_label="input: log-mel",
                                               input_unit="log-mel value", feature_label="mel bin",
                                               seconds_per_element=0.05, prediction=("low", 0.5), title="a.wav")
    assert fig._suptitle.get_text() == "a.wav | predicted: low (p = 0.50)"
    inputs_ax = next(ax for ax in fig.axes if ax.get_title(loc="left") == "input: log-mel")
    assert inputs_ax.images[0].get_array().shape == (8, 12) and inputs_ax.get_ylabel() == "mel bin"
    rows = [ax for ax in fig.axes if ax.get_title(loc="left").startswith("cross-attend")]
    assert len(rows) == 2
    for ax in rows:
        assert ax.get_lines() == []  # no overlapping lines: each latent is its own image row
        (heatmap,) = ax.images
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert heatmap.get_array().shape == (3, 12) and len(labels) == 3 and labels[0].startswith("latent")
        assert not {0, 1} <= {int(label.split()[1]) for label in labels}  # 0 and 1 are one map: never both
        np.testing.assert_allclose(ax.get_xlim(), (0.0, 0.6))  # 12 elements x 0.05 s, the input's span too
    np.testing.assert_allclose(inputs_ax.get_xlim(), (0.0, 0.6))
    assert len(_colorbar_axes(fig)) == 2 and _colorbar_axes(fig, "log-mel value")
    assert rows[-1].get_xlabel() == "time (s)"
    assert "Each heatmap row is one latent" in _caption(fig)
    visualize._pyplot().close(fig)


def test_waveform_input_is_a_line(rng):
    fig = visualize._sequence_attention_figure(_maps(rng, elements=10, cross_attends=1), inputs=rng.normal(size=40),
                                               input_label="input: waveform")
    inputs_ax = next(ax for ax in fig.axes if ax.get_title(loc="left") == "input: waveform")
    assert len(inputs_ax.get_lines()) == 1 and len(inputs_ax.images) == 0
    visualize._pyplot().close(fig)


def test_point_figure_has_the_input_and_a_colour_bar_per_cross_attend(rng):
    maps = _maps(rng, elements=30, cross_attends=2)
    points = rng.uniform(-1, 1, size=(30, 3))
    fig = visualize._point_attention_figure(points, maps, num_latents=4, prediction=("cube", 0.7), title="p.npy")
    assert fig._suptitle.get_text() == "p.npy | predicted: cube (p = 0.70)"
    titles = [t for t in _titles(fig) if t]
    assert titles.count("input (30 points)") == 2 and len(titles) == 8  # per row: input + the 3 distinct latents
    assert len(_colorbar_axes(fig)) == 2
    panels = [ax for ax in fig.axes if ax.name == "3d"]  # row by row: input, then the latents
    assert len(panels) == 8
    for row in range(2):  # each row's colour scale is its shown latents' largest weight
        attention = maps[row][0].mean(0)
        shown = [int(ax.get_title().split()[1]) for ax in panels[row * 4 + 1: row * 4 + 4]]
        assert not {0, 1} <= set(shown)
        scatter = panels[row * 4 + 1].collections[0]
        assert scatter.get_clim() == (0.0, pytest.approx(attention[shown].max()))
    assert "4 latents of cross-attend 2, as 3 distinct maps" in _caption(fig) and "cross-attend 1 of 2" in _caption(fig)
    visualize._pyplot().close(fig)
    one = visualize._point_attention_figure(points, maps, cross_attends=(-1,))
    assert len(_colorbar_axes(one)) == 1
    visualize._pyplot().close(one)


def test_audio_video_figure(tmp_path, rng):
    audio_maps, video_maps = _maps(rng, elements=6, duplicate=False), _maps(rng, elements=2 * 2 * 2, duplicate=False)
    for a, v in zip(audio_maps, video_maps):  # one distribution over audio + video
        total = a.sum(-1, keepdims=True) + v.sum(-1, keepdims=True)
        a /= total
        v /= total
    video = rng.uniform(size=(4, 4, 4, 1))
    fig = visualize._audio_video_figure(video, audio_maps, video_maps, (2, 2, 2), num_latents=2,
                                        audio=rng.normal(size=(6, 3)), prediction=("beep", 0.6))
    titles = _titles(fig)
    assert "input video, frame 3 of 4" in titles and any(t.startswith("input audio") for t in titles)
    assert sum("of it on the audio" in t for t in titles) == 2 and sum("on the video" in t for t in titles) == 2
    assert _colorbar_axes(fig) and "predicted: beep (p = 0.60)" in fig._suptitle.get_text()
    visualize._pyplot().close(fig)
    path = plot_audio_video_attention(video, audio_maps, video_maps, (2, 2, 2), tmp_path / "av.png", num_latents=2)
    assert path.stat().st_size > 1000

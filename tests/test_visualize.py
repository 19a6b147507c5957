"""Attention-map extraction matches the encoder's computation; plots are written."""

import numpy as np
import pytest
from numpy_reference import attention as reference_attention, layer_norm

import perceiver_tf as pt
from perceiver_tf.visualize import (
    attention_by_input,
    attention_share,
    cross_attention_maps,
    decoder_attention_maps,
    distinct_focused_latents,
    most_focused_latents,
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
    assert sorted(distinct_focused_latents(sharp, 4)) == [0, 1, 2, 3]  # fills up when too few differ


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

"""`PerceiverOpticalFlow`: Perceiver IO optical flow, every pixel's input features as its own decoder query."""

from __future__ import annotations

import keras

from perceiver_tf.adapters.grid import GridAdapter
from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.layers.perceiver_decoder import PerceiverDecoder
from perceiver_tf.models.perceiver_backbone import SINGLE_INPUT, PerceiverBackbone
from perceiver_tf.models.perceiver_task import PerceiverTask, require_backbone


@register
class PerceiverOpticalFlow(PerceiverTask):
    """Dense flow: the byte array (features + positions of every pixel) queries the latents.

    Graph: pixel features `(B, H, W, C)` -> `backbone` (an image adapter: e.g. a 1x1 conv and
    2-D Fourier features; the encoder) -> latents; the same adapter's byte array `(B, H*W, E)` ->
    `decoder` (cross-attention to the latents, no query residual, `Dense(output_channels)`) ->
    `/ rescale_factor` -> `(B, H, W, output_channels)`. DeepMind's optical-flow Perceiver IO
    (Sec. 4.2; transformers' `PerceiverForOpticalFlow`), whose pixel features are the 3x3 patches
    of both frames stacked (`flow_pixel_features`).

    Args:
        backbone: a single-input `PerceiverBackbone` on a 2-D grid adapter (`ImageAdapter`).
        output_channels: values per pixel (2: the flow's x and y).
        rescale_factor: the decoder's output is divided by it (100: flow in pixels).
        metadata: saved with the model (see `PerceiverTask`).

    Returns:
        `(B, H, W, output_channels)` float32.
    """

    task_keys = ("output_channels", "rescale_factor")

    def __init__(self, backbone: PerceiverBackbone, output_channels: int = 2, rescale_factor: float = 100.0,
                 metadata: dict | None = None, **kwargs):
        # === Validate ===
        require_backbone(backbone)
        adapter = backbone.adapters.get(SINGLE_INPUT) if backbone.single_input else None
        if not isinstance(adapter, GridAdapter) or len(adapter.element_grid) != 2:
            raise ValueError("PerceiverOpticalFlow needs a backbone with one 2-D grid input (input_kind='image').")
        require_positive_int(output_channels, "output_channels")
        if not rescale_factor > 0:
            raise ValueError(f"`rescale_factor` must be positive. Received: rescale_factor={rescale_factor!r}")

        # === Layers ===
        dtype = backbone.dtype_policy
        self.decoder = PerceiverDecoder(output_channels, use_query_residual=False, **backbone.decoder_options,
                                        dtype=dtype, name="decoder")
        self.rescale = keras.layers.Rescaling(1.0 / rescale_factor, dtype="float32", name="rescale")
        self.to_grid = keras.layers.Reshape((*adapter.element_grid, output_channels), dtype="float32", name="flow")

        # === Functional Model ===
        latents = backbone(backbone.input)
        queries = adapter(backbone.input)  # the adapter's layers again: the byte array, not a copy of it
        outputs = self.to_grid(self.rescale(self.decoder(queries, latents)))
        super().__init__(backbone, outputs, metadata=metadata, **kwargs)

        # === Config ===
        self.output_channels = output_channels
        self.rescale_factor = float(rescale_factor)

    def get_config(self):
        config = super().get_config()
        config.update(output_channels=self.output_channels, rescale_factor=self.rescale_factor)
        return config


def flow_pixel_features(patches):
    """transformers' optical-flow input `(B, 2, 27, H, W)` (3x3 RGB patches of both frames, channels
    first) -> this model's `(B, H, W, 54)` (frame-major channels, as transformers' `space_to_depth`)."""
    patches = keras.ops.convert_to_tensor(patches)
    batch, frames, channels, height, width = patches.shape
    return keras.ops.reshape(keras.ops.transpose(patches, (0, 3, 4, 1, 2)), (-1, height, width, frames * channels))

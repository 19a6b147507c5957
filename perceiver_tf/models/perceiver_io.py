"""Perceiver IO: the Perceiver encoder plus query-based decoders for structured outputs."""

from __future__ import annotations

import keras

from perceiver_tf.layers import PerceiverEncoder
from perceiver_tf.layers.common import register
from perceiver_tf.layers.perceiver_decoder import OutputQueries, PerceiverDecoder
from perceiver_tf.models.builder import _init_args
from perceiver_tf.models.input_kinds import get_input_kind, validate_input_shape
from perceiver_tf.models.perceiver_classifier import byte_array, deserialize_dtype, encode, serialize_dtype


QUERY_KEYS = _init_args(OutputQueries)
DECODER_KEYS = _init_args(PerceiverDecoder)
TASK_KEYS = QUERY_KEYS | DECODER_KEYS | {"activation"}

#: Perceiver IO ImageNet, config A (Jaegle et al. 2021b, Table 5 / DeepMind's
#: `perceiver/train/experiment.py`): 224 x 224 pixels + 2-D Fourier features (64 bands, 261
#: channels); one cross-attend, then a 6-layer latent Transformer (8 heads, weights shared)
#: applied 8 times; 512 x 1024 latents; widening factor 1 everywhere; the decoder is one
#: learned 1 x 1024 query with a query residual (`ClassificationDecoder`).
PERCEIVER_IO_IMAGENET_ENCODER = dict(
    num_latents=512,
    latent_dim=1024,
    num_blocks=8,
    num_cross_attends=1,
    num_self_attends_per_block=6,
    num_cross_attention_heads=1,
    num_self_attention_heads=8,
    share_latent_transformer=True,
)
PERCEIVER_IO_IMAGENET_CLASSIFIER = dict(index_dims=(), learned_channels=1024, use_query_residual=True)
#: Exact `count_params()` of `build_perceiver_io_imagenet()` (paper: 48.4M).
PERCEIVER_IO_IMAGENET_PARAMS = 48_440_627


@register
class PerceiverIO(keras.Model):
    """Perceiver encoder + one query decoder per output task; a functional model with dict outputs.

    Graph: `inputs` [-> `patches`] -> `position_encoding` (B, M, C) -> `encoder` (B, N, D); then
    for every task `t`: `t_queries` (B, O_t, E_t) -> `t_decoder` (B, O_t, C_t) [-> activation]
    -> output `t` of shape `(B, *index_dims_t, C_t)` (`(B, C_t)` for `index_dims=()`).

    Args:
        input_shape: one example's shape, e.g. `(224, 224, 3)`.
        tasks: `{name: spec}`; each spec holds `output_channels`, the `OutputQueries` arguments
            (`index_dims`, `num_bands`, `max_resolution`, `concat_pos`, `sine_only`,
            `learned_channels`), any `PerceiverDecoder` argument (`num_heads`,
            `use_query_residual`, `widening_factor`, ...) and optionally `activation`.
            Dense per-pixel output: `{"index_dims": (H, W), "num_bands": 32, "output_channels": 3}`;
            classification: `{"index_dims": (), "learned_channels": 256, "output_channels": 10}`.
        input_kind, patch_size, position_encoding, position_encoding_config, encoder_config,
            use_input_mask, metadata, dtype: as in `PerceiverClassifier`.

    Call returns:
        `{name: (B, *index_dims, output_channels)}`, always float32.
    """

    def __init__(
        self,
        input_shape: tuple,
        tasks: dict[str, dict],
        input_kind: str = "image",
        patch_size=None,
        position_encoding: str = "fourier",
        position_encoding_config: dict | None = None,
        encoder_config: dict | None = None,
        use_input_mask: bool = False,
        metadata: dict | None = None,
        dtype=None,
        **kwargs,
    ):
        # === Validate ===
        kind = get_input_kind(input_kind)
        input_shape = validate_input_shape(kind, input_shape)
        if not isinstance(tasks, dict) or not tasks:
            raise ValueError(f"`tasks` must be a non-empty dict of name -> spec. Received: tasks={tasks!r}")
        tasks = {name: dict(spec) for name, spec in tasks.items()}
        for name, spec in tasks.items():
            unknown = sorted(set(spec) - TASK_KEYS)
            if unknown or "output_channels" not in spec:
                raise ValueError(
                    f"Task {name!r} needs `output_channels` and only these keys: {', '.join(sorted(TASK_KEYS))}. "
                    f"Received: unknown={unknown}, keys={sorted(spec)}"
                )
        position_encoding_config = dict(position_encoding_config or {})
        encoder_config = dict(encoder_config or {})

        # === Functional Model ===
        data = keras.Input(shape=input_shape, name="inputs")
        inputs = byte_array(data, kind, patch_size, position_encoding, position_encoding_config, dtype)
        encoder = PerceiverEncoder(**encoder_config, dtype=dtype, name="encoder")
        latents, model_inputs = encode(data, inputs, encoder, use_input_mask)
        outputs = {name: self._decode(name, spec, latents, dtype) for name, spec in tasks.items()}
        super().__init__(inputs=model_inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.example_shape = input_shape
        self.tasks = tasks
        self.input_kind = input_kind
        self.patch_size = patch_size
        self.position_encoding = position_encoding
        self.position_encoding_config = position_encoding_config
        self.encoder_config = encoder_config
        self.use_input_mask = bool(use_input_mask)
        self.metadata = dict(metadata or {})
        self._dtype_arg = dtype

    @staticmethod
    def _decode(name: str, spec: dict, latents, dtype):
        queries = OutputQueries(
            **{k: v for k, v in spec.items() if k in QUERY_KEYS}, dtype=dtype, name=f"{name}_queries"
        )(latents)
        decoder = PerceiverDecoder(**{k: v for k, v in spec.items() if k in DECODER_KEYS}, dtype=dtype, name=f"{name}_decoder")
        decoded = decoder(queries, latents)
        if spec.get("activation") is not None:
            decoded = keras.layers.Activation(spec["activation"], dtype="float32", name=f"{name}_activation")(decoded)
        index_dims = tuple(spec.get("index_dims", ()))
        return keras.layers.Reshape((*index_dims, spec["output_channels"]), dtype="float32", name=name)(decoded)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": list(self.example_shape),
            "tasks": self.tasks,
            "input_kind": self.input_kind,
            "patch_size": self.patch_size,
            "position_encoding": self.position_encoding,
            "position_encoding_config": self.position_encoding_config,
            "encoder_config": self.encoder_config,
            "use_input_mask": self.use_input_mask,
            "metadata": self.metadata,
            "dtype": serialize_dtype(self._dtype_arg),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_dtype(config))


def build_perceiver_io_imagenet(
    num_classes: int = 1000, input_shape: tuple = (224, 224, 3), num_bands: int = 64, **encoder_overrides
) -> PerceiverIO:
    """Perceiver IO ImageNet config A (48.4M parameters at 224 x 224 x 3, 1,000 classes).

    Output `"logits"`: `(B, num_classes)`. `encoder_overrides` replace entries of
    `PERCEIVER_IO_IMAGENET_ENCODER` (e.g. `num_latents=16, latent_dim=32` for a smoke test).
    """
    return PerceiverIO(
        input_shape,
        tasks={"logits": dict(PERCEIVER_IO_IMAGENET_CLASSIFIER, output_channels=num_classes)},
        input_kind="image",
        position_encoding_config={"num_bands": num_bands},
        encoder_config={**PERCEIVER_IO_IMAGENET_ENCODER, **encoder_overrides},
        metadata={"config": "perceiver_io_imagenet_a"},
        name="perceiver_io_imagenet",
    )


def build_autoencoder(
    input_shape: tuple,
    input_kind: str | None = None,
    num_bands: int = 16,
    query_num_bands: int | None = None,
    output_activation: str | None = None,
    encoder_config: dict | None = None,
    **model_kwargs,
) -> PerceiverIO:
    """Dense autoencoding / per-element prediction on the input's own grid.

    Queries are the Fourier features of every input position (no query residual), so the
    output `"reconstruction"` has the input's shape: `(B, H, W, C)` for images, `(B, T, C)`
    for audio. For per-pixel prediction of another target (e.g. segmentation logits), pass
    a `PerceiverIO` task with `output_channels` set to the target width instead.

    Args:
        input_shape: one grid example, e.g. `(8, 8, 1)`.
        input_kind: "image" | "audio" | "sequence" | "video". `None`: image for rank 3, video for rank 4.
        num_bands: K of the input position features.
        query_num_bands: K of the output query features. `None`: `num_bands`.
        output_activation: e.g. "sigmoid" for targets in [0, 1].
        encoder_config: `PerceiverEncoder` kwargs.
        **model_kwargs: other `PerceiverIO` arguments (`metadata`, `dtype`, `name`).
    """
    input_shape = tuple(input_shape)
    input_kind = input_kind or {3: "image", 4: "video"}.get(len(input_shape))
    if input_kind is None or not get_input_kind(input_kind).has_grid:
        raise ValueError(
            f"build_autoencoder needs a grid input (image, audio, sequence or video). "
            f"Received: input_kind={input_kind!r}, input_shape={input_shape}"
        )
    task = dict(
        index_dims=input_shape[:-1],
        num_bands=query_num_bands or num_bands,
        output_channels=input_shape[-1],
        activation=output_activation,
    )
    return PerceiverIO(
        input_shape,
        tasks={"reconstruction": task},
        input_kind=input_kind,
        position_encoding_config={"num_bands": num_bands},
        encoder_config=encoder_config,
        **model_kwargs,
    )

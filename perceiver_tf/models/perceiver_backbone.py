"""`PerceiverBackbone`: input adapters -> byte array -> Perceiver encoder -> latents `(B, N, D)`."""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.adapters import InputAdapter, infer_input_kind, make_adapter
from perceiver_tf.layers import PerceiverEncoder
from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.layers.modality_padding import ModalityPadding
from perceiver_tf.models.presets import ADAPTER_KEYS, ENCODER_KEYS, backbone_kwargs

#: Input name of a single-input backbone, and of its element mask.
SINGLE_INPUT, SINGLE_MASK = "inputs", "input_mask"
#: Name of the whole-modality mask input of a multimodal backbone.
MODALITY_MASK = "modality_mask"


def mask_name(modality: str) -> str:
    """The element-mask input of one modality of a multimodal backbone."""
    return f"{modality}_mask"


def deserialize_dtype(config: dict) -> dict:
    """`config` with a serialized `dtype` policy turned back into a policy object."""
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
    return config


def _adapter_spec(name: str, spec, dtype) -> InputAdapter:
    if isinstance(spec, InputAdapter):
        return spec
    if not isinstance(spec, dict) or "input_shape" not in spec or "input_kind" not in spec:
        raise ValueError(
            f"Adapter {name!r} must be an InputAdapter or a dict with `input_kind`, `input_shape` and the adapter's "
            f"arguments. Received: {spec!r}"
        )
    spec = dict(spec)
    return make_adapter(spec.pop("input_kind"), spec.pop("input_shape"), dtype=dtype, name=f"{name}_adapter", **spec)


def _run_adapter(adapter: InputAdapter, data, mask):
    """`adapter(data)`, given its element mask too where it reads one (`reads_input_mask`)."""
    if mask is not None and adapter.reads_input_mask:
        return adapter(data, input_mask=mask)
    return adapter(data)


@register
class PerceiverBackbone(keras.Model):
    """The Perceiver as a functional backbone: any modality (or several) in, latents `(B, N, D)` out.

    Graph: every input goes through its adapter (`InputAdapter`: patches / conv stem, position
    features) to a byte array `(B, M_k, C_k)`; several inputs are padded to one width with a
    learned modality embedding (`ModalityPadding`) and concatenated along M (layer
    "byte_array"); the `encoder` (`PerceiverEncoder`) turns the byte array into the latents.
    Tasks (`PerceiverClassifier`, `PerceiverIO`) put heads or decoders on top.

    One input: give `input_shape` (and `input_kind`, or let rank 3 / 4 mean image / video) and
    the position arguments; the model takes a tensor named "inputs" (or, with
    `use_input_mask`, `{"inputs": x, "input_mask": (B, M) bool}`). Several inputs or a custom
    modality: pass `adapters` (then no `input_shape` or position arguments here); the model
    takes `{name: x, ...}` plus `"<name>_mask"` inputs with `use_input_mask` and a
    `"modality_mask"` `(B, num_inputs)` with `use_modality_mask` (columns in sorted name order).

    Args:
        input_shape: one example's shape, e.g. `(224, 224, 3)`; `(None, 3)` for any number of points.
        input_kind: "image", "audio", "sequence", "video", "points", "array" or "text"
            (`perceiver_tf.adapters.ADAPTERS`).
        patch_size: non-overlapping patches before the position features (grid inputs).
        position_encoding: "fourier" (default), "learned" or "none".
        num_bands: K, Fourier bands per axis (adapter default 64).
        max_resolution: mu per axis; frequencies 1..mu/2 (default: the grid size; 32 for points).
        spacing: "linear" (paper's equation, DeepMind's code) or "log" (paper's text).
        concat_pos / sine_only: include raw coordinates / drop the cosines.
        learned_position_channels: width of learned position embeddings.
        learned_position_projection: project the learned positions to this width first (transformers'
            `project_pos_dim`).
        preprocessor / preprocessor_channels / conv_pool_padding / conv_padding: image conv stem,
            "conv" or "conv1x1", and the "conv" stem's max-pool and conv paddings (`ImageAdapter`).
        pixel_permutation_seed: images whose pixels come in a fixed permuted order: position features
            permuted alike (`ImageAdapter`; the paper's permuted ImageNet).
        sequence_tokens: time series `(T, C)`: "steps", "patches", "conv" or "channels" tokens, with
            `patch_size` steps per token and `preprocessor_channels` conv filters (`SequenceAdapter`);
            their `input_mask` is per time step `(B, T)`.
        vocab_size / embedding_channels / max_positions: token ids (`TextAdapter`).
        adapters: one `InputAdapter`, or `{name: InputAdapter | {"input_kind", "input_shape", ...}}`.
        use_input_mask: add bool element masks (False marks padding; per time step for sequences).
        use_modality_mask: (several inputs) add the whole-modality mask; a False entry hides every
            element of that input from the encoder (missing modality, modality dropout).
        modality_embedding_channels: (several inputs) the widest input gets this many learned
            channels; the others are padded to the same width (DeepMind's `min_padding_size=2`).
        num_latents ... use_fused_attention: the `PerceiverEncoder` arguments (N = `num_latents`,
            D = `latent_dim`, R = `num_blocks`, ...; see its docstring).
        dtype: dtype policy of every layer, e.g. "mixed_bfloat16" (positions stay float32).

    Call arguments:
        inputs: a tensor `(B, *input_shape)`, or the dict described above.

    Returns:
        latents `(B, num_latents, latent_dim)`.
    """

    def __init__(
        self,
        input_shape=None,
        input_kind: str | None = None,
        patch_size=None,
        position_encoding: str | None = None,
        num_bands: int | None = None,
        max_resolution=None,
        spacing: str | None = None,
        concat_pos: bool | None = None,
        sine_only: bool | None = None,
        learned_position_channels: int | None = None,
        learned_position_projection: int | None = None,
        preprocessor: str | None = None,
        preprocessor_channels: int | None = None,
        conv_pool_padding: str | None = None,
        conv_padding: str | None = None,
        pixel_permutation_seed: int | None = None,
        sequence_tokens: str | None = None,
        vocab_size: int | None = None,
        embedding_channels: int | None = None,
        max_positions: int | None = None,
        adapters=None,
        use_input_mask: bool = False,
        use_modality_mask: bool = False,
        modality_embedding_channels: int = 2,
        num_latents: int = 512,
        latent_dim: int = 1024,
        num_blocks: int = 8,
        num_cross_attends: int | None = None,
        num_self_attends_per_block: int = 6,
        num_cross_attention_heads: int = 1,
        num_self_attention_heads: int = 8,
        cross_attention_qk_channels: int | None = None,
        cross_attention_v_channels: int | None = None,
        self_attention_qk_channels: int | None = None,
        self_attention_v_channels: int | None = None,
        cross_attend_widening_factor: int = 1,
        self_attend_widening_factor: int = 1,
        share_cross_attention: bool = True,
        share_latent_transformer: bool = True,
        use_query_residual: bool = True,
        dropout_rate: float = 0.0,
        attention_dropout_rate: float = 0.0,
        gelu_approximate: bool = False,
        cross_attention_chunk_size: int | None = None,
        use_fused_attention: bool = False,
        dtype=None,
        **kwargs,
    ):
        arguments = dict(locals())
        # === Validate and build the adapters ===
        adapter_args = {k: arguments[k] for k in ADAPTER_KEYS if arguments[k] is not None}
        if adapters is None:
            if input_shape is None:
                raise ValueError("PerceiverBackbone needs `input_shape` (one input) or `adapters` (one or several).")
            kind = input_kind or infer_input_kind(input_shape)
            resolved = {SINGLE_INPUT: make_adapter(kind, input_shape, dtype=dtype, name="adapter", **adapter_args)}
            single = True
        else:
            given = sorted(adapter_args) + [k for k in ("input_shape", "input_kind") if arguments[k] is not None]
            if given:
                raise ValueError(
                    f"With `adapters`, pass {given} to each adapter instead (they describe one input's layout)."
                )
            single = isinstance(adapters, InputAdapter)
            if single:
                resolved = {SINGLE_INPUT: adapters}
            elif isinstance(adapters, dict) and adapters:
                resolved = {name: _adapter_spec(name, adapters[name], dtype) for name in sorted(adapters)}
            else:
                raise ValueError(f"`adapters` must be an InputAdapter or a non-empty dict of them. Received: {adapters!r}")
        if use_modality_mask and single:
            raise ValueError("`use_modality_mask` needs several inputs (a dict of `adapters`).")
        reserved = {MODALITY_MASK} | {mask_name(n) for n in resolved}
        clashes = sorted(set(resolved) & reserved) if not single else []
        if clashes:
            raise ValueError(f"Input names {clashes} are reserved for mask inputs; rename them.")
        require_positive_int(modality_embedding_channels, "modality_embedding_channels")
        encoder_config = {k: arguments[k] for k in ENCODER_KEYS}

        # === Layers ===
        self.adapters = resolved
        self.single_input = single
        self.encoder = PerceiverEncoder(**encoder_config, dtype=dtype, name="encoder")
        self.paddings = {}
        self.concatenate = None

        # === Functional Model ===
        data = {name: keras.Input(shape=a.example_shape, dtype=a.example_dtype, name=name) for name, a in resolved.items()}
        masks = {}
        if use_input_mask:
            masks = {name: keras.Input(shape=(a.mask_length(),), dtype="bool",
                                       name=SINGLE_MASK if single else mask_name(name))
                     for name, a in resolved.items()}
        arrays = {name: _run_adapter(adapter, data[name], masks.get(name)) for name, adapter in resolved.items()}
        modality_mask = None
        if use_modality_mask:
            modality_mask = keras.Input(shape=(len(resolved),), dtype="bool", name=MODALITY_MASK)
        if not single and len(resolved) > 1:
            width = max(a.shape[-1] for a in arrays.values()) + modality_embedding_channels
            self.paddings = {name: ModalityPadding(width, dtype=dtype, name=f"{name}_padding") for name in resolved}
            self.concatenate = keras.layers.Concatenate(axis=1, dtype=dtype, name="byte_array")
        byte_array, input_mask = self._join(arrays, masks, modality_mask)
        latents = self.encoder(byte_array, input_mask=input_mask)
        if single:
            model_inputs = data[SINGLE_INPUT] if not use_input_mask else {SINGLE_INPUT: data[SINGLE_INPUT],
                                                                          SINGLE_MASK: masks[SINGLE_INPUT]}
        else:
            model_inputs = {**data, **{mask_name(n): m for n, m in masks.items()}}
            if modality_mask is not None:
                model_inputs[MODALITY_MASK] = modality_mask
        super().__init__(inputs=model_inputs, outputs=latents, dtype=dtype, **kwargs)
        if dtype is not None:  # a functional model ignores `dtype`: the task layers built from it read it here
            self.dtype_policy = keras.dtype_policies.get(dtype)
        # Shapes are checked in `__call__` by the adapters, with messages that name the axis.
        self.input_spec = None

        # === Config ===
        self.use_input_mask = bool(use_input_mask)
        self.use_modality_mask = bool(use_modality_mask)
        self.modality_embedding_channels = modality_embedding_channels
        self.encoder_config = encoder_config
        #: Elements per input in the byte array, in byte-array order (`None`: variable).
        self.modality_sizes = {name: array.shape[1] for name, array in arrays.items()}

    @property
    def decoder_options(self) -> dict:
        """The encoder choices a task's decoder follows: its GELU variant and the fused attention path."""
        return {k: self.encoder_config[k] for k in ("gelu_approximate", "use_fused_attention")}

    # --- the byte array -------------------------------------------------------------------

    def _join(self, arrays: dict, masks: dict, modality_mask):
        """Per-input byte arrays (+ element masks, modality mask) -> `(B, M, C)` and a `(B, M)` mask or None."""
        if self.concatenate is None:
            (byte_array,) = arrays.values()
        else:
            byte_array = self.concatenate([self.paddings[name](array) for name, array in arrays.items()])
        if not masks and modality_mask is None:
            return byte_array, None
        parts = []
        for index, (name, array) in enumerate(arrays.items()):
            keep = masks.get(name)
            if keep is None:
                keep = ops.ones_like(array[:, :, 0], dtype="bool")
            else:
                keep = self.adapters[name].element_mask(keep)
            if modality_mask is not None:  # masks are bool: Inputs of dtype bool, or converted by `byte_array`
                keep = ops.logical_and(keep, modality_mask[:, index : index + 1])
            parts.append(keep)
        return byte_array, parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=1)

    def split_inputs(self, inputs) -> tuple[dict, dict, object]:
        """The model's inputs as `({name: data}, {name: element mask}, modality mask or None)`.

        Raises:
            ValueError: missing or unexpected input names, naming the expected ones.
        """
        expected = set(self.input_names)
        if self.single_input and not self.use_input_mask:
            if isinstance(inputs, dict):
                raise ValueError(f"{self.name} takes one tensor, not a dict. Received keys: {sorted(inputs)}")
            return {SINGLE_INPUT: inputs}, {}, None
        if not isinstance(inputs, dict) or set(inputs) != expected:
            received = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"{self.name} takes a dict with keys {sorted(expected)}. Received: {received}")
        if self.single_input:
            return {SINGLE_INPUT: inputs[SINGLE_INPUT]}, {SINGLE_INPUT: inputs[SINGLE_MASK]}, None
        data = {name: inputs[name] for name in self.adapters}
        masks = {name: inputs[mask_name(name)] for name in self.adapters if mask_name(name) in inputs}
        return data, masks, inputs.get(MODALITY_MASK)

    @property
    def input_names(self) -> list[str]:
        """Names of the model's inputs, e.g. `["inputs"]` or `["audio", "video", "modality_mask"]`."""
        inputs = self.input if isinstance(self.input, dict) else {SINGLE_INPUT: self.input}
        return list(inputs)

    def check_inputs(self, inputs, model_name: str | None = None) -> None:
        """Raise a ValueError naming the input and axis when `inputs` do not fit this backbone."""
        data, _, _ = self.split_inputs(inputs)
        for name, value in data.items():
            self.adapters[name].check_example_shape(tuple(value.shape[1:]), model_name or self.name)

    def byte_array(self, inputs):
        """Run the adapters only (eagerly or symbolically): `(byte array (B, M, C), mask (B, M) or None)`.

        The same layers as inside the model, so `encoder(*backbone.byte_array(x))` equals `backbone(x)`.
        """
        self.check_inputs(inputs)
        data, masks, modality_mask = self.split_inputs(inputs)
        masks = {name: ops.convert_to_tensor(mask, "bool") for name, mask in masks.items()}
        arrays = {name: _run_adapter(adapter, ops.convert_to_tensor(data[name], adapter.example_dtype), masks.get(name))
                  for name, adapter in self.adapters.items()}
        if modality_mask is not None:
            modality_mask = ops.convert_to_tensor(modality_mask, "bool")
        return self._join(arrays, masks, modality_mask)

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras wraps errors raised inside `call` with a dump of the arguments.
        self.check_inputs(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None, mask=None, **kwargs):
        # Checked again here: JAX's fit/evaluate/predict run `stateless_call`, which bypasses `__call__`.
        # `training` is named in the signature: Keras' trainers pass `training=True` only to a model
        # whose `call` declares it (`_call_has_training_arg`); hidden in `**kwargs` it was never passed,
        # so `fit` ran dropout, batch normalisation and the cross-attention's recomputed gradient as
        # in inference.
        self.check_inputs(inputs)
        return super().call(inputs, training=training, mask=mask, **kwargs)

    # --- config and presets ----------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        adapters = {name: keras.saving.serialize_keras_object(a) for name, a in self.adapters.items()}
        config.update(
            adapters=adapters[SINGLE_INPUT] if self.single_input else adapters,
            use_input_mask=self.use_input_mask,
            use_modality_mask=self.use_modality_mask,
            modality_embedding_channels=self.modality_embedding_channels,
            **self.encoder_config,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = deserialize_dtype(config)
        adapters = config["adapters"]
        if isinstance(adapters, dict) and "class_name" in adapters:
            config["adapters"] = keras.saving.deserialize_keras_object(adapters)
        else:
            config["adapters"] = {n: keras.saving.deserialize_keras_object(a) for n, a in adapters.items()}
        return cls(**config)

    @classmethod
    def from_preset(cls, preset: str, input_shape=None, input_kind=None, **overrides) -> "PerceiverBackbone":
        """The backbone of a named preset (`perceiver_tf.list_presets()`), for `input_shape` (default: the
        preset's reference shape); `overrides` replace any constructor argument, e.g. `num_latents=64`."""
        return cls(**backbone_kwargs(preset, input_shape, input_kind, overrides))

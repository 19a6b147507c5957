"""transformers' Perceiver architectures as perceiver_tf models: how to build each and where its tensors go.

Every supported `config.architectures[0]` maps to an `Architecture`: `build` makes the Keras model
(with the metadata a converted model carries) from `config.json`, `assign` copies the state dict
into it. transformers' encoder is one cross-attend followed by `num_blocks` applications of one
shared stack of `num_self_attends_per_block` self-attends: perceiver_tf's `num_cross_attends=1`,
`share_latent_transformer=True`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras

from perceiver_tf.convert.checkpoint import Checkpoint, ConversionError
from perceiver_tf.convert.weights import WeightAssigner
from perceiver_tf.data.model_inputs import describe_inputs
from perceiver_tf.data.preprocessing import imagenet_preprocessing
from perceiver_tf.data.processors import processor_from_config
from perceiver_tf.models import PerceiverBackbone, PerceiverClassifier, PerceiverMaskedLM, PerceiverOpticalFlow

#: "exact": erf GELU, as transformers evaluates the official checkpoints (`hidden_act="gelu"`); "tanh":
#: the tanh approximation DeepMind trained with (`jax.nn.gelu`).
GELU_VARIANTS = ("exact", "tanh")
#: transformers' `hidden_act` names of the two GELUs.
HIDDEN_ACTS = {"gelu": "exact", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh"}
#: State-dict key suffixes with no Keras counterpart: torch's batch-norm step counter.
NOT_NEEDED = ("num_batches_tracked",)
#: The ImageNet models' resize target and centre-crop fraction when neither preprocessor_config.json nor
#: config.json's `image_size` says otherwise.
DEFAULT_IMAGE_SIZE, DEFAULT_CROP_FRACTION = 224, 224 / 256


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One transformers Perceiver class.

    Attributes:
        name: the class in `config.architectures`, e.g. "PerceiverForImageClassificationFourier".
        preset: the perceiver_tf preset of the official checkpoint's configuration.
        adapter: `PerceiverBackbone` arguments of the input (fixed by the transformers class).
        build: `(checkpoint, settings) -> keras.Model` with metadata.
        assign: `(assigner, model) -> None`, the input- and output-side tensors (the encoder is common).
    """

    name: str
    preset: str
    adapter: dict
    build: Callable
    assign: Callable


# --- configuration ---------------------------------------------------------------------------


def _require(config: dict, key: str):
    if key not in config:
        raise ConversionError(f"config.json has no {key!r}, which a Perceiver config always has.")
    return config[key]


def gelu_of(config: dict, gelu: str | None) -> str:
    """`gelu`, or (for `None`) the GELU that transformers evaluates for `config["hidden_act"]`."""
    if gelu is not None:
        if gelu not in GELU_VARIANTS:
            raise ConversionError(f"Unknown gelu {gelu!r}. Valid: {', '.join(GELU_VARIANTS)}")
        return gelu
    act = config.get("hidden_act", "gelu")
    if act not in HIDDEN_ACTS:
        raise ConversionError(f"hidden_act={act!r} is not supported; Perceiver checkpoints use one of "
                              f"{', '.join(HIDDEN_ACTS)}.")
    return HIDDEN_ACTS[act]


def encoder_arguments(config: dict, gelu: str) -> dict:
    """`PerceiverBackbone` encoder arguments equivalent to a transformers `PerceiverConfig` (`gelu` resolved)."""
    shape_for_attention = config.get("cross_attention_shape_for_attention", "kv")
    if shape_for_attention not in ("kv", "q"):
        raise ConversionError(f"cross_attention_shape_for_attention={shape_for_attention!r} is not 'kv' or 'q'.")
    qk, v = config.get("qk_channels"), config.get("v_channels")
    latent_dim = _require(config, "d_latents")
    cross_qk = qk if qk is not None or shape_for_attention == "kv" else latent_dim
    return dict(
        num_latents=_require(config, "num_latents"), latent_dim=latent_dim,
        num_blocks=_require(config, "num_blocks"), num_cross_attends=1,
        num_self_attends_per_block=_require(config, "num_self_attends_per_block"),
        num_cross_attention_heads=_require(config, "num_cross_attention_heads"),
        num_self_attention_heads=_require(config, "num_self_attention_heads"),
        cross_attention_qk_channels=cross_qk, cross_attention_v_channels=v,
        self_attention_qk_channels=qk, self_attention_v_channels=v,
        cross_attend_widening_factor=config.get("cross_attention_widening_factor", 1),
        self_attend_widening_factor=config.get("self_attention_widening_factor", 1),
        share_latent_transformer=True, use_query_residual=config.get("use_query_residual", True),
        gelu_approximate=gelu == "tanh",
    )


def _converted_from(checkpoint: Checkpoint, gelu: str) -> dict:
    return {"source": checkpoint.source, "architecture": checkpoint.config["architectures"][0], "gelu": gelu}


# --- the encoder, shared by every architecture ------------------------------------------------


def assign_attention(assigner: WeightAssigner, attention, prefix: str) -> None:
    """transformers' `PerceiverAttention` (`prefix.self.{query,key,value}`, `prefix.output.dense`)."""
    assigner.dense(attention.query_dense, f"{prefix}.self.query")
    assigner.dense(attention.key_dense, f"{prefix}.self.key")
    assigner.dense(attention.value_dense, f"{prefix}.self.value")
    assigner.dense(attention.output_dense, f"{prefix}.output.dense")


def assign_mlp(assigner: WeightAssigner, block, prefix: str) -> None:
    assigner.layer_norm(block.mlp_norm, f"{prefix}.layernorm")
    assigner.dense(block.mlp.hidden_dense, f"{prefix}.mlp.dense1")
    assigner.dense(block.mlp.output_dense, f"{prefix}.mlp.dense2")


def assign_cross_attention(assigner: WeightAssigner, block, prefix: str) -> None:
    """A cross-attending `PerceiverLayer`: layernorm1 (queries), layernorm2 (inputs), attention, MLP."""
    assigner.layer_norm(block.latent_norm, f"{prefix}.attention.self.layernorm1")
    assigner.layer_norm(block.input_norm, f"{prefix}.attention.self.layernorm2")
    assign_attention(assigner, block.attention, f"{prefix}.attention")
    assign_mlp(assigner, block, prefix)


def assign_encoder(assigner: WeightAssigner, encoder) -> None:
    """Latents, the cross-attend and the shared self-attends of `perceiver.encoder`."""
    assigner.assign(encoder.latents, "perceiver.embeddings.latents")
    assign_cross_attention(assigner, encoder.cross_attentions[0], "perceiver.encoder.cross_attention")
    for index, block in enumerate(encoder.latent_transformers[0].blocks):
        prefix = f"perceiver.encoder.self_attends.{index}"
        assigner.layer_norm(block.attention_norm, f"{prefix}.attention.self.layernorm1")
        assign_attention(assigner, block.attention, f"{prefix}.attention")
        assign_mlp(assigner, block, prefix)


# --- image classification -----------------------------------------------------------------------


def _image_settings(checkpoint: Checkpoint, learned: bool, image_size: int | None) -> tuple[int, float]:
    """`(side, crop fraction)` of the model input: `image_size` if given, else the preprocessor config's
    size and crop, else config.json's `image_size` (224 without one), with ImageNet's 224/256 crop."""
    size, fraction = int(checkpoint.config.get("image_size") or DEFAULT_IMAGE_SIZE), DEFAULT_CROP_FRACTION
    prep = checkpoint.preprocessor or {}
    if isinstance(prep.get("size"), dict) and "height" in prep["size"]:
        size = int(prep["size"]["height"])
        crop = prep.get("crop_size")
        if isinstance(crop, dict) and crop.get("height"):
            fraction = min(1.0, size / int(crop["height"]))
    if learned:  # the learned position table fixes the grid
        trained = int(_require(checkpoint.config, "image_size"))
        if image_size not in (None, trained):
            raise ConversionError(f"image_size={image_size}: the learned position table of this checkpoint is for "
                                  f"{trained} x {trained} images; omit image_size.")
        size = trained
    elif image_size is not None:
        size = int(image_size)
    return size, fraction


def build_image_classifier(architecture: Architecture, checkpoint: Checkpoint, gelu: str,
                           image_size: int | None = None) -> PerceiverClassifier:
    """A `PerceiverClassifier` (learned-query decoder) carrying ImageNet preprocessing and the class names."""
    config = checkpoint.config
    side, fraction = _image_settings(checkpoint, architecture.adapter.get("position_encoding") == "learned", image_size)
    id2label = config.get("id2label") or {}
    num_classes = int(config.get("num_labels") or len(id2label))
    class_names = [str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(num_classes)]
    preprocessing = imagenet_preprocessing(side, fraction)
    metadata = {
        "class_names": class_names, "modality": "image", "preprocessing": preprocessing, "multi_label": False,
        "inputs": describe_inputs(processor_from_config(preprocessing)),
        "converted_from": _converted_from(checkpoint, gelu),
    }
    backbone = PerceiverBackbone(input_shape=(side, side, 3), input_kind="image", **architecture.adapter,
                                 **encoder_arguments(config, gelu), name="backbone")
    return PerceiverClassifier(backbone, num_classes, decoder="query", metadata=metadata, name="perceiver_classifier")


def assign_basic_decoder(assigner: WeightAssigner, decoder, prefix: str) -> None:
    """transformers' `PerceiverBasicDecoder` into a `PerceiverDecoder`: the cross-attention and, with
    `final_project`, the final layer (its queries live elsewhere: each task assigns its own)."""
    assign_cross_attention(assigner, decoder.cross_attention, f"{prefix}.decoding_cross_attention")
    if decoder.final_project:
        assigner.dense(decoder.output_dense, f"{prefix}.final_layer")


def assign_classification_decoder(assigner: WeightAssigner, model: PerceiverClassifier) -> None:
    prefix = "perceiver.decoder.decoder"
    assigner.assign(model.head.queries.queries, f"{prefix}.output_position_encodings.position_embeddings")
    assign_basic_decoder(assigner, model.head.decoder, prefix)


def assign_fourier_inputs(assigner: WeightAssigner, model: PerceiverClassifier) -> None:
    """Pixels + Fourier features: no input-side weights."""
    assign_classification_decoder(assigner, model)


def assign_learned_inputs(assigner: WeightAssigner, model: PerceiverClassifier) -> None:
    adapter = model.backbone.adapters["inputs"]
    prefix = "perceiver.input_preprocessor"
    assigner.conv2d(adapter.conv_stem, f"{prefix}.convnet_1x1")
    assigner.assign(adapter.positions.position_embeddings, f"{prefix}.position_embeddings.position_embeddings")
    assigner.dense(adapter.positions.projection, f"{prefix}.positions_projection")
    assign_classification_decoder(assigner, model)


def assign_conv_inputs(assigner: WeightAssigner, model: PerceiverClassifier) -> None:
    stem = model.backbone.adapters["inputs"].conv_stem
    assigner.conv2d(stem.conv, "perceiver.input_preprocessor.convnet.conv")
    assigner.batch_norm(stem.batchnorm, "perceiver.input_preprocessor.convnet.batchnorm")
    assign_classification_decoder(assigner, model)


# --- masked language modelling ------------------------------------------------------------------


def build_masked_lm(architecture: Architecture, checkpoint: Checkpoint, gelu: str,
                    image_size: int | None = None) -> PerceiverMaskedLM:
    """A `PerceiverMaskedLM` on `max_position_embeddings` byte tokens (transformers pads to that length)."""
    if image_size is not None:
        raise ConversionError("image_size applies to image checkpoints; this one is a language model.")
    config = checkpoint.config
    length = int(_require(config, "max_position_embeddings"))
    backbone = PerceiverBackbone(
        input_shape=(length,), input_kind="text", vocab_size=int(_require(config, "vocab_size")),
        embedding_channels=int(_require(config, "d_model")), max_positions=length, use_input_mask=True,
        **encoder_arguments(config, gelu), name="backbone",
    )
    metadata = {"modality": "text", "tokenizer": {"name": "bytes", "max_length": length},
                "converted_from": _converted_from(checkpoint, gelu)}
    # transformers' PerceiverForMaskedLM: 8 decoder heads, qk 8 x 32, values at the embedding width.
    return PerceiverMaskedLM(backbone, num_decoder_heads=8, decoder_qk_channels=256, metadata=metadata,
                             name="perceiver_masked_lm")


def assign_masked_lm(assigner: WeightAssigner, model: PerceiverMaskedLM) -> None:
    adapter = model.backbone.adapters["inputs"]
    assigner.embedding(adapter.token_embedding, "perceiver.input_preprocessor.embeddings.weight")
    assigner.embedding(adapter.position_embedding, "perceiver.input_preprocessor.position_embeddings.weight")
    assigner.assign(model.queries.queries, "perceiver.decoder.output_position_encodings.position_embeddings")
    assign_basic_decoder(assigner, model.decoder, "perceiver.decoder")
    assigner.assign(model.logits.bias, "embedding_decoder.bias")


# --- optical flow ----------------------------------------------------------------------------------


def build_optical_flow(architecture: Architecture, checkpoint: Checkpoint, gelu: str,
                       image_size: int | None = None) -> PerceiverOpticalFlow:
    """A `PerceiverOpticalFlow` on `config.train_size` pixels of 54 features (both frames' 3x3 patches)."""
    if image_size is not None:
        raise ConversionError("image_size applies to image classifiers; the flow model's size is config.train_size.")
    config = checkpoint.config
    height, width = (int(s) for s in _require(config, "train_size"))
    backbone = PerceiverBackbone(input_shape=(height, width, 54), input_kind="image", **architecture.adapter,
                                 max_resolution=[height, width], **encoder_arguments(config, gelu), name="backbone")
    metadata = {"modality": "optical_flow", "inputs": {"inputs": {
        "dtype": "float32", "shape": [height, width, 54],
        "holds": "3x3 RGB patches of both frames, frame-major (perceiver_tf.flow_pixel_features)"}},
        "converted_from": _converted_from(checkpoint, gelu)}
    return PerceiverOpticalFlow(backbone, output_channels=2, rescale_factor=100.0, metadata=metadata,
                                name="perceiver_optical_flow")


def assign_optical_flow(assigner: WeightAssigner, model: PerceiverOpticalFlow) -> None:
    stem = model.backbone.adapters["inputs"].conv_stem  # transformers' Linear over the 54 channels = a 1x1 conv
    assigner.assign(stem.kernel, "perceiver.input_preprocessor.conv_after_patches.weight",
                    lambda weight: weight.T[None, None])
    assigner.assign(stem.bias, "perceiver.input_preprocessor.conv_after_patches.bias")
    assign_basic_decoder(assigner, model.decoder, "perceiver.decoder.decoder")


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("PerceiverForImageClassificationFourier", "perceiver_io_imagenet",
                     dict(num_bands=64, max_resolution=[224, 224]), build_image_classifier, assign_fourier_inputs),
        Architecture("PerceiverForImageClassificationLearned", "vision_perceiver_learned",
                     dict(preprocessor="conv1x1", preprocessor_channels=256, position_encoding="learned",
                          learned_position_channels=256, learned_position_projection=256),
                     build_image_classifier, assign_learned_inputs),
        Architecture("PerceiverForImageClassificationConvProcessing", "vision_perceiver_conv",
                     dict(preprocessor="conv", preprocessor_channels=64, conv_pool_padding="valid",
                          conv_padding="symmetric", num_bands=64, max_resolution=[56, 56]),
                     build_image_classifier, assign_conv_inputs),
        Architecture("PerceiverForMaskedLM", "language_perceiver", {}, build_masked_lm, assign_masked_lm),
        Architecture("PerceiverForOpticalFlow", "optical_flow_perceiver",
                     dict(preprocessor="conv1x1", preprocessor_channels=64, num_bands=64),
                     build_optical_flow, assign_optical_flow),
    )
}


def architecture_of(config: dict) -> Architecture:
    """The `Architecture` of `config.architectures[0]`.

    Raises:
        ConversionError: no `architectures` entry, or one perceiver_tf does not convert (naming those it does).
    """
    names = config.get("architectures") or []
    if not names:
        raise ConversionError("config.json has no 'architectures' entry, so the model class is unknown; add e.g. "
                              '"architectures": ["PerceiverForImageClassificationFourier"].')
    if names[0] not in ARCHITECTURES:
        raise ConversionError(f"architecture {names[0]!r} is not supported. Supported: {', '.join(ARCHITECTURES)}.")
    return ARCHITECTURES[names[0]]


def build_and_assign(checkpoint: Checkpoint, gelu: str | None = None,
                     image_size: int | None = None) -> tuple[keras.Model, WeightAssigner]:
    """The converted Keras model of `checkpoint` and the bookkeeping that proves every tensor was used
    once and every variable set once (`WeightAssigner.used` / `.assigned`)."""
    architecture = architecture_of(checkpoint.config)
    gelu = gelu_of(checkpoint.config, gelu)
    model = architecture.build(architecture, checkpoint, gelu, image_size)
    assigner = WeightAssigner(checkpoint.tensors, checkpoint.source)
    assign_encoder(assigner, model.backbone.encoder)
    architecture.assign(assigner, model)
    assigner.finish(model, not_needed=NOT_NEEDED)
    return model, assigner

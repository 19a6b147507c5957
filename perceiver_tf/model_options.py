"""What `train` checks before TensorFlow loads: the presets with the task each builds, and the model
keys `set=` / `--set` accepts. Importing this module loads nothing else, so `--preset nosuch` is refused
at once; tests/test_model_options.py keeps these in step with `perceiver_tf.models`."""

#: How a sequence becomes tokens (`SequenceAdapter(sequence_tokens=...)`, `--sequence-tokens`).
SEQUENCE_TOKENS = ("steps", "patches", "conv", "channels", "fcn")
#: `{preset: the task it builds}`, in `perceiver-tf presets` order.
PRESET_TASKS = {
    "tiny": "classifier",
    "small": "classifier",
    "imagenet": "classifier",
    "imagenet_unshared": "classifier",
    "perceiver_io_imagenet": "classifier",
    "vision_perceiver_learned": "classifier",
    "vision_perceiver_conv": "classifier",
    "language_perceiver": "masked_lm",
    "optical_flow_perceiver": "optical_flow",
    "audioset": "classifier",
    "audioset_raw": "classifier",
    "audioset_mel": "classifier",
    "audioset_video": "classifier",
    "audioset_av": "classifier",
    "modelnet40": "classifier",
}
#: The backbone"s keys (encoder and input adapters), as `models.presets.BACKBONE_KEYS`.
BACKBONE_KEYS = frozenset({
    "attention_dropout_rate", "concat_pos", "conv_padding", "conv_pool_padding", "cross_attend_widening_factor",
    "cross_attention_chunk_size", "cross_attention_qk_channels", "cross_attention_v_channels", "dropout_rate",
    "dtype", "embedding_channels", "gelu_approximate", "latent_dim", "learned_position_channels",
    "learned_position_projection", "max_positions", "max_resolution", "modality_embedding_channels",
    "num_bands", "num_blocks", "num_cross_attends", "num_cross_attention_heads", "num_latents",
    "num_self_attends_per_block", "num_self_attention_heads", "patch_size", "pixel_permutation_seed",
    "position_encoding", "preprocessor", "preprocessor_channels", "self_attend_widening_factor",
    "self_attention_qk_channels", "self_attention_v_channels", "sequence_tokens", "share_cross_attention",
    "share_latent_transformer", "sine_only", "spacing", "use_fused_attention", "use_input_mask",
    "use_modality_mask", "use_query_residual", "vocab_size"
})
#: The classifier head"s keys, as `PerceiverClassifier.task_keys`.
CLASSIFIER_KEYS = frozenset({
    "activation", "decoder", "head_kernel_initializer", "multi_label", "num_classes", "num_decoder_heads",
    "query_channels"
})

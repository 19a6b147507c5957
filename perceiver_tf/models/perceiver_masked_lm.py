"""`PerceiverMaskedLM`: Perceiver IO masked language modelling on UTF-8 bytes (embedding-tied decoder)."""

from __future__ import annotations

from perceiver_tf.adapters.text import TextAdapter
from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.layers.embedding_logits import EmbeddingLogits
from perceiver_tf.layers.perceiver_decoder import OutputQueries, PerceiverDecoder
from perceiver_tf.models.perceiver_backbone import SINGLE_INPUT, PerceiverBackbone
from perceiver_tf.models.perceiver_task import PerceiverTask, require_backbone


@register
class PerceiverMaskedLM(PerceiverTask):
    """Predict every position's token: learned position queries decode the latents to vocabulary logits.

    Graph: token ids `(B, L)` [+ `input_mask`] -> `backbone` (a `TextAdapter`: token + position
    embeddings, then the encoder) -> latents `(B, N, D)`; `queries` (`(P, E)` learned, one per
    position of the adapter's table, P = `max_positions`) -> `decoder` (cross-attention to the
    latents, no final projection) `(B, P, E)` -> `logits` through the adapter's token embedding
    (tied, plus a bias) `(B, P, V)`. The layout of `deepmind/language-perceiver` (Perceiver IO
    Sec. 4.1, transformers' `PerceiverForMaskedLM`); positions past L decode too, as there.

    Args:
        backbone: a single-input `PerceiverBackbone` whose adapter is a `TextAdapter`.
        num_decoder_heads: decoder cross-attention heads (8).
        decoder_qk_channels: decoder query/key width (256); `None`: the latent width D.
        decoder_v_channels: decoder value width; `None`: the embedding width E.
        metadata: saved with the model (see `PerceiverTask`).

    Returns:
        `(B, max_positions, vocab_size)` float32 logits.
    """

    task_keys = ("num_decoder_heads", "decoder_qk_channels", "decoder_v_channels")

    def __init__(self, backbone: PerceiverBackbone, num_decoder_heads: int = 8, decoder_qk_channels: int | None = 256,
                 decoder_v_channels: int | None = None, metadata: dict | None = None, **kwargs):
        # === Validate ===
        require_backbone(backbone)
        adapter = backbone.adapters.get(SINGLE_INPUT) if backbone.single_input else None
        if not isinstance(adapter, TextAdapter):
            raise ValueError("PerceiverMaskedLM needs a backbone with one TextAdapter (input_kind='text'). "
                             f"Received adapters: {sorted(backbone.adapters)}")
        require_positive_int(num_decoder_heads, "num_decoder_heads")

        # === Layers ===
        dtype = backbone.dtype_policy
        width = adapter.embedding_channels
        self.queries = OutputQueries((adapter.max_positions,), learned_channels=width, dtype=dtype, name="queries")
        self.decoder = PerceiverDecoder(
            width, num_heads=num_decoder_heads, qk_channels=decoder_qk_channels,
            v_channels=decoder_v_channels or width, use_query_residual=False, final_project=False,
            **backbone.decoder_options, dtype=dtype, name="decoder",
        )
        self.logits = EmbeddingLogits(adapter.vocab_size, dtype=dtype, name="logits")
        self.logits.tie(adapter.token_embedding)

        # === Functional Model ===
        latents = backbone(backbone.input)
        outputs = self.logits(self.decoder(self.queries(latents), latents))
        super().__init__(backbone, outputs, metadata=metadata, **kwargs)

        # === Config ===
        self.num_decoder_heads = num_decoder_heads
        self.decoder_qk_channels = decoder_qk_channels
        self.decoder_v_channels = decoder_v_channels

    def get_config(self):
        config = super().get_config()
        config.update(num_decoder_heads=self.num_decoder_heads, decoder_qk_channels=self.decoder_qk_channels,
                      decoder_v_channels=self.decoder_v_channels)
        return config

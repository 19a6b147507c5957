"""`PerceiverClassifier`: a `PerceiverBackbone` + a mean-pool head or a learned-query decoder."""

from __future__ import annotations

from perceiver_tf.layers import ClassificationDecoder, ClassificationHead
from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.models.perceiver_backbone import PerceiverBackbone
from perceiver_tf.models.perceiver_task import PerceiverTask, require_backbone

DECODERS = ("mean", "query")
ACTIVATIONS = (None, "softmax", "sigmoid")


@register
class PerceiverClassifier(PerceiverTask):
    """Classification on the Perceiver's latents: single-label (softmax) or multi-label (sigmoid).

    Graph: `inputs` -> `backbone` (latents `(B, N, D)`) -> `head` -> `(B, num_classes)`.
    `decoder="mean"` is the Perceiver's head (mean over latents, Dense, zero-initialised);
    `decoder="query"` is Perceiver IO's `ClassificationDecoder` (a learned query attends to the
    latents; config A).

    Args:
        backbone: a `PerceiverBackbone`.
        num_classes: number of classes (>= 1).
        decoder: "mean" or "query".
        activation: `None` (logits, default), "softmax" or "sigmoid".
        multi_label: the classes are independent labels (AudioSet): probabilities are
            `sigmoid(logits)` and the CLI trains with binary cross-entropy; else softmax.
        head_kernel_initializer: the mean-pool head's kernel init ("zeros", as DeepMind).
        query_channels / num_decoder_heads: the query decoder's width (default D) and heads (1).
        metadata: saved with the model (see `PerceiverTask`).

    Returns:
        `(B, num_classes)` float32 logits (or probabilities with an `activation`).

    Example:
        >>> model = PerceiverClassifier.from_preset("tiny", input_shape=(8, 8, 1), num_classes=10)
        >>> model.output_shape
        (None, 10)
    """

    task_keys = ("num_classes", "decoder", "activation", "multi_label", "head_kernel_initializer", "query_channels",
                 "num_decoder_heads")

    def __init__(
        self,
        backbone: PerceiverBackbone,
        num_classes: int,
        decoder: str = "mean",
        activation: str | None = None,
        multi_label: bool = False,
        head_kernel_initializer: str = "zeros",
        query_channels: int | None = None,
        num_decoder_heads: int = 1,
        metadata: dict | None = None,
        **kwargs,
    ):
        # === Validate ===
        require_backbone(backbone)
        require_positive_int(num_classes, "num_classes")
        if decoder not in DECODERS:
            raise ValueError(f"Unknown decoder {decoder!r}. Valid: {', '.join(DECODERS)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"`activation` must be one of {ACTIVATIONS}. Received: activation={activation!r}")
        if activation == "softmax" and multi_label:
            raise ValueError("A multi-label classifier scores each class independently: use activation=None or 'sigmoid'.")

        # === Layers ===
        dtype = backbone.dtype_policy
        if decoder == "mean":
            head = ClassificationHead(num_classes, activation=activation, kernel_initializer=head_kernel_initializer,
                                      dtype=dtype, name="head")
        else:
            head = ClassificationDecoder(num_classes, query_channels=query_channels, num_heads=num_decoder_heads,
                                         **backbone.decoder_options, activation=activation, dtype=dtype,
                                         name="head")

        # === Functional Model ===
        outputs = head(backbone(backbone.input))
        super().__init__(backbone, outputs, metadata=metadata, **kwargs)

        # === Config ===
        self.head = head
        self.num_classes = num_classes
        self.decoder = decoder
        self.activation = activation
        self.multi_label = bool(multi_label or activation == "sigmoid")
        self.head_kernel_initializer = head_kernel_initializer
        self.query_channels = query_channels
        self.num_decoder_heads = num_decoder_heads

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, decoder=self.decoder, activation=self.activation,
            multi_label=self.multi_label, head_kernel_initializer=self.head_kernel_initializer,
            query_channels=self.query_channels, num_decoder_heads=self.num_decoder_heads,
        )
        return config

    @classmethod
    def preset_task_kwargs(cls, spec, task: dict) -> dict:
        return {"num_classes": spec.reference_num_classes, **spec.classifier, **task}

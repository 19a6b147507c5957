"""Small random transformers Perceiver checkpoints, their inputs and their reference outputs (torch).

Every parameter is drawn away from its initial value (non-zero biases, LayerNorm scales away
from 1 and offsets away from 0, non-trivial batch-norm statistics), so a tensor copied to the
wrong place or not at all changes the outputs.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

_ENCODER = dict(num_latents=4, d_latents=16, num_blocks=2, num_self_attends_per_block=2, num_cross_attention_heads=1,
                num_self_attention_heads=2)
_IMAGE = dict(_ENCODER, num_labels=3, id2label={0: "cat", 1: "dog", 2: "fish"},
              label2id={"cat": 0, "dog": 1, "fish": 2})
#: kind -> (transformers class name, config overrides, input image side or text length). The sides are
#: multiples of 7, so that transformers' image processor can crop 256/224 of them in whole pixels.
CASES = {
    "fourier": ("PerceiverForImageClassificationFourier", dict(_IMAGE, d_model=261), 14),
    "learned": ("PerceiverForImageClassificationLearned", dict(_IMAGE, d_model=512, image_size=7), 7),
    "conv": ("PerceiverForImageClassificationConvProcessing", dict(_IMAGE, d_model=322), 28),
    "masked_lm": ("PerceiverForMaskedLM", dict(_ENCODER, d_model=24, max_position_embeddings=12, qk_channels=8,
                                               v_channels=16, num_cross_attention_heads=2), 12),
    "optical_flow": ("PerceiverForOpticalFlow", dict(_ENCODER, d_model=322, train_size=[6, 8]), 6),
}
IMAGE_KINDS = ("fourier", "learned", "conv")


def randomize(model) -> None:
    """Draw every floating tensor of `model`'s state dict away from its initialisation."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if key.endswith("running_var"):
                tensor.copy_(0.5 + noise.abs())
            elif "layernorm" in key and key.endswith("weight"):
                tensor.copy_(1.0 + 0.3 * noise)
            else:
                tensor.copy_(0.1 + 0.3 * noise)


def tiny_model(kind: str, hidden_act: str = "gelu"):
    """The randomized transformers model of `kind` in eval mode."""
    name, overrides, _ = CASES[kind]
    config = transformers.PerceiverConfig(**overrides, hidden_act=hidden_act)
    model = getattr(transformers, name)(config).eval()
    randomize(model)
    return model


def save_tiny_checkpoint(kind: str, folder, hidden_act: str = "gelu"):
    """`save_pretrained` the randomized model of `kind` into `folder`; returns the torch model."""
    model = tiny_model(kind, hidden_act)
    model.save_pretrained(str(folder))
    return model


def example_inputs(kind: str, batch: int = 2, seed: int = 0) -> dict:
    """Inputs of `kind` in both layouts: `{"torch": kwargs, "keras": model inputs}`.

    Images: `(B, 3, S, S)` for torch, `(B, S, S, 3)` for Keras. Text: random byte ids with the
    second example's last third masked out (padding). Optical flow: `(B, 2, 27, H, W)` patches for
    torch, `flow_pixel_features` of them for Keras.
    """
    rng = np.random.default_rng(seed)
    side_or_length = CASES[kind][2]
    if kind == "optical_flow":  # transformers' layout: 3x3 RGB patches of both frames, channels first
        from perceiver_tf import flow_pixel_features

        patches = rng.normal(size=(batch, 2, 27, *CASES[kind][1]["train_size"])).astype("float32")
        return {"torch": dict(inputs=torch.tensor(patches)), "keras": np.asarray(flow_pixel_features(patches))}
    if kind == "masked_lm":
        ids = rng.integers(0, 262, (batch, side_or_length)).astype("int32")
        mask = np.ones((batch, side_or_length), bool)
        mask[1, 2 * side_or_length // 3:] = False
        return {"torch": dict(inputs=torch.tensor(ids, dtype=torch.long),
                              attention_mask=torch.tensor(mask.astype("int64"))),
                "keras": {"inputs": ids, "input_mask": mask}}
    pixels = rng.normal(size=(batch, side_or_length, side_or_length, 3)).astype("float32")
    return {"torch": dict(inputs=torch.tensor(pixels.transpose(0, 3, 1, 2).copy())), "keras": pixels}


def reference_outputs(model, inputs: dict) -> np.ndarray:
    """transformers' logits for `example_inputs(...)`."""
    with torch.no_grad():
        return model(**inputs["torch"]).logits.numpy()


def image_size(kind: str) -> int | None:
    """The `image_size` to convert `kind` with (`None`: fixed by the checkpoint, or not an image)."""
    return CASES[kind][2] if kind in ("fourier", "conv") else None


def transformers_parameter_count(model) -> int:
    """Parameters + batch-norm statistics (Keras counts them as non-trainable weights; not the step counter)."""
    buffers = sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    return sum(p.numel() for p in model.parameters()) + buffers

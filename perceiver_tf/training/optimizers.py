"""The paper's optimizer recipe: LAMB, decoupled weight decay, global-norm clipping, cosine decay."""

from __future__ import annotations

import keras

OPTIMIZERS = ("lamb", "adamw")

#: Variables that get no weight decay: biases, LayerNorm scales/offsets, position tables.
NO_DECAY_VARIABLE_NAMES = ["bias", "gamma", "beta", "position_embeddings"]


def make_optimizer(
    name: str = "lamb",
    learning_rate: float = 4e-3,
    total_steps: int = 1000,
    warmup_steps: int = 0,
    weight_decay: float = 0.1,
    global_clipnorm: float | None = 10.0,
) -> keras.optimizers.Optimizer:
    """An optimizer with a (warm-up +) cosine-decay schedule.

    Defaults follow the paper's ImageNet recipe (LAMB, lr 0.004, no warm-up, weight decay 0.1,
    global-norm clipping 10).

    Args:
        name: "lamb" (paper) or "adamw".
        learning_rate: peak learning rate.
        total_steps: optimizer steps of the whole run (decay length, warm-up included).
        warmup_steps: linear warm-up steps from 0 to `learning_rate`.
        weight_decay: decoupled weight decay (not applied to biases, LayerNorm, position tables).
        global_clipnorm: clip gradients to this global norm; `None` disables clipping.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}. Valid: {', '.join(OPTIMIZERS)}")
    if learning_rate <= 0:
        raise ValueError(f"`learning_rate` must be > 0. Received: learning_rate={learning_rate}")
    if not 0 <= warmup_steps < max(total_steps, 1):
        raise ValueError(
            f"`warmup_steps` must be in [0, total_steps). Received: warmup_steps={warmup_steps}, total_steps={total_steps}"
        )
    if warmup_steps:
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, total_steps - warmup_steps, warmup_target=learning_rate, warmup_steps=warmup_steps
        )
    else:
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(total_steps, 1))
    optimizer_class = keras.optimizers.Lamb if name == "lamb" else keras.optimizers.AdamW
    optimizer = optimizer_class(
        learning_rate=schedule, weight_decay=weight_decay, global_clipnorm=global_clipnorm
    )
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY_VARIABLE_NAMES)
    return optimizer

"""`PerceiverIO`: a `PerceiverBackbone` + one query decoder per output task (dense, multi-task outputs)."""

from __future__ import annotations

import inspect

import keras

from perceiver_tf.layers.common import register
from perceiver_tf.layers.perceiver_decoder import OutputQueries, PerceiverDecoder
from perceiver_tf.models.perceiver_backbone import PerceiverBackbone
from perceiver_tf.models.perceiver_task import PerceiverTask, require_backbone


def _init_args(cls) -> set[str]:
    return {n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "kwargs")}


QUERY_KEYS = _init_args(OutputQueries)
DECODER_KEYS = _init_args(PerceiverDecoder)
OUTPUT_KEYS = QUERY_KEYS | DECODER_KEYS | {"activation"}


@register
class PerceiverIO(PerceiverTask):
    """Perceiver IO: output queries cross-attend to the latents, one decoder per task; dict outputs.

    Graph: `inputs` -> `backbone` (latents `(B, N, D)`); for every task `t`: `t_queries`
    `(B, O_t, E_t)` -> `t_decoder` `(B, O_t, C_t)` [-> activation] -> output `t`, shaped
    `(B, *index_dims_t, C_t)` (`(B, C_t)` for `index_dims=()`).

    Args:
        backbone: a `PerceiverBackbone`.
        tasks: `{name: spec}`; each spec holds `output_channels`, the `OutputQueries` arguments
            (`index_dims`, `num_bands`, `max_resolution`, `concat_pos`, `sine_only`,
            `learned_channels`), any `PerceiverDecoder` argument (`num_heads`,
            `use_query_residual`, `widening_factor`, ...) and optionally `activation`.
            Dense per-pixel output: `{"index_dims": (H, W), "num_bands": 32, "output_channels": 3}`;
            classification: `{"index_dims": (), "learned_channels": 256, "output_channels": 10}`.
        metadata: saved with the model (see `PerceiverTask`).

    Returns:
        `{name: (B, *index_dims, output_channels)}`, float32.
    """

    task_keys = ("tasks",)

    def __init__(self, backbone: PerceiverBackbone, tasks: dict[str, dict], metadata: dict | None = None, **kwargs):
        # === Validate ===
        require_backbone(backbone)
        if not isinstance(tasks, dict) or not tasks:
            raise ValueError(f"`tasks` must be a non-empty dict of name -> spec. Received: tasks={tasks!r}")
        tasks = {name: dict(spec) for name, spec in tasks.items()}
        for name, spec in tasks.items():
            unknown = sorted(set(spec) - OUTPUT_KEYS)
            if unknown or "output_channels" not in spec:
                raise ValueError(
                    f"Task {name!r} needs `output_channels` and only these keys: {', '.join(sorted(OUTPUT_KEYS))}. "
                    f"Received: unknown={unknown}, keys={sorted(spec)}"
                )

        # === Layers ===
        dtype = backbone.dtype_policy
        self.queries = {name: OutputQueries(**{k: v for k, v in spec.items() if k in QUERY_KEYS}, dtype=dtype,
                                            name=f"{name}_queries") for name, spec in tasks.items()}
        # The decoders take the backbone's attention path unless a spec names its own.
        fused = {"use_fused_attention": backbone.decoder_options["use_fused_attention"]}
        self.decoders = {name: PerceiverDecoder(**{**fused, **{k: v for k, v in spec.items() if k in DECODER_KEYS}},
                                                dtype=dtype, name=f"{name}_decoder") for name, spec in tasks.items()}

        # === Functional Model ===
        latents = backbone(backbone.input)
        outputs = {name: self._decode(name, spec, latents) for name, spec in tasks.items()}
        super().__init__(backbone, outputs, metadata=metadata, **kwargs)

        # === Config ===
        self.tasks = tasks

    def _decode(self, name: str, spec: dict, latents):
        decoded = self.decoders[name](self.queries[name](latents), latents)
        if spec.get("activation") is not None:
            decoded = keras.layers.Activation(spec["activation"], dtype="float32", name=f"{name}_activation")(decoded)
        index_dims = tuple(spec.get("index_dims", ()))
        return keras.layers.Reshape((*index_dims, spec["output_channels"]), dtype="float32", name=name)(decoded)

    def get_config(self):
        config = super().get_config()
        config.update(tasks=self.tasks)
        return config

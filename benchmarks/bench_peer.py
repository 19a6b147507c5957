"""perceiver_tf vs three PyTorch Perceivers on one identical configuration.

Config (the issue's): M=4096 inputs x 261 channels, 256 latents x 512, one cross-attend
(1 head, q/k width = input channels, i.e. HF `cross_attention_shape_for_attention="kv"`),
4 repeats of one shared 2-layer latent Transformer (8 heads), widening 1, mean-pool + Linear
head, 10 classes, batch 8, 2 threads. Every implementation trains with Adam on the same random
batch; all are timed in interleaved rounds in one process, so machine load hits them alike.

    python -m benchmarks.bench_peer [--rounds 2] [--seconds 8]

Each implementation runs in float32 and at its best setting on this CPU: perceiver_tf with XLA
and/or `mixed_bfloat16`; the PyTorch peers under `torch.autocast("cpu", torch.bfloat16)`, and HF
(the peer with perceiver_tf's exact layers) also through `torch.compile` (inductor; it compiles on
CPU here). Every row carries its achieved GFLOP/s (the configuration's counted matmul FLOPs,
training = 3 x forward) and MFU against the `tf.matmul` peak of its precision measured in the
same run.

Peers (each row of the JSON carries `params` and `notes`, the differences that remain):

- HF transformers `PerceiverModel` (`PerceiverConfig` below, no pre/post-processor) + mean-pool
  + Linear: the same layers and the same parameter count as perceiver_tf (4,224,853).
- lucidrains' perceiver-pytorch (`perceiver_pytorch.Perceiver`): its constructor cannot express
  "1 cross-attend, then 4 repeats of one shared 2-layer latent block" (each of its `depth`
  blocks is a cross-attend + `self_per_cross_attn` self-attends, and `weight_tie_layers` leaves
  the first block untied: depth=4 tied is 4 cross-attends and 2 sets of latent weights), nor a
  feed-forward width (`FeedForward` mult is fixed at 4). So the stock
  `Perceiver(depth=1, self_per_cross_attn=0, cross_heads=1, cross_dim_head=261,
  fourier_encode_data=False, ...)` (latents, the cross-attend, its forward and classifier head)
  gets one `PerceiverBlock(has_cross_attn=False, self_per_cross_attn=2, latent_heads=8,
  latent_dim_head=64)` appended 4 times to its `layers`, and every `FeedForward` is replaced by
  the package's own `FeedForward(512, mult=1)` (hidden width 512 = perceiver_tf's widening 1).
  Unmatched: q/k/v projections have no bias; feed-forwards are GEGLU (the first Linear is
  512 -> 1024, value and gate), not GELU 512 -> 512; the head is mean-pool -> LayerNorm ->
  Linear. Net: 5,009,990 parameters (+785,137: 3 x 262,656 for the GEGLU gates, -3,855 q/k/v
  biases, +1,024 head LayerNorm).
- krasserm's perceiver-io (`perceiver.model.core.PerceiverEncoder`) with an identity
  `InputAdapter` (261 channels, no position encoding, as `input_kind="array"`),
  `num_cross_attention_heads=1, num_cross_attention_qk_channels=261` (v defaults to qk),
  `num_cross_attention_layers=1, num_self_attention_blocks=4, num_self_attention_layers_per_block=2,
  first_self_attention_block_shared=True, num_self_attention_heads=8`, widening factors 1, then
  mean-pool + Linear (its own classifiers decode with a learned-query cross-attention instead,
  which the config rules out): the same layers and parameter count as perceiver_tf. Unmatched:
  its latents enter the first cross-attend with batch 1 and broadcast, so their LayerNorm and
  query projection run once per step rather than per example (a little less work).

Each row also keeps its fastest step and the lowest CPU share the process got while it was
measured (a load check: this machine is shared). Initialisations differ between all four (they do
not change the timing). Needs the `benchmark`
extra (torch, transformers) and requirements-bench.txt (the two PyTorch Perceivers; see there).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import (
    configure_tensorflow,
    forward_flops,
    markdown_table,
    matmul_peak_flops,
    median,
    time_steps,
    write_results,
)

BATCH, NUM_INPUTS, CHANNELS, NUM_CLASSES, THREADS = 8, 4096, 261, 10, 2
NUM_REPEATS = 4  # repeats of the shared 2-layer latent Transformer
TF_GRAPH, TF_XLA = "perceiver_tf (tf.function)", "perceiver_tf (XLA)"
TF_GRAPH_BF16, TF_XLA_BF16 = "perceiver_tf (tf.function + mixed bfloat16)", "perceiver_tf (XLA + mixed bfloat16)"
HF = "HF transformers PerceiverModel (torch)"
LUCIDRAINS = "lucidrains perceiver-pytorch Perceiver (torch)"
KRASSERM = "krasserm perceiver-io PerceiverEncoder (torch)"
HF_BF16 = "HF transformers PerceiverModel (torch, bf16 autocast)"
HF_COMPILED_BF16 = "HF transformers PerceiverModel (torch.compile, bf16 autocast)"
LUCIDRAINS_BF16 = "lucidrains perceiver-pytorch Perceiver (torch, bf16 autocast)"
KRASSERM_BF16 = "krasserm perceiver-io PerceiverEncoder (torch, bf16 autocast)"
#: PyPI distribution behind each PyTorch row (its version goes into the JSON), by implementation.
PEER_PACKAGES = {HF: "transformers", LUCIDRAINS: "perceiver-pytorch", KRASSERM: "perceiver-io"}
#: row -> (implementation: perceiver_tf or the peer's float32 row, precision of its matmuls)
SETTINGS = {
    TF_GRAPH: ("perceiver_tf", "float32"), TF_XLA: ("perceiver_tf", "float32"),
    TF_GRAPH_BF16: ("perceiver_tf", "bfloat16"), TF_XLA_BF16: ("perceiver_tf", "bfloat16"),
    HF: (HF, "float32"), HF_BF16: (HF, "bfloat16"), HF_COMPILED_BF16: (HF, "bfloat16"),
    LUCIDRAINS: (LUCIDRAINS, "float32"), LUCIDRAINS_BF16: (LUCIDRAINS, "bfloat16"),
    KRASSERM: (KRASSERM, "float32"), KRASSERM_BF16: (KRASSERM, "bfloat16"),
}
#: The configuration as `build_classifier` overrides ("array": no position encoding added).
PERCEIVER_TF_OVERRIDES = dict(
    num_latents=256,
    latent_dim=512,
    num_blocks=NUM_REPEATS,
    num_cross_attends=1,
    num_self_attends_per_block=2,
    num_cross_attention_heads=1,
    num_self_attention_heads=8,
    cross_attend_widening_factor=1,
    self_attend_widening_factor=1,
)


def build_perceiver_tf(jit_compile: bool, mixed_bfloat16: bool = False):
    import keras

    from perceiver_tf import build_classifier

    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if mixed_bfloat16 else "float32")
    try:
        model = build_classifier(
            "tiny", (NUM_INPUTS, CHANNELS), NUM_CLASSES, input_kind="array", **PERCEIVER_TF_OVERRIDES
        )
    finally:
        keras.config.set_dtype_policy(policy)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def build_hf():
    import torch
    from transformers import PerceiverConfig, PerceiverModel

    config = PerceiverConfig(
        num_latents=256,
        d_latents=512,
        d_model=CHANNELS,
        num_blocks=NUM_REPEATS,
        num_self_attends_per_block=2,
        num_self_attention_heads=8,
        num_cross_attention_heads=1,
        cross_attention_shape_for_attention="kv",
        self_attention_widening_factor=1,
        cross_attention_widening_factor=1,
    )

    class HFClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.perceiver = PerceiverModel(config)
            self.head = torch.nn.Linear(config.d_latents, NUM_CLASSES)

        def forward(self, x):
            return self.head(self.perceiver(inputs=x).last_hidden_state.mean(dim=1))

    return HFClassifier()


#: `perceiver_pytorch.Perceiver` arguments: one cross-attend, no self-attention of its own.
LUCIDRAINS_KWARGS = dict(
    num_freq_bands=1,  # unused: fourier_encode_data=False
    max_freq=1.0,  # unused
    depth=1,
    input_channels=CHANNELS,
    input_axis=1,
    num_latents=256,
    latent_dim=512,
    cross_heads=1,
    cross_dim_head=CHANNELS,  # q/k/v width = input channels
    latent_heads=8,
    latent_dim_head=64,  # 8 x 64 = 512
    num_classes=NUM_CLASSES,
    attn_dropout=0.0,
    ff_dropout=0.0,
    weight_tie_layers=False,
    fourier_encode_data=False,
    self_per_cross_attn=0,
    final_classifier_head=True,
)
#: The shared latent block appended 4 times (`perceiver_pytorch.perceiver_pytorch.PerceiverBlock`).
LUCIDRAINS_LATENT_BLOCK = dict(dim=512, latent_heads=8, latent_dim_head=64, self_per_cross_attn=2, has_cross_attn=False)
#: `FeedForward` mult swapped in for the constructor's fixed 4 (hidden width 512, as widening 1).
LUCIDRAINS_FF_MULT = 1


def build_lucidrains():
    """lucidrains' `Perceiver` with the cross-attend-only stock model + 4 x one shared latent block."""
    from perceiver_pytorch import Perceiver
    from perceiver_pytorch.perceiver_pytorch import FeedForward, PerceiverBlock, PreNorm

    model = Perceiver(**LUCIDRAINS_KWARGS)
    latent_block = PerceiverBlock(**LUCIDRAINS_LATENT_BLOCK)
    # Perceiver.forward runs every entry of `layers` (with its `attn_residuals` entry and
    # `inverted_cross_attn` flag) on the latents, with the inputs as context.
    model.layers.extend([latent_block] * NUM_REPEATS)
    model.attn_residuals.extend([None] * NUM_REPEATS)
    model.inverted_cross_attn = (False,) * len(model.layers)
    for module in [m for m in model.modules() if isinstance(m, PreNorm) and isinstance(m.fn, FeedForward)]:
        module.fn = FeedForward(LUCIDRAINS_KWARGS["latent_dim"], mult=LUCIDRAINS_FF_MULT)
    return model


def lucidrains_stock_params() -> int:
    """Parameters of the nearest stock constructor call: depth=4, weight-tied, 2 self-attends per cross."""
    from perceiver_pytorch import Perceiver

    kwargs = dict(LUCIDRAINS_KWARGS, depth=NUM_REPEATS, weight_tie_layers=True, self_per_cross_attn=2)
    return count_torch_params(Perceiver(**kwargs))


#: `perceiver.model.core.PerceiverEncoder` arguments (besides the input adapter).
KRASSERM_ENCODER_KWARGS = dict(
    num_latents=256,
    num_latent_channels=512,
    num_cross_attention_heads=1,
    num_cross_attention_qk_channels=CHANNELS,  # its default is the latent width
    num_cross_attention_v_channels=None,  # = qk channels
    num_cross_attention_layers=1,
    first_cross_attention_layer_shared=False,
    cross_attention_widening_factor=1,
    num_self_attention_heads=8,
    num_self_attention_layers_per_block=2,
    num_self_attention_blocks=4,
    first_self_attention_block_shared=True,  # one set of latent weights for all 4 blocks
    self_attention_widening_factor=1,
    dropout=0.0,
    residual_dropout=0.0,
)


def build_krasserm():
    """krasserm's `PerceiverEncoder` behind an identity input adapter, then mean-pool + Linear."""
    import torch
    from perceiver.model.core import InputAdapter, PerceiverEncoder

    class ArrayInputAdapter(InputAdapter):
        """The input array as is: no position encoding (perceiver_tf's `input_kind="array"`)."""

        def forward(self, x):
            return x

    class KrassermClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = PerceiverEncoder(ArrayInputAdapter(CHANNELS), **KRASSERM_ENCODER_KWARGS)
            self.head = torch.nn.Linear(KRASSERM_ENCODER_KWARGS["num_latent_channels"], NUM_CLASSES)

        def forward(self, x):
            return self.head(self.encoder(x).mean(dim=1))

    return KrassermClassifier()


def count_torch_params(model) -> int:
    """Distinct parameters (`parameters()` yields a shared module's weights once)."""
    return sum(p.numel() for p in model.parameters())


def peer_notes(name: str, params: int, reference: int) -> list[str]:
    """What differs from perceiver_tf in peer row `name` (which has `params` against perceiver_tf's `reference`)."""
    delta = f"{params:,} parameters vs perceiver_tf's {reference:,} ({params - reference:+,})"
    if name == HF:
        return [f"same layers; {delta}", "initialisation differs"]
    if name == LUCIDRAINS:
        return [
            f"{delta}: +3 x 262,656 GEGLU gate weights, -3,855 q/k/v biases, +1,024 head LayerNorm",
            "the stock constructor cannot express 1 cross-attend + 4 repeats of one shared latent block: stock "
            "Perceiver(depth=1, self_per_cross_attn=0) (latents, cross-attend, forward, head) with one "
            "PerceiverBlock(has_cross_attn=False, self_per_cross_attn=2) appended 4 times to its layers; the "
            f"nearest stock call (depth=4, weight_tie_layers=True, self_per_cross_attn=2) has 4 cross-attends, 2 sets "
            f"of latent weights (the first block is never tied), GEGLU mult 4 and {lucidrains_stock_params():,} "
            "parameters",
            "FeedForward is GEGLU (Linear 512->1024 = value + gate, GELU gate, Linear 512->512) instead of "
            f"GELU MLP 512->512->512; mult={LUCIDRAINS_FF_MULT} swapped in for the constructor's fixed mult=4",
            "q/k/v projections have no bias (to_q, to_kv bias=False)",
            "classifier head is mean-pool -> LayerNorm -> Linear (perceiver_tf: mean-pool -> Linear)",
            "initialisation differs (latents N(0, 1))",
        ]
    if name == KRASSERM:
        return [
            f"same layers; {delta}",
            "mean-pool + Linear head on PerceiverEncoder (krasserm's classifiers decode with a learned-query "
            "cross-attention instead); identity InputAdapter (no position encoding)",
            "the latents enter the first cross-attend with batch 1 and broadcast against the inputs (its "
            "TrainableQueryProvider), so their LayerNorm and query projection run once per step, not per example",
            "initialisation differs (N(0, 0.02))",
        ]
    raise ValueError(name)


def tf_steps(model, x, y):
    def train():
        return model.train_on_batch(x, y)

    def infer():
        return model.predict_on_batch(x)

    return train, infer


def torch_steps(model, x, y, bf16_autocast: bool = False):
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_autocast)

    def train():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_fn(model(xt), yt)
        loss.backward()
        optimizer.step()
        return loss.item()

    def infer():
        model.eval()
        with torch.inference_mode(), autocast():
            return model(xt).float().numpy()

    return train, infer


def contenders() -> dict:
    """Row name -> its model (perceiver_tf: compiled Keras models; peers: torch modules)."""
    import torch

    return {
        TF_GRAPH: build_perceiver_tf(jit_compile=False),
        TF_XLA: build_perceiver_tf(jit_compile=True),
        TF_GRAPH_BF16: build_perceiver_tf(jit_compile=False, mixed_bfloat16=True),
        TF_XLA_BF16: build_perceiver_tf(jit_compile=True, mixed_bfloat16=True),
        HF: build_hf(),
        HF_BF16: build_hf(),
        HF_COMPILED_BF16: torch.compile(build_hf()),
        LUCIDRAINS: build_lucidrains(),
        LUCIDRAINS_BF16: build_lucidrains(),
        KRASSERM: build_krasserm(),
        KRASSERM_BF16: build_krasserm(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved measurement rounds")
    parser.add_argument("--seconds", type=float, default=8.0, help="minimum seconds per measurement")
    args = parser.parse_args()

    configure_tensorflow(THREADS)
    from importlib.metadata import version

    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, NUM_INPUTS, CHANNELS)).astype("float32")
    y = rng.integers(0, NUM_CLASSES, size=(BATCH,)).astype("int32")

    models = contenders()
    params = {
        name: model.count_params() if name.startswith("perceiver_tf") else count_torch_params(model)
        for name, model in models.items()
    }
    steps = {
        name: tf_steps(model, x, y) if name.startswith("perceiver_tf")
        else torch_steps(model, x, y, bf16_autocast=SETTINGS[name][1] == "bfloat16")
        for name, model in models.items()
    }
    # The roofline: every implementation does the same matmuls (perceiver_tf's count).
    flops = {"train": 3 * forward_flops(models[TF_GRAPH]), "inference": forward_flops(models[TF_GRAPH])}
    peaks = {precision: matmul_peak_flops(dtype=precision) for precision in ("float32", "bfloat16")}
    times = {name: {"train": [], "inference": []} for name in models}
    # CPU seconds this process got per wall second per thread during each measurement (the lowest
    # is kept): well below 1 means other jobs took cores. With one busy-looping process beside them
    # on 2 cores, PyTorch's OpenMP steps ran roughly 5-20x slower here, perceiver_tf's (TF's
    # work-stealing pool) 1.5-3x, so a torch row measured under load is far off; the fastest step is kept too.
    cpu_share = {name: {"train": [], "inference": []} for name in models}
    for round_index in range(args.rounds):
        for mode, slot in (("train", 0), ("inference", 1)):
            for name, pair in steps.items():
                wall0, cpu0 = time.perf_counter(), time.process_time()
                times[name][mode] += time_steps(pair[slot], args.seconds, min_steps=2, warmup=1 if round_index == 0 else 0)
                cpu_share[name][mode].append((time.process_time() - cpu0) / (time.perf_counter() - wall0) / THREADS)
                print(f"round {round_index} {mode:9s} {name}: {BATCH / median(times[name][mode]):.2f} ex/s", flush=True)

    peaks = {precision: max(peak, matmul_peak_flops(dtype=precision)) for precision, peak in peaks.items()}

    def achieved(name: str, mode: str) -> dict:
        gflops = flops[mode] * BATCH / median(times[name][mode]) / 1e9
        return {f"{mode}_gflops_per_s": gflops, f"{mode}_mfu": gflops * 1e9 / peaks[SETTINGS[name][1]]}

    rows = [
        {
            "implementation": name,
            "family": SETTINGS[name][0],
            "precision": SETTINGS[name][1],
            "package": PEER_PACKAGES.get(SETTINGS[name][0], "perceiver_tf"),
            "params": params[name],
            "train_examples_per_s": BATCH / median(times[name]["train"]),
            "inference_examples_per_s": BATCH / median(times[name]["inference"]),
            "train_step_s": median(times[name]["train"]),
            "inference_step_s": median(times[name]["inference"]),
            "timed_train_steps": len(times[name]["train"]),
            "timed_inference_steps": len(times[name]["inference"]),
            # The fastest step: the least disturbed by other jobs on this shared machine.
            "train_examples_per_s_fastest_step": BATCH / min(times[name]["train"]),
            "inference_examples_per_s_fastest_step": BATCH / min(times[name]["inference"]),
            "train_cpu_share": min(cpu_share[name]["train"]),
            "inference_cpu_share": min(cpu_share[name]["inference"]),
            **achieved(name, "train"),
            **achieved(name, "inference"),
            "notes": peer_notes(name, params[name], params[TF_GRAPH]) if name in PEER_PACKAGES else [],
        }
        for name in models
    ]
    print(markdown_table(rows, ["implementation", "params", "train_examples_per_s", "inference_examples_per_s"]))
    path = write_results(
        "peer",
        {
            "matmul_peak_gflops": {precision: peak / 1e9 for precision, peak in peaks.items()},
            "forward_gflop_per_example": flops["inference"] / 1e9,
            "config": {"batch": BATCH, "num_inputs": NUM_INPUTS, "channels": CHANNELS, "num_classes": NUM_CLASSES,
                       "threads": THREADS, "build_classifier_overrides": PERCEIVER_TF_OVERRIDES, "input_kind": "array",
                       "peers": {
                           LUCIDRAINS: {"Perceiver": LUCIDRAINS_KWARGS, "shared_latent_block": LUCIDRAINS_LATENT_BLOCK,
                                        "latent_block_repeats": NUM_REPEATS, "feed_forward_mult": LUCIDRAINS_FF_MULT},
                           KRASSERM: {"PerceiverEncoder": KRASSERM_ENCODER_KWARGS, "input_adapter": "identity",
                                      "head": "mean-pool + Linear"},
                       }},
            "versions": {"torch": torch.__version__, "transformers": version("transformers"),
                         "perceiver-pytorch": version("perceiver-pytorch"), "perceiver-io": version("perceiver-io"),
                         "fairscale": version("fairscale"), "einops": version("einops"),
                         "tensorflow": __import__("tensorflow").__version__, "keras": __import__("keras").__version__},
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

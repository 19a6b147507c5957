"""perceiver_tf vs Hugging Face `transformers.PerceiverModel` on one identical configuration.

Config (the issue's): M=4096 inputs x 261 channels, 256 latents x 512, one cross-attend
(1 head, q/k width = input channels, i.e. HF `cross_attention_shape_for_attention="kv"`),
4 repeats of one shared 2-layer latent Transformer (8 heads), widening 1, mean-pool + Linear
head, 10 classes, batch 8, 2 threads. Both sides train with Adam on the same random batch and
are timed in interleaved rounds in one process, so machine load hits both alike.

    python -m benchmarks.bench_peer [--rounds 2] [--seconds 8]

Needs the `benchmark` extra (torch, transformers).
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import configure_tensorflow, markdown_table, median, time_steps, write_results

BATCH, NUM_INPUTS, CHANNELS, NUM_CLASSES, THREADS = 8, 4096, 261, 10, 2
#: The configuration as `build_classifier` overrides ("array": no position encoding added).
PERCEIVER_TF_OVERRIDES = dict(
    num_latents=256,
    latent_dim=512,
    num_blocks=4,
    num_cross_attends=1,
    num_self_attends_per_block=2,
    num_cross_attention_heads=1,
    num_self_attention_heads=8,
    cross_attend_widening_factor=1,
    self_attend_widening_factor=1,
)


def build_perceiver_tf(jit_compile: bool):
    import keras

    from perceiver_tf import build_classifier

    model = build_classifier(
        "tiny", (NUM_INPUTS, CHANNELS), NUM_CLASSES, input_kind="array", **PERCEIVER_TF_OVERRIDES
    )
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
        num_blocks=4,
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


def tf_steps(model, x, y):
    def train():
        return model.train_on_batch(x, y)

    def infer():
        return model.predict_on_batch(x)

    return train, infer


def torch_steps(model, x, y):
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()

    def train():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), yt)
        loss.backward()
        optimizer.step()
        return loss.item()

    def infer():
        model.eval()
        with torch.inference_mode():
            return model(xt).numpy()

    return train, infer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved measurement rounds")
    parser.add_argument("--seconds", type=float, default=8.0, help="minimum seconds per measurement")
    args = parser.parse_args()

    configure_tensorflow(THREADS)
    import torch

    torch.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, NUM_INPUTS, CHANNELS)).astype("float32")
    y = rng.integers(0, NUM_CLASSES, size=(BATCH,)).astype("int32")

    contenders = {
        "perceiver_tf (tf.function)": build_perceiver_tf(jit_compile=False),
        "perceiver_tf (XLA)": build_perceiver_tf(jit_compile=True),
        "HF transformers PerceiverModel (torch)": build_hf(),
    }
    params = {
        "perceiver_tf (tf.function)": contenders["perceiver_tf (tf.function)"].count_params(),
        "perceiver_tf (XLA)": contenders["perceiver_tf (XLA)"].count_params(),
        "HF transformers PerceiverModel (torch)": sum(p.numel() for p in contenders["HF transformers PerceiverModel (torch)"].parameters()),
    }
    steps = {
        name: (torch_steps if "torch" in name else tf_steps)(model, x, y) for name, model in contenders.items()
    }
    times = {name: {"train": [], "inference": []} for name in contenders}
    for round_index in range(args.rounds):
        for mode, slot in (("train", 0), ("inference", 1)):
            for name, pair in steps.items():
                times[name][mode] += time_steps(pair[slot], args.seconds, min_steps=2, warmup=1 if round_index == 0 else 0)
                print(f"round {round_index} {mode:9s} {name}: {BATCH / median(times[name][mode]):.2f} ex/s", flush=True)

    rows = [
        {
            "implementation": name,
            "params": params[name],
            "train_examples_per_s": BATCH / median(times[name]["train"]),
            "inference_examples_per_s": BATCH / median(times[name]["inference"]),
            "train_step_s": median(times[name]["train"]),
            "inference_step_s": median(times[name]["inference"]),
            "timed_train_steps": len(times[name]["train"]),
            "timed_inference_steps": len(times[name]["inference"]),
        }
        for name in contenders
    ]
    print(markdown_table(rows, ["implementation", "params", "train_examples_per_s", "inference_examples_per_s"]))
    path = write_results(
        "peer",
        {
            "config": {"batch": BATCH, "num_inputs": NUM_INPUTS, "channels": CHANNELS, "num_classes": NUM_CLASSES,
                       "threads": THREADS, "build_classifier_overrides": PERCEIVER_TF_OVERRIDES, "input_kind": "array"},
            "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                         "tensorflow": __import__("tensorflow").__version__, "keras": __import__("keras").__version__},
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""The saving of projecting the inputs once for a shared cross-attend, per preset that repeats one.

The paper's ImageNet model repeats one cross-attend (shared weights) 7 times over the same byte
array: its input LayerNorm and key/value projections give the same result each time.
`PerceiverEncoder` computes them once per call (`keys_values`); TensorFlow's graph optimiser
(Grappler) did not merge the repeats by itself. Each preset whose encoder repeats a cross-attend
is timed at its reference input shape with and without the saving (`_repeats` switched off),
inference (`predict_on_batch`) and one training step (`train_on_batch`, SGD), batch 1, float32
graph, in interleaved rounds in one process (machine load hits both alike); outputs compared.

    python -m benchmarks.bench_shared_cross_attention [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

from benchmarks.common import configure_tensorflow, markdown_table, write_results


def repeating_presets() -> list[str]:
    """Presets whose encoder uses one cross-attend (shared weights) in more than one block."""
    from perceiver_tf.models.presets import PRESETS

    return [name for name, preset in PRESETS.items()
            if preset.backbone.get("num_cross_attends", 1) > 2 and preset.backbone.get("share_cross_attention", True)]


def measure(preset_name: str, rounds: int) -> dict:
    import keras
    import numpy as np

    import perceiver_tf as pt
    from perceiver_tf.models.presets import PRESETS

    preset = PRESETS[preset_name]
    shape = preset.reference_input_shape
    x = np.random.default_rng(0).normal(size=(1, *shape)).astype("float32")
    y = np.array([3])
    models = {}
    for once in (True, False):
        keras.utils.set_random_seed(0)
        model = pt.build_classifier(preset_name, shape, 10)
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
        if not once:
            model.backbone.encoder._repeats = lambda cross_attention: False
        models[once] = model
    outputs = {once: model.predict_on_batch(x) for once, model in models.items()}  # traces
    for model in models.values():
        model.train_on_batch(x, y)
    times = {(once, stage): [] for once in models for stage in ("inference", "training")}
    for _ in range(rounds):
        for once, model in models.items():
            start = time.perf_counter()
            model.predict_on_batch(x)
            times[once, "inference"].append(time.perf_counter() - start)
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[once, "training"].append(time.perf_counter() - start)
    encoder = models[True].backbone.encoder
    repeats = sum(encoder._cross_attention_for_block(b) is encoder.cross_attentions[-1]
                  for b in range(encoder.num_cross_attends))
    row = {"preset": preset_name, "input_shape": "x".join(map(str, shape)), "shared_cross_attend_uses": repeats,
           "max_abs_output_diff": float(np.abs(outputs[True] - outputs[False]).max())}
    for stage in ("inference", "training"):
        once, every = min(times[True, stage]), min(times[False, stage])
        row.update({f"{stage}_every_time_s": every, f"{stage}_once_s": once, f"{stage}_speedup": every / once})
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    configure_tensorflow(args.threads)
    rows = [measure(name, args.rounds) for name in repeating_presets()]
    print(markdown_table(rows, list(rows[0])))
    write_results("shared_cross_attention", {"config": {"batch": 1, "rounds": args.rounds, "threads": args.threads,
                                                        "dtype": "float32"}, "rows": rows})


if __name__ == "__main__":
    main()

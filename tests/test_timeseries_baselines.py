"""The time-series baselines (`benchmarks.timeseries_baselines`) against plain-loop references, and the
real-data benchmark (`benchmarks.bench_timeseries`) end to end on a written `.ts` problem."""

import json

import numpy as np
import pytest

from benchmarks import timeseries_baselines as baselines
from perceiver_tf.data.ts_format import write_ts


def _reference_dtw(a: np.ndarray, b: np.ndarray, window: int | None = None) -> float:
    """Textbook DTW_D with a full cost matrix: squared Euclidean step costs, optional Sakoe-Chiba band."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    cost = np.full((len(a) + 1, len(b) + 1), np.inf)
    cost[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if window is not None and abs(i - j) > window:
                continue
            step = float(((a[i - 1] - b[j - 1]) ** 2).sum())
            cost[i, j] = step + min(cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1])
    return cost[-1, -1]


def _series(rng, lengths, channels):
    return [rng.normal(size=(n, channels)).astype(np.float32) for n in lengths]


@pytest.mark.parametrize("channels, window", [(1, None), (3, None), (2, 2)])
def test_dtw_matches_the_textbook_recurrence(channels, window):
    rng = np.random.default_rng(channels)
    lengths_q = (9, 9, 9) if window is not None else (5, 9, 7)
    lengths_r = (9, 9) if window is not None else (8, 4)
    queries, references = _series(rng, lengths_q, channels), _series(rng, lengths_r, channels)
    distances = baselines.dtw_distances(queries, references, window)
    expected = [[_reference_dtw(q, r, window) for r in references] for q in queries]
    np.testing.assert_allclose(distances, expected, rtol=1e-9)
    assert np.allclose(np.diag(baselines.dtw_distances(queries, queries, window)), 0.0)


def test_dtw_band_wider_than_the_series_is_the_full_window():
    rng = np.random.default_rng(3)
    a, b = _series(rng, (12, 12), 1), _series(rng, (12, 12, 12), 1)
    np.testing.assert_allclose(baselines.dtw_distances(a, b, 20), baselines.dtw_distances(a, b, None))
    assert (baselines.dtw_distances(a, b, 0) >= baselines.dtw_distances(a, b, None) - 1e-9).all()


def _reference_rocket(kernels, series: np.ndarray) -> np.ndarray:
    """ppv and max of each kernel on one unpadded `(T, C)` series, by explicit loops."""
    features = []
    for weights, bias, dilation, padding in zip(kernels.weights, kernels.biases, kernels.dilations, kernels.paddings):
        padded = np.pad(series, ((padding, padding), (0, 0)))
        span = (len(weights) - 1) * dilation
        outputs = [sum(float(weights[j] @ padded[t + j * dilation]) for j in range(len(weights))) + bias
                   for t in range(len(padded) - span)]
        outputs = np.array(outputs)
        features += [float((outputs > 0).mean()), float(outputs.max())] if len(outputs) else [0.0, 0.0]
    return np.array(features)


def test_rocket_features_match_loops_and_ignore_padding():
    rng = np.random.default_rng(0)
    kernels = baselines.make_rocket_kernels(12, series_length=30, channels=3, seed=1)
    assert set(kernels.lengths) <= set(baselines.ROCKET_LENGTHS)
    for w in kernels.weights:  # centred weights on the channels a kernel reads, zero on the others
        read = np.abs(w).sum(axis=0) > 0
        assert read.any() and np.allclose(w[:, read].mean(axis=0), 0.0, atol=1e-6)
    series = _series(rng, (30, 17), 3)
    x, lengths = baselines.pad_series(series, 30)
    features = baselines.rocket_features(kernels, x, lengths)
    for row, s in zip(features, series):
        np.testing.assert_allclose(row, _reference_rocket(kernels, s), rtol=1e-4, atol=1e-4)
    # Longer zero padding does not change a series' features.
    wider, wider_lengths = baselines.pad_series(series, 45)
    np.testing.assert_allclose(baselines.rocket_features(kernels, wider, wider_lengths), features, rtol=1e-5, atol=1e-5)


def _frequency_problem(rng, per_class: int, channels: int = 1):
    """Noisy sinusoids of 1 or 3 cycles per 40 steps, random phase, lengths 36-44: an easy problem."""
    series, labels = [], []
    for label, cycles in enumerate((1.0, 3.0)):
        for _ in range(per_class):
            steps = rng.integers(36, 45)
            t = np.arange(steps) / 40.0
            wave = np.sin(2 * np.pi * cycles * t[:, None] + rng.uniform(0, 2 * np.pi, size=channels))
            series.append((wave + 0.3 * rng.normal(size=(steps, channels))).astype(np.float32))
            labels.append(label)
    return series, np.array(labels)


def test_rocket_and_dtw_learn_an_easy_problem():
    rng = np.random.default_rng(5)
    train, y_train = _frequency_problem(rng, 15, channels=2)
    test, y_test = _frequency_problem(rng, 20, channels=2)
    assert np.mean(baselines.rocket_classify(train, y_train, test, num_kernels=300) == y_test) >= 0.9
    assert np.mean(baselines.dtw_classify(train, y_train, test) == y_test) >= 0.9


def test_fcn_compute_budget():
    per_example = baselines.fcn_flops_per_example(100, 2)
    assert per_example == 2 * 100 * (8 * 2 * 128 + 5 * 128 * 256 + 3 * 256 * 128)
    assert baselines.fcn_epochs(50, 100, 2, flop_budget=3 * per_example * 50 * 7.5, step_budget=10**6) == 7
    assert baselines.fcn_epochs(50, 100, 2, flop_budget=1e20, step_budget=41) == 10  # 4 steps (of 16) an epoch
    assert baselines.fcn_epochs(50, 100, 2, flop_budget=1.0, step_budget=10**6) == 1
    assert baselines.fcn_epochs(50, 100, 2, flop_budget=1e20, step_budget=10**6) == 2000


@pytest.mark.slow
def test_fcn_learns_an_easy_problem():
    rng = np.random.default_rng(6)
    train, y_train = _frequency_problem(rng, 12)
    test, y_test = _frequency_problem(rng, 20)
    assert np.mean(baselines.fcn_classify(train, y_train, test, num_classes=2, epochs=30) == y_test) >= 0.9


@pytest.mark.slow
def test_benchmark_quick_run_writes_its_rows(tmp_path):
    from benchmarks import bench_timeseries

    rng = np.random.default_rng(7)
    for split, per_class in (("TRAIN", 15), ("TEST", 20)):
        series, labels = _frequency_problem(rng, per_class)
        write_ts(tmp_path / f"Waves_{split}.ts", series, [("slow", "fast")[y] for y in labels], ["slow", "fast"])
    output = bench_timeseries.main(["--files", str(tmp_path / "Waves_TRAIN.ts"), "--quick",
                                    "--output", str(tmp_path / "timeseries.json")])
    results = json.loads(output.read_text())
    assert results["quick"] and results["complete"] and results["git_head"] and results["command"].endswith("--quick --output "
                                                                                    f"{tmp_path / 'timeseries.json'}")
    (row,) = results["rows"]
    assert {k: row[k] for k in ("dataset", "group", "num_train", "num_test", "length", "channels", "classes")} == {
        "dataset": "Waves", "group": "given", "num_train": 30, "num_test": 40, "length": "36-44", "channels": 1,
        "classes": 2}
    assert row["test_examples_scored"] == 40 and row["epochs"] == bench_timeseries.QUICK_EPOCHS
    assert 0.0 <= row["test_accuracy"] <= 1.0 and row["train_seconds"] > 0 and row["published"] == {}
    assert row["dtw_window"] == "full" and row["dtw_accuracy"] >= 0.9 and row["rocket_accuracy"] >= 0.9
    assert row["fcn_epochs"] == bench_timeseries.QUICK_FCN_EPOCHS and 0.0 <= row["fcn_accuracy"] <= 1.0
    assert not list(tmp_path.glob("timeseries.json.tmp*"))

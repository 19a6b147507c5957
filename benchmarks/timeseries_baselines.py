"""Baselines for time-series classification, trained on the same series as the Perceiver:

- `rocket_classify`: ROCKET (Dempster et al. 2020, "ROCKET: exceptionally fast and accurate time series
  classification using random convolutional kernels"): random dilated kernels, two features each
  (the proportion of positive values and the maximum), a ridge classifier with cross-validated
  regularisation. Multivariate series as sktime's multivariate ROCKET: each kernel reads a random
  subset of the channels. NumPy, kernels of one (length, dilation, padding) applied as one matmul.
- `dtw_classify`: 1-nearest-neighbour under dependent dynamic time warping (DTW_D: the squared
  Euclidean distance between time steps over all channels), full window or a Sakoe-Chiba band. NumPy,
  vectorised over pairs of series: each row of the cost matrix is a prefix sum and a running minimum.
- `fcn_classify`: the fully convolutional network of Wang et al. 2017 ("Time series classification
  from scratch with deep neural networks: a strong baseline"): Conv1D 128/8, 256/5, 128/3, each with
  batch normalisation and ReLU, global average pooling, softmax; Adam 1e-3, batch 16, the rate
  halved after 50 epochs without a lower training loss. Keras; batch normalisation's running
  statistics with momentum 0.9, not Keras' 0.99: after the few hundred steps a compute budget allows,
  0.99 leaves them near their initial values and the network predicts one class (measured: 0.5 vs
  1.0 test accuracy after 60 steps on two frequency classes).

Series of different lengths are zero-padded at the end to the longest (`pad_series`); each baseline
reads only each series' own steps (ROCKET's features and FCN's pooling are masked, DTW ends at each
pair's own lengths).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: ROCKET's kernel lengths, drawn uniformly.
ROCKET_LENGTHS = (7, 9, 11)
#: Ridge regularisation strengths RidgeClassifierCV chooses from (ROCKET's).
RIDGE_ALPHAS = np.logspace(-3, 3, 10)
#: Elements (pairs x columns x channels) one vectorised DTW step works on at most: bounds memory.
DTW_CHUNK_ELEMENTS = 2_000_000
#: Window elements (series x positions x kernel length x channels) one ROCKET matmul reads at most.
ROCKET_CHUNK_ELEMENTS = 8_000_000


def pad_series(series: list[np.ndarray], length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`(T_i, C)` series -> zero-padded float32 `(N, L, C)` and int `(N,)` lengths (`L`: `length` or the longest)."""
    lengths = np.array([len(s) for s in series])
    length = length or int(lengths.max())
    batch = np.zeros((len(series), length, series[0].shape[1]), np.float32)
    for i, s in enumerate(series):
        batch[i, : len(s)] = s[:length]
    return batch, np.minimum(lengths, length)


def standardise(train: list[np.ndarray], test: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Both lists' `(T_i, C)` series with each channel shifted and scaled by the training steps' mean and
    standard deviation (one pair per channel: levels and scales that differ between series are kept)."""
    steps = np.concatenate(train)
    mean, std = steps.mean(axis=0), steps.std(axis=0)
    scale = np.where(std > 1e-8, std, 1.0)
    return [((s - mean) / scale).astype(np.float32) for s in train], [((s - mean) / scale).astype(np.float32)
                                                                     for s in test]


@dataclass
class RocketKernels:
    """`K` random kernels: `weights[k]` `(length_k, C)` (zero on the channels kernel k does not read)."""

    weights: list[np.ndarray]
    biases: np.ndarray
    dilations: np.ndarray
    paddings: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(w) for w in self.weights])


def make_rocket_kernels(num_kernels: int, series_length: int, channels: int, seed: int = 0) -> RocketKernels:
    """ROCKET's kernels for series of `series_length` steps and `channels` channels.

    Each kernel: a length from `ROCKET_LENGTHS`; normal weights, centred per channel; a bias from
    U(-1, 1); a dilation `floor(2**x)`, x ~ U(0, log2((series_length - 1) / (length - 1))); zero
    padding of `(length - 1) * dilation // 2` on both sides with probability 1/2; the channels read,
    `floor(2**U(0, log2(min(channels, length) + 1)))` of them at random (multivariate ROCKET).
    """
    rng = np.random.default_rng(seed)
    weights, biases, dilations, paddings = [], [], [], []
    for _ in range(num_kernels):
        length = int(rng.choice(ROCKET_LENGTHS))
        read = int(2 ** rng.uniform(0, np.log2(min(channels, length) + 1)))
        kernel = np.zeros((length, channels), np.float32)
        chosen = rng.choice(channels, size=min(read, channels), replace=False)
        values = rng.normal(size=(length, len(chosen)))
        kernel[:, chosen] = values - values.mean(axis=0)
        dilation = int(2 ** rng.uniform(0, np.log2(max(series_length - 1, 1) / (length - 1)))) \
            if series_length > length else 1
        weights.append(kernel)
        biases.append(rng.uniform(-1, 1))
        dilations.append(max(dilation, 1))
        paddings.append(((length - 1) * dilations[-1]) // 2 if rng.integers(2) else 0)
    return RocketKernels(weights, np.array(biases, np.float32), np.array(dilations), np.array(paddings))


def rocket_features(kernels: RocketKernels, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """`(N, 2K)` features of padded series `x` `(N, L, C)` with `lengths` `(N,)`: per kernel, the
    proportion of positive values (ppv) and the maximum of its convolution output over the output
    positions the series' own steps (and the kernel's padding) cover; both 0 where none are."""
    num, steps, channels = x.shape
    features = np.zeros((num, 2 * len(kernels.weights)), np.float32)
    groups: dict[tuple[int, int, int], list[int]] = {}
    for k, key in enumerate(zip(kernels.lengths, kernels.dilations, kernels.paddings)):
        groups.setdefault(tuple(int(v) for v in key), []).append(k)
    for (length, dilation, padding), members in groups.items():
        padded = np.pad(x, ((0, 0), (padding, padding), (0, 0)))
        out_len = steps + 2 * padding - (length - 1) * dilation
        if out_len <= 0:
            continue
        # (N, out_len, length, C) windows: position t reads padded steps t, t + d, ..., t + (length - 1) d.
        windows = np.lib.stride_tricks.as_strided(
            padded, (num, out_len, length, channels),
            (padded.strides[0], padded.strides[1], padded.strides[1] * dilation, padded.strides[2]), writeable=False)
        matrix = np.stack([kernels.weights[k].reshape(-1) for k in members], axis=1)  # (length * C, G)
        valid = np.arange(out_len)[None, :] < (lengths + 2 * padding - (length - 1) * dilation)[:, None]
        count = valid.sum(axis=1, keepdims=True)
        chunk = max(1, ROCKET_CHUNK_ELEMENTS // (out_len * length * channels))
        for start in range(0, num, chunk):
            rows = slice(start, start + chunk)
            conv = windows[rows].reshape(-1, length * channels) @ matrix
            conv = conv.reshape(-1, out_len, len(members)) + kernels.biases[members]
            mask = valid[rows][:, :, None]
            ppv = ((conv > 0) & mask).sum(axis=1) / np.maximum(count[rows], 1)
            peak = np.where(mask, conv, -np.inf).max(axis=1)
            features[rows, 2 * np.array(members)] = ppv
            features[rows, 2 * np.array(members) + 1] = np.where(count[rows] > 0, peak, 0.0)
    return features


def rocket_classify(train: list[np.ndarray], train_labels: np.ndarray, test: list[np.ndarray],
                    num_kernels: int = 10_000, seed: int = 0) -> np.ndarray:
    """ROCKET's predicted class ids `(n_test,)` for `test` series `(T_i, C)` after fitting on `train`.
    Channels are standardised with the training set's statistics (`standardise`: the biases' range
    U(-1, 1) assumes unit scale; per-series z-normalisation, a no-op on the z-normalised UCR sets ROCKET
    was published on, would remove the levels that tell e.g. JapaneseVowels' speakers apart: 0.84 vs
    0.99 measured); features are standardised for the ridge classifier (ROCKET's `normalize=True`)."""
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, test = standardise(train, test)
    length = max(len(s) for s in train + test)
    kernels = make_rocket_kernels(num_kernels, length, train[0].shape[1], seed)
    train_features = rocket_features(kernels, *pad_series(train, length))
    test_features = rocket_features(kernels, *pad_series(test, length))
    model = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=RIDGE_ALPHAS))
    model.fit(train_features, train_labels)
    return model.predict(test_features)


def dtw_distances(queries: list[np.ndarray], references: list[np.ndarray], window: int | None = None) -> np.ndarray:
    """Dependent DTW distances `(Q, R)` between `(T_i, C)` series: the least sum over a warping path of
    squared Euclidean distances between matched steps (no square root).

    Args:
        window: Sakoe-Chiba band, steps `i` and `j` match only where `|i - j| <= window`; `None`: any
            (the full window). A pair whose lengths differ by more than the band has distance inf.

    The recurrence `D[i, j] = c[i, j] + min(D[i-1, j-1], D[i-1, j], D[i, j-1])` runs row by row over
    many pairs at once; within a row, with `a[j] = min(D[i-1, j-1], D[i-1, j])` and `S` the prefix sums
    of the row's costs, `D[i, j] = S[j] + min over k <= j of (a[k] + c[i, k] - S[k])`: a running minimum.
    """
    q, q_len = pad_series(queries)
    r, r_len = pad_series(references)
    rows, cols, channels = q.shape[1], r.shape[1], q.shape[2]
    pairs = np.stack(np.meshgrid(np.arange(len(q)), np.arange(len(r)), indexing="ij"), axis=-1).reshape(-1, 2)
    distances = np.full(len(pairs), np.inf)
    chunk = max(1, DTW_CHUNK_ELEMENTS // (cols * channels))
    for start in range(0, len(pairs), chunk):
        qi, ri = pairs[start:start + chunk].T
        qs, rs = q[qi].astype(np.float64), r[ri].astype(np.float64)
        ends_q, ends_r = q_len[qi] - 1, r_len[ri] - 1
        previous = np.full((len(qi), cols + 1), np.inf)  # column 0: the boundary left of step 0
        previous[:, 0] = 0.0
        out = np.full(len(qi), np.inf)
        for i in range(rows):
            lo, hi = (0, cols) if window is None else (max(0, i - window), min(cols, i + window + 1))
            if lo >= hi:
                break
            cost = ((qs[:, i, None, :] - rs[:, lo:hi, :]) ** 2).sum(axis=-1)
            arrive = np.minimum(previous[:, lo:hi], previous[:, lo + 1:hi + 1])
            prefix = np.cumsum(cost, axis=1)
            row = prefix + np.minimum.accumulate(arrive + cost - prefix, axis=1)
            current = np.full_like(previous, np.inf)
            current[:, lo + 1:hi + 1] = row
            done = ends_q == i
            out[done] = current[done, ends_r[done] + 1]
            previous = current
        distances[start:start + chunk] = out
    return distances.reshape(len(q), len(r))


def dtw_classify(train: list[np.ndarray], train_labels: np.ndarray, test: list[np.ndarray],
                 window: int | None = None) -> np.ndarray:
    """1-NN DTW_D (`dtw_distances`) predicted class ids `(n_test,)` (ties: the first training series)."""
    return np.asarray(train_labels)[np.argmin(dtw_distances(test, train, window), axis=1)]


def dtw_cells(train: list[np.ndarray], test: list[np.ndarray], window: int | None = None) -> int:
    """Cost-matrix cells 1-NN DTW fills for `test` x `train` (`dtw_distances`' work, for a budget)."""
    rows, cols = max(len(s) for s in test), max(len(s) for s in train)
    width = cols if window is None else min(cols, 2 * window + 1)
    return len(train) * len(test) * rows * width


#: FCN's filters and kernel sizes (Wang et al. 2017).
FCN_BLOCKS = ((128, 8), (256, 5), (128, 3))


def fcn_flops_per_example(length: int, channels: int) -> int:
    """Forward multiply-add FLOPs of the FCN on one `(length, channels)` series (convolutions only)."""
    widths = [channels] + [filters for filters, _ in FCN_BLOCKS]
    return 2 * length * sum(k * w * f for (f, k), w in zip(FCN_BLOCKS, widths))


def fcn_classify(train: list[np.ndarray], train_labels: np.ndarray, test: list[np.ndarray], num_classes: int,
                 epochs: int, batch_size: int = 16, seed: int = 0) -> np.ndarray:
    """The FCN's predicted class ids `(n_test,)` after `epochs` epochs of Adam (1e-3) on `train`
    (zero-padded to the longest series; pooling over each series' own steps); the last epoch is kept.
    The rate halves after `max(1, epochs // 40)` epochs without a lower training loss (Wang et al.: 50 of 2,000)."""
    import keras

    keras.utils.set_random_seed(seed)
    length = max(len(s) for s in train + test)
    x_train, train_len = pad_series(train, length)
    x_test, test_len = pad_series(test, length)
    mask = lambda lengths: (np.arange(length)[None, :] < lengths[:, None]).astype(np.float32)[..., None]  # noqa: E731
    series = keras.Input((length, x_train.shape[2]))
    steps = keras.Input((length, 1))
    hidden = series
    for filters, kernel in FCN_BLOCKS:
        hidden = keras.layers.Conv1D(filters, kernel, padding="same")(hidden)
        hidden = keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(hidden))
    pooled = keras.ops.sum(hidden * steps, axis=1) / keras.ops.sum(steps, axis=1)
    model = keras.Model([series, steps], keras.layers.Dense(num_classes, activation="softmax")(pooled))
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    halve = keras.callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=max(1, epochs // 40), min_lr=1e-4)
    model.fit([x_train, mask(train_len)], np.asarray(train_labels), batch_size=min(batch_size, len(train)),
              epochs=epochs, callbacks=[halve], verbose=0, shuffle=True)
    return model.predict([x_test, mask(test_len)], batch_size=64, verbose=0).argmax(axis=1)


def fcn_epochs(num_train: int, length: int, channels: int, flop_budget: float, step_budget: int,
               max_epochs: int = 2000, batch_size: int = 16) -> int:
    """FCN epochs within a training-compute budget: `flop_budget` FLOPs (a training step costing about 3x
    the forward pass) and `step_budget` optimizer steps (on short series a step's fixed cost dominates),
    at most Wang et al.'s 2,000, at least 1."""
    per_epoch = 3 * fcn_flops_per_example(length, channels) * num_train
    steps_per_epoch = math.ceil(num_train / min(batch_size, num_train))
    return int(max(1, min(max_epochs, flop_budget // per_epoch, step_budget // steps_per_epoch)))

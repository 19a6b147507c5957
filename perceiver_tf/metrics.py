"""Multi-label evaluation (AudioSet is multi-label): mean average precision over classes."""

from __future__ import annotations

import numpy as np


def average_precision(y_true, y_score) -> float:
    """Average precision of one class: mean of precision@k over the ranks k of the positives.

    Equals `sklearn.metrics.average_precision_score` for untied scores (ties are broken by
    order, not grouped). `nan` when the class has no positive.

    Args:
        y_true: `(n,)` binary labels.
        y_score: `(n,)` scores (logits or probabilities; only the order matters).
    """
    y_true = np.asarray(y_true).astype(bool).reshape(-1)
    y_score = np.asarray(y_score, dtype=np.float64).reshape(-1)
    if y_true.shape != y_score.shape:
        raise ValueError(f"`y_true` and `y_score` must have the same shape. Received: {y_true.shape} and {y_score.shape}")
    if not y_true.any():
        return float("nan")
    hits = y_true[np.argsort(-y_score, kind="stable")]
    ranks = np.flatnonzero(hits) + 1
    return float(np.mean(np.arange(1, len(ranks) + 1) / ranks))


def mean_average_precision(y_true, y_score) -> float:
    """mAP: the mean of `average_precision` over classes that have at least one positive.

    Args:
        y_true: `(n, num_classes)` binary (multi-hot) labels.
        y_score: `(n, num_classes)` scores.

    Returns:
        The mAP in [0, 1] (the paper's AudioSet metric; 38.3 for raw audio means 0.383).
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    if y_true.ndim != 2 or y_true.shape != y_score.shape:
        raise ValueError(
            "`y_true` and `y_score` must both be (examples, classes). "
            f"Received: y_true.shape={y_true.shape}, y_score.shape={y_score.shape}"
        )
    per_class = [average_precision(y_true[:, c], y_score[:, c]) for c in range(y_true.shape[1])]
    valid = [ap for ap in per_class if not np.isnan(ap)]
    if not valid:
        raise ValueError("mean_average_precision needs at least one class with a positive label.")
    return float(np.mean(valid))

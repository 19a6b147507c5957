"""The task suite's multi-label sound mixtures (`benchmarks.sound_mixtures`) and how the suite scores them."""

import os
import wave
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench_tasks import METRICS, TASKS
from benchmarks.make_report import task_scores
from benchmarks.sound_mixtures import CLIP_SAMPLES, EVENTS, MANIFEST, mixture, write_mixtures
from perceiver_tf.data import DataOptions, load_source, read_manifest
from perceiver_tf.metrics import mean_average_precision

pytestmark = pytest.mark.tensorflow_only  # a benchmark generator and tf.data loading: no backend code

PER_CLASS = 6  # 24 clips a draw


@pytest.fixture(scope="module")
def draws(tmp_path_factory):
    """The manifest paths of a training draw (seed 0), its repeat and a test draw (seed 1000)."""
    root = tmp_path_factory.mktemp("mixtures")
    paths = {}
    for name, seed in (("train", 0), ("again", 0), ("test", 1000)):
        write_mixtures(str(root / name), seed, PER_CLASS)
        paths[name] = str(root / name / MANIFEST)
    return paths


def test_manifest_lists_one_second_clips_of_one_to_three_distinct_classes(draws):
    files, labels = read_manifest(draws["train"])
    assert len(files) == PER_CLASS * len(EVENTS) // 2
    assert all(1 <= len(names) <= 3 and len(set(names)) == len(names) and set(names) <= set(EVENTS)
               for names in labels)
    assert len({tuple(names) for names in labels}) > len(labels) // 2  # the label sets vary
    assert {len(names) for names in labels} == {1, 2, 3}
    for file in files:
        with wave.open(file) as clip:
            assert (clip.getframerate(), clip.getnchannels(), clip.getnframes()) == (16000, 1, CLIP_SAMPLES)


def test_mixture_is_a_float_clip_in_range_with_sorted_labels():
    clip, names = mixture(np.random.default_rng(3))
    assert clip.shape == (CLIP_SAMPLES,) and clip.dtype == np.float32
    assert np.abs(clip).max() <= 1.0 and np.abs(clip).max() > 0.05
    assert names == sorted(names)


def test_test_draw_differs_from_the_training_draw_and_a_draw_repeats(draws):
    def contents(manifest):
        files, labels = read_manifest(manifest)
        return labels, [Path(f).read_bytes() for f in files]

    train, again, test = (contents(draws[name]) for name in ("train", "again", "test"))
    assert train == again
    assert train[0] != test[0]
    assert not set(train[1]) & set(test[1])


def test_the_cli_loader_reads_a_draw_as_multi_label_over_all_classes(draws):
    source = load_source(draws["train"], DataOptions())
    assert source.multi_label and source.class_names == sorted(EVENTS)
    assert source.num_train + source.num_val == PER_CLASS * len(EVENTS) // 2
    waveform, target = next(iter(source.train))
    assert waveform.shape == (CLIP_SAMPLES,) and target.shape == (len(EVENTS),)
    assert 1 <= float(target.numpy().sum()) <= 3


def test_the_suite_task_names_the_manifest_and_scores_in_the_library_map(tmp_path):
    task = TASKS["multilabel_sounds"]
    assert task.metric == "mAP" and task.data(str(tmp_path)) == os.path.join(str(tmp_path), MANIFEST)
    labels = np.array([[1, 0], [0, 1], [1, 1]])
    logits = np.array([[2.0, -1.0], [0.5, 0.2], [-0.3, 3.0]])
    assert METRICS["mAP"].score(labels, logits) == mean_average_precision(labels, logits)
    assert METRICS["accuracy"].score(np.array([0, 1, 1]), logits) == pytest.approx(2 / 3)


def test_report_reads_rows_written_before_tasks_named_their_metric():
    legacy = {"task": "spoken_words", "test_accuracy": 0.9, "val_accuracy": 0.8, "baseline_test_accuracy": 1.0}
    assert task_scores(legacy) == {**legacy, "metric": "accuracy", "test_score": 0.9, "val_score": 0.8,
                                   "baseline_test_score": 1.0}
    current = {"task": "multilabel_sounds", "metric": "mAP", "test_score": 0.8}
    assert task_scores(current) == current

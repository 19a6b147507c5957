"""tf.data pipelines: decode (parallel, cached) -> shuffle -> prepare/augment -> batch -> prefetch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from perceiver_tf.data.augment import mix_batch, mix_masked_batch
from perceiver_tf.data.errors import environment_problem, error_reason
from perceiver_tf.option_names import option

AUTOTUNE = tf.data.AUTOTUNE


@dataclass
class PipelineOptions:
    """How examples are batched and augmented.

    Attributes:
        batch_size: global batch size.
        seed: seeds shuffling and every random augmentation (stateless ops, so runs repeat).
        one_hot: emit one-hot labels (needed for label smoothing, MixUp and CutMix).
        mixup_alpha / cutmix_alpha: Beta parameters; 0 disables (CutMix is for images).
        cache: keep decoded examples in memory after the first epoch.
        shuffle_buffer: examples held for shuffling (default: the whole split).
        batch_multiple: > 1: every batch becomes `(inputs, labels, sample_weights)`, a last
            partial batch padded to a multiple of it with copies of its last example at weight 0
            (data parallelism over that many devices splits each batch evenly; at the batch size,
            an XLA-compiled step sees one shape: `workflows.train.batch_multiple`). The padding
            changes no metric (compiled as `weighted_metrics`) nor, with the
            "mean_with_sample_weight" loss reduction, the loss.
    """

    batch_size: int = 64
    seed: int = 0
    one_hot: bool = False
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    cache: bool = True
    shuffle_buffer: int | None = None
    batch_multiple: int = 1


def pad_to_multiple(inputs, labels, multiple: int):
    """`(inputs, labels, weights)`: the batch padded to a multiple of `multiple` examples by repeating
    its last one, `weights` 1.0 for the real examples and 0.0 for the copies (nested inputs too)."""
    size = tf.shape(tf.nest.flatten(labels)[0])[0]
    missing = (multiple - size % multiple) % multiple

    def pad(tensor):
        return tf.concat([tensor, tf.repeat(tensor[-1:], missing, axis=0)], axis=0)

    weights = tf.concat([tf.ones([size]), tf.zeros([missing])], axis=0)
    return tf.nest.map_structure(pad, inputs), tf.nest.map_structure(pad, labels), weights


def decode_files(paths: list[str], labels: list[int], decode) -> tf.data.Dataset:
    """`(decoded example, label)` for each file, decoded in parallel in a deterministic order."""
    files = tf.data.Dataset.from_tensor_slices((tf.constant(paths, tf.string), tf.constant(labels, tf.int32)))
    return files.map(lambda path, label: (decode(path), label), num_parallel_calls=AUTOTUNE, deterministic=True)


def probe_files(paths: list[str], probe) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Run `probe` on every file: `({path: probe value}, {path: why it failed})`.

    `probe(path)` maps a string scalar to a small tensor (a decoded file's shape or checksum).
    One parallel pass finds the files that fail (their elements are dropped by `ignore_errors`);
    only those run again, one by one in a graph as in the pass, for their error (`error_reason`).

    Raises:
        EnvironmentProblem: a file failed for want of something in the environment (e.g. no audio
            decoder), which would fail every file alike.
    """
    path_table = tf.constant(paths, tf.string)
    checked = tf.data.Dataset.range(len(paths)).map(
        lambda i: (i, probe(path_table[i])), num_parallel_calls=AUTOTUNE, deterministic=False
    ).ignore_errors()
    values = {paths[int(i)]: value for i, value in checked.as_numpy_iterator()}
    retry, reasons = tf.function(probe), {}
    for path in dict.fromkeys(p for p in paths if p not in values):
        try:
            values[path] = retry(tf.constant(path)).numpy()  # it failed only alongside the others
        except (tf.errors.OpError, ValueError) as error:
            problem = environment_problem(error)
            if problem is not None:  # no file can be read here: say so once, not once per file
                raise problem from None
            reasons[path] = error_reason(error, path)
    return values, reasons


def find_unreadable(paths: list[str], decode) -> dict[str, str]:
    """`{path: why it cannot be decoded}` for the files `decode` fails on (see `probe_files`)."""
    # Reduce the decoded values (not just their shape, which graph optimisation could fold away
    # together with the decode op itself).
    total = lambda decoded: tf.add_n([tf.reduce_sum(tf.cast(x, tf.float32)) for x in tf.nest.flatten(decoded)])  # noqa: E731
    return probe_files(paths, lambda path: total(decode(path)))[1]


def unreadable_error(unreadable: dict[str, str], what: str, shown: int = 20) -> ValueError:
    """The error for files that could not be decoded: how many, `path: reason` for the first `shown`, the fix."""
    listed = "\n  ".join(f"{path}: {reason}" for path, reason in list(unreadable.items())[:shown])
    more = f"\n  ... and {len(unreadable) - shown} more" if len(unreadable) > shown else ""
    return ValueError(f"{len(unreadable)} {what} could not be decoded; fix or remove them, or pass "
                      f"{option('skip_bad_files')}:\n  {listed}{more}")


def fill_cache(cached: tf.data.Dataset) -> tf.data.Dataset:
    """Read a `.cache()`d dataset once from start to end, so its in-memory cache is complete before
    anyone iterates it: a reader that stops early (Keras peeks at one batch to build the model) would
    otherwise discard the partial cache, with TensorFlow's "did not fully read the dataset being
    cached" warning, and decode those examples again."""
    cached.reduce(0, lambda count, _: count + 1)
    return cached


def batched(examples: tf.data.Dataset, processor, training: bool, num_classes: int,
            options: PipelineOptions, num_examples: int | None = None) -> tf.data.Dataset:
    """Turn `(decoded, label)` examples into model-ready `(inputs, labels)` batches.

    Training: cache (filled by one complete pass first: `fill_cache`) -> shuffle (seeded, reshuffled each epoch) -> `processor.prepare` with
    per-example stateless seeds -> batch -> MixUp/CutMix -> prefetch. Evaluation: cache ->
    deterministic `prepare` -> batch -> prefetch. With `options.batch_multiple` > 1, batches are
    padded to that multiple and carry sample weights (`pad_to_multiple`).
    """
    if options.cache:
        examples = fill_cache(examples.cache())
    seed = options.seed
    if training:
        buffer = options.shuffle_buffer or max(num_examples or 0, 1024)
        examples = examples.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    prepared = tf.data.Dataset.zip((examples, seeds)).map(
        lambda example, s: (processor.prepare(example[0], training, tf.cast(s % (2**31 - 1), tf.int32)), example[1]),
        num_parallel_calls=AUTOTUNE,
        deterministic=True,
    )
    if options.one_hot and prepared.element_spec[1].dtype.is_integer:  # multi-hot labels are already vectors
        prepared = prepared.map(lambda x, y: (x, tf.one_hot(y, num_classes)), num_parallel_calls=AUTOTUNE)
    dataset = prepared.batch(options.batch_size)
    cutmix_alpha = options.cutmix_alpha if processor.input_kind == "image" else 0.0
    if training and (options.mixup_alpha or cutmix_alpha):
        masked = isinstance(prepared.element_spec[0], dict)
        if masked and set(prepared.element_spec[0]) != {"inputs", "input_mask"}:
            raise ValueError("MixUp/CutMix mix one input tensor; they are not available for several inputs.")
        if not options.one_hot:
            raise ValueError("MixUp/CutMix need one-hot labels: set `one_hot=True`.")
        mix = ((lambda x, y, s: mix_masked_batch(x, y, s, options.mixup_alpha)) if masked  # recordings + step masks
               else (lambda x, y, s: mix_batch(x, y, s, options.mixup_alpha, cutmix_alpha)))
        batch_seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip((dataset, batch_seeds)).map(
            lambda batch, s: mix(*batch, tf.cast(s % (2**31 - 1), tf.int32)), num_parallel_calls=AUTOTUNE,
        )
    if options.batch_multiple > 1:
        dataset = dataset.map(lambda x, y: pad_to_multiple(x, y, options.batch_multiple), num_parallel_calls=AUTOTUNE)
    data_options = tf.data.Options()
    data_options.deterministic = True
    data_options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(data_options).prefetch(AUTOTUNE)

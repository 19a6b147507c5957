"""Data sources and tf.data pipelines for perceiver_tf (see `load_source`)."""

from perceiver_tf.data.byte_tokenizer import ByteTokenizer
from perceiver_tf.data.digits import DIGITS_CLASS_NAMES, load_digits_split
from perceiver_tf.data.errors import DataOptionError, DataWarning, error_reason
from perceiver_tf.data.formats import EXTENSIONS, MODALITIES, detect_modality
from perceiver_tf.data.manifest import read_manifest
from perceiver_tf.data.model_inputs import describe_inputs, preprocess
from perceiver_tf.data.pipeline import PipelineOptions, batched
from perceiver_tf.data.processors import PROCESSORS, processor_from_config
from perceiver_tf.data.sensors import (
    ACTIVITY_CLASS_NAMES,
    load_labelled_directory,
    load_time_series,
    pad_batch,
    resample,
    simulate_accelerometer,
)
from perceiver_tf.data.sources import (
    MODALITY_OPTIONS,
    DataOptions,
    DataSource,
    from_arrays,
    load_source,
)

__all__ = [
    "ACTIVITY_CLASS_NAMES",
    "DIGITS_CLASS_NAMES",
    "EXTENSIONS",
    "MODALITIES",
    "MODALITY_OPTIONS",
    "PROCESSORS",
    "ByteTokenizer",
    "DataOptionError",
    "DataOptions",
    "DataSource",
    "DataWarning",
    "PipelineOptions",
    "batched",
    "describe_inputs",
    "detect_modality",
    "error_reason",
    "from_arrays",
    "load_digits_split",
    "load_labelled_directory",
    "load_source",
    "preprocess",
    "load_time_series",
    "pad_batch",
    "processor_from_config",
    "read_manifest",
    "resample",
    "simulate_accelerometer",
]

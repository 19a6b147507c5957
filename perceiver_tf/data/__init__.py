"""Data sources and tf.data pipelines for perceiver_tf (see `load_source`).

Names are imported from their modules on first use (`perceiver_tf.lazy_exports`): the pipelines
need TensorFlow; `ByteTokenizer`, `DataOptions` and the digits loader do not.
"""

from perceiver_tf.lazy_exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "array_source": ("from_arrays",),
    "byte_tokenizer": ("ByteTokenizer",),
    "digits": ("DIGITS_CLASS_NAMES", "load_digits_split"),
    "errors": ("DataOptionError", "DataWarning", "error_reason"),
    "formats": ("EXTENSIONS", "MODALITIES", "detect_modality"),
    "manifest": ("read_manifest",),
    "model_inputs": ("describe_inputs", "preprocess"),
    "options": ("MODALITY_OPTIONS", "DataOptions", "modality_options_set"),
    "pipeline": ("PipelineOptions", "batched"),
    "processor_factory": ("make_processor", "processor_for_files"),
    "processors": ("PROCESSORS", "processor_from_config"),
    "sensors": ("ACTIVITY_CLASS_NAMES", "load_labelled_directory", "load_time_series", "pad_batch", "resample",
                "simulate_accelerometer"),
    "source": ("DataSource", "SourceKind", "register_source"),
    "sources": ("load_source", "source_kinds"),
    "ts_format": ("TsData", "TsFormatError", "read_ts", "write_ts"),
})

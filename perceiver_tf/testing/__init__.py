"""Test and benchmark scaffolding, kept out of the runtime packages: generated data sets of every
modality (`synthetic`) and SavedModel signatures run in a fresh Python without perceiver_tf
(`fresh_process`)."""

from perceiver_tf.lazy_exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "fresh_process": ("run_exports_in_fresh_process", "run_signatures_in_fresh_process"),
})

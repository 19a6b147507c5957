"""What a notebook and the `perceiver-tf` command both do: train, evaluate and predict, each written once.

`perceiver_tf.train(data, output_dir, **options)`, `perceiver_tf.evaluate(model, data)` and
`perceiver_tf.predict(model, inputs)` are the implementation; the CLI's subcommands parse flags into
their keywords. Names are imported from their modules on first use (`perceiver_tf.lazy_exports`).
"""

from perceiver_tf.lazy_exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "attention": ("plot_attention",),
    "evaluate": ("evaluate",),
    "export": ("export_model",),
    "model_files": ("load_model",),
    "options": ("TrainOptions",),
    "predict": ("predict", "predictions"),
    "train": ("TrainRun", "train"),
})

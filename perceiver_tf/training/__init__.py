"""Training: optimizer recipe, recipes chosen from the data, distribution strategies, fault-tolerant
fit/evaluate/save loop (one run per output directory, resumable only by the same run), fine-tuning
a trained model.

Names are imported from their modules on first use (`perceiver_tf.lazy_exports`): tf.distribute
needs TensorFlow, the optimizer recipe and the fine-tuning helpers do not.
"""

from perceiver_tf.lazy_exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "callbacks": ("AtomicBackupAndRestore", "BestModelCheckpoint", "ResumableCSVLogger"),
    "distribute": ("STRATEGIES", "make_strategy", "split_cpu", "worker_role"),
    "finetune": ("classifier_from_trained", "copy_backbone", "head_summary", "reuses_head"),
    "losses": ("ClassAccuracy", "ClassCrossentropy"),
    "optimizers": ("make_optimizer",),
    "recipes": ("RecipeChoice", "audio_choices", "epochs_for", "image_choices", "learning_rate_for",
                "num_points_for", "patience_for", "point_cloud_choices", "point_cloud_orientation", "preset_for",
                "sensor_choices"),
    "run_lock": ("OutputDirectoryError", "RunLock"),
    "trainer": ("TrainResult", "compile_classifier", "train_classifier"),
})

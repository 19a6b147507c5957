"""Training: optimizer recipe, distribution strategies, fault-tolerant fit/evaluate/save loop
(one run per output directory, resumable only by the same run), fine-tuning a trained model."""

from perceiver_tf.training.callbacks import AtomicBackupAndRestore, BestModelCheckpoint, ResumableCSVLogger
from perceiver_tf.training.distribute import STRATEGIES, make_strategy, split_cpu, worker_role
from perceiver_tf.training.finetune import classifier_from_trained, copy_backbone, head_summary, reuses_head
from perceiver_tf.training.optimizers import make_optimizer
from perceiver_tf.training.run_lock import OutputDirectoryError, RunLock
from perceiver_tf.training.trainer import TrainResult, compile_classifier, train_classifier

__all__ = [
    "STRATEGIES",
    "AtomicBackupAndRestore",
    "BestModelCheckpoint",
    "OutputDirectoryError",
    "ResumableCSVLogger",
    "RunLock",
    "TrainResult",
    "classifier_from_trained",
    "compile_classifier",
    "copy_backbone",
    "head_summary",
    "make_optimizer",
    "make_strategy",
    "reuses_head",
    "split_cpu",
    "train_classifier",
    "worker_role",
]

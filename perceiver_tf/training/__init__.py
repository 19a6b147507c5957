"""Training: optimizer recipe, distribution strategies, fault-tolerant fit/evaluate/save loop."""

from perceiver_tf.training.callbacks import AtomicBackupAndRestore, BestModelCheckpoint, ResumableCSVLogger
from perceiver_tf.training.distribute import STRATEGIES, make_strategy, split_cpu, worker_role
from perceiver_tf.training.optimizers import make_optimizer
from perceiver_tf.training.trainer import TrainResult, compile_classifier, train_classifier

__all__ = [
    "STRATEGIES",
    "AtomicBackupAndRestore",
    "BestModelCheckpoint",
    "ResumableCSVLogger",
    "TrainResult",
    "compile_classifier",
    "make_optimizer",
    "make_strategy",
    "split_cpu",
    "train_classifier",
    "worker_role",
]

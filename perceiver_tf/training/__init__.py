"""Training: optimizer recipe and the fit/evaluate/save loop."""

from perceiver_tf.training.optimizers import make_optimizer
from perceiver_tf.training.trainer import TrainResult, compile_classifier, train_classifier

__all__ = ["TrainResult", "compile_classifier", "make_optimizer", "train_classifier"]

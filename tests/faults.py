"""Fault injection shared by the training tests."""

import contextlib

import pytest

from perceiver_tf.training.callbacks import BestModelCheckpoint


@contextlib.contextmanager
def crash_after_each_epoch(exception: type[BaseException]):
    """Within the block, every epoch end raises `exception` once its files are saved (a crash after
    the first epoch's backup); the block expects that crash."""
    original = BestModelCheckpoint.on_epoch_end

    def crash_after_saving(self, epoch, logs=None):
        original(self, epoch, logs)
        raise exception

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BestModelCheckpoint, "on_epoch_end", crash_after_saving)
        with pytest.raises(exception):
            yield

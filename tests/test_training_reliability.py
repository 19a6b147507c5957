"""`train_classifier` never mixes two runs: one run per output directory (a lock), a backup resumed
only by the run that wrote it (`backup/run.json`), dead processes' temporaries removed, strict JSON."""

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from faults import crash_after_each_epoch

import perceiver_tf
from perceiver_tf.files import replace_atomically, write_json_atomic
from perceiver_tf.training import OutputDirectoryError, RunLock, compile_classifier, train_classifier
from perceiver_tf.training.callbacks import BestModelCheckpoint, StopWhenNoLongerBest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS_A = {"learning_rate": 0.01, "seed": 0, "preset": "tiny", "overrides": {"num_bands": 2}}
SETTINGS_B = {"learning_rate": 0.003, "seed": 1, "preset": "small", "overrides": {"num_bands": 4}}
TINY = {"num_latents": 8, "latent_dim": 16, "num_blocks": 1, "num_self_attends_per_block": 1,
        "num_cross_attends": 1, "num_bands": 2}


class Interrupted(Exception):
    """Stands for a crash after the first epoch's backup."""


def _model(**overrides):
    model = perceiver_tf.build_classifier("tiny", (8, 8, 1), 2, **{**TINY, **overrides})
    return compile_classifier(model, total_steps=8, optimizer="adamw", learning_rate=1e-2)


def _data(count):
    rng = np.random.default_rng(count)
    x, y = rng.random((count, 8, 8, 1), dtype="float32"), rng.integers(0, 2, count)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def _train(out, epochs=2, model=None, **kwargs):
    return train_classifier(model or _model(), _data(24), _data(8), epochs, out, verbose=0, tensorboard=False,
                            **kwargs)


def _history_epochs(out):
    with open(os.path.join(out, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _dead_pid():
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def sleeper():
    """A live process that is not this one."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def lock_holder(tmp_path):
    """`(output_dir, process)`: a subprocess holding `RunLock(output_dir)` until killed."""
    out = tmp_path / "run"
    script = ("import sys, time\nfrom perceiver_tf.training.run_lock import RunLock\n"
              "lock = RunLock(sys.argv[1]).acquire()\nprint('locked', flush=True)\ntime.sleep(120)\n")
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-c", script, str(out), "--fake-flag"], env=env,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    yield out, process
    process.kill()
    process.wait()


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """An output directory whose run (settings A) crashed after its first of 2 epochs."""
    out = tmp_path_factory.mktemp("interrupted") / "run"
    with crash_after_each_epoch(Interrupted):
        _train(out, settings=SETTINGS_A)
    assert (out / "backup" / "run.json").exists() and _history_epochs(out) == [0]
    return out


@pytest.fixture
def interrupted(interrupted_run, tmp_path):
    """A private copy of `interrupted_run`."""
    return shutil.copytree(interrupted_run, tmp_path / "run")


@pytest.mark.e2e
def test_a_second_run_is_refused_while_the_first_holds_the_lock(lock_holder):
    out, holder = lock_holder
    with pytest.raises(OutputDirectoryError) as refused:
        RunLock(out).acquire()
    message = str(refused.value)
    assert f"pid {holder.pid} on host " in message and "--fake-flag" in message and "--output-dir" in message
    assert "\n" not in message
    with pytest.raises(OutputDirectoryError, match=f"pid {holder.pid}"):
        _train(out, settings=SETTINGS_A)  # refused before any training
    assert not (out / "history.csv").exists()

    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with RunLock(out) as lock:  # the kernel released the dead holder's lock
        assert lock.held and json.loads((out / ".lock").read_text())["pid"] == os.getpid()
        with RunLock(out):  # re-entrant within one process: shares the hold
            pass
        assert lock.held and _lock_taken_elsewhere(out)  # the inner release kept the outer hold
    assert not (out / ".lock").exists()  # released; the directory held nothing else, so no trace is left
    (out / "notes.txt").write_text("a file of the user's")
    with RunLock(out):
        pass
    assert (out / ".lock").exists() and not _lock_taken_elsewhere(out)  # beside other files the lock file stays


def test_a_lock_file_unlinked_by_its_last_holder_is_not_locked_again(tmp_path, monkeypatch):
    """A run that opened `.lock` just before its last holder unlinked it (leaving the directory empty)
    must lock the file now at that path, or two runs would hold two files of one name."""
    import fcntl

    from perceiver_tf.training import run_lock

    out = tmp_path / "run"
    out.mkdir()
    real_flock, calls = fcntl.flock, []

    def unlinked_first(file, operation):  # the holder's release happens between our open and our flock
        if not calls:
            (out / ".lock").unlink()
        calls.append(operation)
        return real_flock(file, operation)

    monkeypatch.setattr(run_lock.fcntl, "flock", unlinked_first)
    with RunLock(out):
        monkeypatch.setattr(run_lock.fcntl, "flock", real_flock)
        assert len(calls) == 2 and _lock_taken_elsewhere(out)  # retried, and holds the file the path names


def _lock_taken_elsewhere(out) -> bool:
    """Whether a fresh open file of `out/.lock` (another holder, to the kernel) fails to take it."""
    import fcntl

    with open(out / ".lock") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(file, fcntl.LOCK_UN)
        return False


@pytest.mark.e2e
def test_resuming_with_other_settings_is_refused(interrupted):
    backup = sorted(os.listdir(interrupted / "backup"))
    with pytest.raises(OutputDirectoryError) as refused:
        _train(interrupted, settings=SETTINGS_B)
    message = str(refused.value)
    assert f"{interrupted / 'backup'}/ holds an interrupted run" in message and "--restart" in message
    assert ('(learning_rate 0.01 -> 0.003, overrides.num_bands 2 -> 4, preset "tiny" -> "small" and 1 more)'
            in message and "\n" not in message)
    assert sorted(os.listdir(interrupted / "backup")) == backup and _history_epochs(interrupted) == [0]


@pytest.mark.e2e
def test_resuming_with_another_model_is_refused_clearly(interrupted):
    with pytest.raises(OutputDirectoryError, match="backup/ holds an interrupted run .*a different model config"):
        _train(interrupted, model=_model(latent_dim=8), settings=SETTINGS_A)


@pytest.mark.e2e
def test_a_backup_without_its_record_is_refused(interrupted):
    (interrupted / "backup" / "run.json").unlink()
    with pytest.raises(OutputDirectoryError, match="backup/ .*without a record of its settings.*--restart"):
        _train(interrupted, settings=SETTINGS_A)


@pytest.mark.e2e
def test_resuming_with_the_same_settings_resumes_and_removes_dead_temporaries(interrupted, sleeper):
    dead, live = _dead_pid(), sleeper.pid
    for folder in (interrupted, interrupted / "backup"):
        (folder / f".tmp-{dead}-best.keras").write_bytes(b"partial")
    (interrupted / f".tmp-{dead}-history.csv").mkdir()
    (interrupted / f".tmp-{live}-best.keras").write_bytes(b"still being written")
    history = (interrupted / "history.csv").read_text().splitlines()
    assert history[0].endswith(",elapsed_seconds") and len(history) == 2
    # As if the first epoch had taken 1000 s: the resumed run's clock must go on from there.
    (interrupted / "history.csv").write_text("\n".join([history[0], history[1].rsplit(",", 1)[0] + ",1000.0", ""]))
    result = _train(interrupted, settings=SETTINGS_A)  # a new model object: another Keras name, same config
    assert result.resumed_from_epoch == 1 and result.epochs == 2 and _history_epochs(interrupted) == [0, 1]
    with open(interrupted / "history.csv") as f:
        elapsed = [float(row["elapsed_seconds"]) for row in csv.DictReader(f)]
    assert elapsed[0] == 1000.0 and 1000.0 < elapsed[1] < 1000.0 + 300
    assert sorted(p.name for p in interrupted.glob(".tmp-*")) == [f".tmp-{live}-best.keras"]
    assert not (interrupted / "backup").exists()


@pytest.mark.e2e
def test_restart_discards_the_backup_and_the_previous_history(interrupted):
    with open(interrupted / "history.csv", "a") as f:  # rows the fresh run must not keep
        f.write("".join(f"{epoch}" + ",0" * 4 + "\n" for epoch in range(1, 5)))
    result = _train(interrupted, epochs=1, settings=SETTINGS_B, restart=True)
    assert result.resumed_from_epoch == 0 and result.epochs == 1 and _history_epochs(interrupted) == [0]
    assert json.loads((interrupted / "metrics.json").read_text())["epochs"] == 1


def test_write_json_atomic_writes_strict_json(tmp_path):
    path = tmp_path / "metrics.json"
    write_json_atomic(path, {"val_loss": math.nan, "scores": [1.5, math.inf, {"low": -math.inf}], "epochs": 2})
    payload = json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"non-standard JSON: {name}"))
    assert payload == {"val_loss": None, "scores": [1.5, None, {"low": None}], "epochs": 2}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_replace_atomically_removes_its_temporary_on_failure(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("previous")

    def fail(tmp):
        tmp.write_text("partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(target, fail)
    assert os.listdir(tmp_path) == ["model.keras"] and target.read_text() == "previous"


def test_a_diverged_epoch_is_never_the_best(tmp_path):
    checkpoint = BestModelCheckpoint(tmp_path / "best.keras")
    checkpoint.on_epoch_end(0, {"val_accuracy": float("nan")})
    assert checkpoint.best is None and not os.listdir(tmp_path)


def test_a_tie_goes_to_the_lower_validation_loss_and_early_stopping_counts_from_the_best(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    checkpoint = BestModelCheckpoint(tmp_path / "best.keras")
    stop = StopWhenNoLongerBest(checkpoint, patience=2)
    for callback in (checkpoint, stop):
        callback.set_model(model)
    stopped = []
    for epoch, (accuracy, loss) in enumerate([(0.5, 1.0), (1.0, 0.6), (1.0, 0.4), (1.0, 0.5), (0.9, 0.3)]):
        model.stop_training = False
        checkpoint.on_epoch_end(epoch, {"val_accuracy": accuracy, "val_loss": loss})
        stop.on_epoch_end(epoch)
        stopped.append(model.stop_training)
    assert checkpoint.best_epoch == 2 and checkpoint.best == 1.0  # epoch 1 tied, with a higher loss
    assert stopped == [False, False, False, False, True]
    resumed = BestModelCheckpoint(tmp_path / "best.keras")  # a resumed run reads the same best
    assert (resumed.best, resumed.best_epoch, resumed.best_tie_breaker) == (1.0, 2, 0.4)


def _scores(checkpoint, rows, first_epoch=0):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    checkpoint.set_model(model)
    for epoch, (accuracy, loss) in enumerate(rows, start=first_epoch):
        checkpoint.on_epoch_begin(epoch)
        checkpoint.on_epoch_end(epoch, {"val_accuracy": accuracy, "val_loss": loss})
    return checkpoint


#: A lucky epoch (1) of an under-fitted model, then a steadily better-fitted one.
_NOISY = [(0.5, 1.0), (0.95, 0.5), (0.6, 0.9), (0.85, 0.4), (0.9, 0.35), (0.85, 0.3)]


def test_a_selection_window_passes_over_a_lucky_epoch(tmp_path):
    assert _scores(BestModelCheckpoint(tmp_path / "one.keras"), _NOISY).best_epoch == 1
    windowed = _scores(BestModelCheckpoint(tmp_path / "three.keras", window=3), _NOISY)
    assert windowed.best_epoch == 5 and windowed.best == pytest.approx((0.85 + 0.9 + 0.85) / 3)
    assert json.loads((tmp_path / "three.keras.json").read_text())["window"] == 3
    with pytest.raises(ValueError, match="window"):
        BestModelCheckpoint(tmp_path / "x.keras", window=0)


def test_a_resumed_run_takes_the_windows_earlier_epochs_from_the_history(tmp_path):
    history = tmp_path / "history.csv"
    rows = "".join(f"{epoch},{accuracy},{loss}\n" for epoch, (accuracy, loss) in enumerate(_NOISY[:4]))
    history.write_text("epoch,val_accuracy,val_loss\n" + rows + "9,0.0,9.0\n")  # a row past the resume point
    resumed = _scores(BestModelCheckpoint(tmp_path / "best.keras", window=3, history_path=history), _NOISY[4:],
                      first_epoch=4)
    uninterrupted = _scores(BestModelCheckpoint(tmp_path / "all.keras", window=3), _NOISY)
    assert resumed.best_epoch == uninterrupted.best_epoch == 5 and resumed.best == pytest.approx(uninterrupted.best)


@pytest.mark.e2e
def test_the_cli_refuses_a_busy_output_directory_before_reading_data(lock_holder, capsys):
    from perceiver_tf.cli import main

    out, holder = lock_holder
    assert main(["train", "--output-dir", str(out), "--data", "/nonexistent/data"]) == 1  # no data error: the lock
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: output directory") and f"pid {holder.pid}" in err[0]

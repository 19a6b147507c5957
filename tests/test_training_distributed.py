"""Data parallelism and fault tolerance through the CLI, in subprocesses (devices are fixed at TF start-up).

- MirroredStrategy over 2 logical CPU devices.
- MultiWorkerMirroredStrategy: 2 worker processes on 127.0.0.1, cluster given by TF_CONFIG.
- A run killed with SIGKILL mid-training and re-run with the same command resumes from its backup.
"""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from cli_flags import TINY_TRAIN_FLAGS

from perceiver_tf.cli import main
from perceiver_tf.testing.synthetic import write_image_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = [*TINY_TRAIN_FLAGS, "--verbose", "2", "--no-tensorboard"]
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.tensorflow_only]  # see pyproject.toml


def _env(**extra):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _train_command(data, out, *flags):
    return [sys.executable, "-m", "perceiver_tf.cli", "train", "--data", data, "--output-dir", out, *TINY, *flags]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("images"))
    write_image_folder(root, per_class=16)
    return root


def test_mirrored_strategy_on_two_logical_cpus(image_folder, tmp_path):
    out = str(tmp_path / "run")
    done = subprocess.run(_train_command(image_folder, out, "--epochs", "1", "--strategy", "mirrored",
                                         "--cpu-devices", "2"),
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "-> MirroredStrategy x2" in done.stdout
    assert json.load(open(os.path.join(out, "metrics.json")))["epochs"] == 1


def test_multi_worker_mirrored_strategy_two_processes(image_folder, tmp_path, capsys):
    out = str(tmp_path / "run")
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = [
        subprocess.Popen(
            _train_command(image_folder, out, "--epochs", "2", "--strategy", "multi_worker"),
            env=_env(TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
        assert "strategy multi_worker -> " in stdout and "x2; Keras backend tensorflow" in stdout
    print(outputs[0][0])  # the chief's run, for the report
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["epochs"] == 2
    assert not os.path.exists(os.path.join(out, ".workers"))  # worker 1 cleaned up its own copy
    # The chief's metrics.json is its model.keras's score on the validation split (seeded, as in training).
    capsys.readouterr()
    assert main(["evaluate", "--model", os.path.join(out, "model.keras"), "--data", image_folder, "--split", "val"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["accuracy"] == pytest.approx(metrics["val_accuracy"], abs=1e-6), (evaluated, metrics)


def test_resume_after_sigkill(image_folder, tmp_path):
    out, epochs = str(tmp_path / "run"), 6
    command = _train_command(image_folder, out, "--epochs", str(epochs))
    history = os.path.join(out, "history.csv")
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 500
        while not (os.path.exists(history) and len(list(csv.DictReader(open(history)))) >= 1):
            assert process.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        completed_before_kill = len(list(csv.DictReader(open(history))))
        time.sleep(0.5)  # into the next epoch
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert completed_before_kill < epochs and os.path.isdir(os.path.join(out, "backup"))

    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    print(done.stdout.splitlines()[-1])
    assert metrics["resumed_from_epoch"] >= completed_before_kill >= 1  # lost at most the epoch in flight
    assert metrics["epochs"] == epochs
    assert [int(r["epoch"]) for r in csv.DictReader(open(history))] == list(range(epochs))
    assert f"Epoch {metrics['resumed_from_epoch'] + 1}/{epochs}" in done.stdout
    assert not os.path.exists(os.path.join(out, "backup"))

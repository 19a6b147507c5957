"""Adding perceiver_tf to an environment that already has TensorFlow, Keras and NumPy changes none of them.

pip's own resolver decides it (`pip install --dry-run --report`), for the package with the extras a user
of such an environment would add: the report lists every distribution pip would install or replace.
Run in each CI environment (today's stack, and TensorFlow 2.16 with NumPy 1.26).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: What the user's environment already has and must keep: the frameworks and the pins they share.
KEPT = {"tensorflow", "tensorflow-cpu", "tensorflow-intel", "tf-keras", "keras", "numpy", "ml-dtypes", "protobuf",
        "tensorboard", "jax", "jaxlib"}

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.tensorflow_only]


def _installed(name: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(name)
    except PackageNotFoundError:
        return False
    return True


@pytest.mark.parametrize("extras", ["", "[cpu,data,tensorboard,litert,plots]"], ids=["plain", "with-extras"])
def test_pip_install_keeps_tensorflow_keras_and_numpy(tmp_path, extras):
    if extras and not _installed("tensorflow-cpu"):
        pytest.skip("the [cpu] extra is for environments whose TensorFlow is tensorflow-cpu")
    report = tmp_path / "report.json"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
                          f"{REPO}{extras}"], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    planned = {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
               for item in json.loads(report.read_text())["install"]}
    assert "perceiver-tf" in planned  # the report is about the package (else the check proves nothing)
    assert not KEPT & set(planned), {name: planned[name] for name in KEPT & set(planned)}

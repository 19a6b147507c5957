"""Every task of tests/test_tasks.py exported: SavedModel in one fresh process without perceiver_tf, and TFLite fp32.

A file of its own so that pytest-xdist (`--dist loadfile`) runs it beside the fast harness tests.
"""

import numpy as np
import pytest
from harness import run_export_test
from test_tasks import CASES

pytestmark = [pytest.mark.e2e, pytest.mark.tensorflow_only]  # see pyproject.toml


@pytest.mark.slow
def test_every_task_exports_to_a_fresh_process_and_tflite(tmp_path):
    cases = {name: (build(), make_inputs(np.random.default_rng(1))) for name, (build, make_inputs) in CASES.items()}
    run_export_test(cases, tmp_path)

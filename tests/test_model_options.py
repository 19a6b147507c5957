"""`perceiver_tf.model_options` (what `train` checks before TensorFlow loads) names exactly the models'
presets, tasks and keys, and checking a preset loads neither Keras nor TensorFlow."""

import subprocess
import sys

from perceiver_tf import model_options
from perceiver_tf.models import PRESETS, PerceiverClassifier
from perceiver_tf.models.presets import BACKBONE_KEYS


def test_the_light_tables_match_the_models():
    assert model_options.PRESET_TASKS == {name: preset.task for name, preset in PRESETS.items()}
    assert list(model_options.PRESET_TASKS) == list(PRESETS)
    assert model_options.BACKBONE_KEYS == BACKBONE_KEYS
    assert model_options.CLASSIFIER_KEYS == frozenset(PerceiverClassifier.task_keys)


def test_an_unknown_preset_is_refused_before_tensorflow_loads():
    code = ("import sys; from perceiver_tf.cli import main; status = main(['train', '--preset', 'nosuch']); "
            "print(status, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["2", "False", "False"], result
    assert result.stderr.startswith("error: unknown --preset 'nosuch'; valid presets: tiny, small, "), result.stderr

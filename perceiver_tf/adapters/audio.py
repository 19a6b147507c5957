"""`AudioAdapter`: raw waveforms cut into patches, or log-mel frames, + 1-D positions over time."""

from __future__ import annotations

from perceiver_tf.adapters.grid import GridAdapter
from perceiver_tf.layers.common import register


@register
class AudioAdapter(GridAdapter):
    """Audio `(T, C)`: a waveform `(samples, 1)` patched in time, or a spectrogram `(frames, mel bins)`.

    The paper's raw-audio AudioSet input is 61,440 samples with `patch_size=128`: 480 patches of
    128 samples + 1-D Fourier features over the patches (DeepMind's `AudioPreprocessor`,
    `samples_per_patch`). Log-mel input (`perceiver_tf.data.preprocessing`) is `(frames, bins)`
    without patches: one element per frame. (A spectrogram as a 2-D grid `(frames, bins, 1)`
    is an image to the model: use `ImageAdapter`.) Its element masks are per byte-array element
    (patch or frame); `SequenceAdapter`'s sensor tokens and per-step masks are not audio's.

    Args:
        input_shape: `(samples, channels)` or `(frames, mel bins)`.
        **kwargs: `GridAdapter` arguments.
    """

    input_kind = "audio"
    example_rank = 2
    layout = "(time, channels)"

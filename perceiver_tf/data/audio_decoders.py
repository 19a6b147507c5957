"""Compressed audio files (FLAC, MP3, OGG Vorbis/Opus) -> samples, with whichever decoder works here.

WAV is decoded in the graph (`wav.decode_wav`, pure TensorFlow: the serving path). The other formats
need a native codec, run on the host inside `tf.numpy_function`:

- **soundfile** (its wheels bundle libsndfile 1.2: FLAC, OGG Vorbis/Opus, MP3): the default, a
  dependency of perceiver_tf.
- **tensorflow-io** (`tfio.audio.AudioIOTensor`): tried only where soundfile is missing or cannot
  read a file, and only where its native ops load. They load on TensorFlow 2.16 with tensorflow-io
  0.37.1; on newer TensorFlow the package imports but every op fails (`libtensorflow_io.so:
  undefined symbol`), so it is probed once per process by decoding a tiny generated WAV file, not
  judged by its import.

Without a working decoder, decoding raises `MissingAudioDecoderError`, an environment problem
(one line naming the fix), which the data layer reports once instead of calling every file bad.
"""

from __future__ import annotations

import functools
import os
import tempfile
import warnings
import wave

import numpy as np

from perceiver_tf.data.errors import EnvironmentProblem
from perceiver_tf.data.formats import as_path

#: The fix named by `MissingAudioDecoderError`.
INSTALL_HINT = "pip install soundfile"


class MissingAudioDecoderError(EnvironmentProblem):
    """No decoder for compressed audio works here: the environment's problem, not the file's.

    Its message is one line naming what failed and `INSTALL_HINT`."""


def decode_compressed_audio(path: bytes | str) -> tuple[np.ndarray, np.int32]:
    """A FLAC/MP3/OGG/Opus file -> float32 samples `(T, channels)` in [-1, 1] and the sample rate.

    Tries the decoders in order of preference, each only once it is known to work here
    (`decoder_problem`: tensorflow-io is probed only when soundfile is missing or fails on a file);
    a file none of them reads raises the first decoder's error.

    Raises:
        MissingAudioDecoderError: no decoder works in this environment.
        Exception: the file cannot be decoded (the first decoder's own error, e.g. soundfile's
            `LibsndfileError: Format not recognised`).
    """
    path = as_path(path)
    first_error = None
    for name, (decode, _) in _DECODERS.items():
        if decoder_problem(name) is not None:
            continue
        try:
            samples, rate = decode(path)
            return np.asarray(samples, np.float32), np.int32(rate)
        except Exception as error:  # noqa: BLE001 - a decoder's own error type; the next decoder may read the file
            first_error = first_error or error
    if first_error is None:
        raise MissingAudioDecoderError(missing_decoder_message())
    raise first_error


def _decode_with_soundfile(path: str) -> tuple[np.ndarray, int]:
    import soundfile

    return soundfile.read(path, dtype="float32", always_2d=True)


def _decode_with_tensorflow_io(path: str) -> tuple[np.ndarray, int]:
    import tensorflow_io as tfio

    audio = tfio.audio.AudioIOTensor(path)
    samples = audio.to_tensor().numpy()
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    return samples, int(audio.rate.numpy())


@functools.cache
def decoder_problem(name: str) -> str | None:
    """None when decoder `name` ("soundfile", "tensorflow-io") works here, else why not (one line);
    probed once per process."""
    _, probe = _DECODERS[name]
    return probe()


def working_decoders() -> tuple[str, ...]:
    """The decoders that work in this environment, in order of preference (e.g. `("soundfile",)`)."""
    return tuple(name for name in _DECODERS if decoder_problem(name) is None)


def missing_decoder_message() -> str:
    """The one line for an environment without a working decoder: what each lacks, and the fix."""
    reasons = "; ".join(f"{name}: {decoder_problem(name)}" for name in _DECODERS)
    return f"no decoder for FLAC/MP3/OGG audio works in this environment ({reasons}); {INSTALL_HINT} (or use WAV files)"


def _soundfile_problem() -> str | None:
    try:
        import soundfile  # noqa: F401 - the import loads libsndfile, which is all it needs
    except (ImportError, OSError) as error:
        return f"not usable ({_first_line(error)})"
    return None


def _tensorflow_io_problem() -> str | None:
    """None when tensorflow-io's native ops decode a tiny WAV file; else why not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a broken install warns of each library it cannot load
            import tensorflow_io  # noqa: F401
    except ImportError:
        return "not installed"
    except Exception as error:  # noqa: BLE001 - a broken install fails in its own ways
        return f"does not import ({_first_line(error)})"
    with tempfile.TemporaryDirectory() as folder:
        probe = os.path.join(folder, "probe.wav")
        with wave.open(probe, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(8000)
            writer.writeframes(np.zeros(16, np.int16).tobytes())
        try:
            _decode_with_tensorflow_io(probe)
        except Exception as error:  # noqa: BLE001 - e.g. NotImplementedError: undefined symbol
            import tensorflow as tf

            return f"its native ops do not load on TensorFlow {tf.__version__} ({_first_line(error)})"
    return None


#: `{name: (decode(path) -> (samples, rate), probe() -> problem or None)}`, in order of preference.
_DECODERS = {"soundfile": (_decode_with_soundfile, _soundfile_problem),
             "tensorflow-io": (_decode_with_tensorflow_io, _tensorflow_io_problem)}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__

"""WAV bytes -> float32 samples in pure TensorFlow ops (training, evaluation and the serving graph alike).

Reads 8-, 16-, 24- and 32-bit PCM and 32- / 64-bit IEEE float, plain or WAVE_FORMAT_EXTENSIBLE,
with any chunks (LIST, fact, ...) around "fmt " and "data". Any other encoding fails with an error
naming it (e.g. "12-bit PCM WAV is not supported; convert to 16-bit PCM"). `truncation` tells, in
Python, whether a file ends inside its data chunk (it is then read up to its last whole frame).
"""

from __future__ import annotations

import os
import struct

import tensorflow as tf

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
#: `(format code, bits per sample)` -> the `_DECODERS` branch reading it.
_ENCODINGS = {(_PCM, 8): 0, (_PCM, 16): 1, (_PCM, 24): 2, (_PCM, 32): 3, (_FLOAT, 32): 4, (_FLOAT, 64): 5}
_CONVERT = "is not supported; convert to 16-bit PCM"


def _uint(encoded: tf.Tensor, offset: tf.Tensor, size: int) -> tf.Tensor:
    """The little-endian unsigned integer of `size` (2 or 4) bytes at `offset`, as int64."""
    raw = tf.cast(tf.io.decode_raw(tf.strings.substr(encoded, offset, size), tf.uint8), tf.int64)
    return tf.reduce_sum(raw * tf.constant([1, 1 << 8, 1 << 16, 1 << 24][:size], tf.int64))


def _find_chunks(encoded: tf.Tensor, length: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """`(fmt body offset, data body offset, data size)` of a RIFF/WAVE file; offsets are -1 when missing."""

    def more(offset, fmt, data, size):
        return (offset + 8 <= length) & ((fmt < 0) | (data < 0))

    def step(offset, fmt, data, size):
        chunk_id, chunk_size = tf.strings.substr(encoded, offset, 4), _uint(encoded, offset + 4, 4)
        fmt = tf.where((chunk_id == "fmt ") & (fmt < 0), offset + 8, fmt)
        is_data = (chunk_id == "data") & (data < 0)
        return (offset + 8 + chunk_size + chunk_size % 2, fmt, tf.where(is_data, offset + 8, data),
                tf.where(is_data, chunk_size, size))

    none = tf.constant(-1, tf.int64)
    _, fmt, data, size = tf.while_loop(more, step, (tf.constant(12, tf.int64), none, none, none))
    return fmt, data, size


def _unsupported_message(code: tf.Tensor, bits: tf.Tensor) -> tf.Tensor:
    """Why an encoding `(format code, bits per sample)` cannot be read, naming it (a string scalar)."""
    return tf.where(
        code == _PCM, tf.strings.format("{}-bit PCM WAV " + _CONVERT, [bits]),
        tf.where(code == _FLOAT, tf.strings.format("{}-bit float WAV " + _CONVERT, [bits]),
                 tf.strings.format("WAV format code {} (compressed: ADPCM, A-law, mu-law, ...) " + _CONVERT, [code])))


def _samples(raw: tf.Tensor, branch: tf.Tensor) -> tf.Tensor:
    """The sample bytes `raw` of encoding `branch` (`_ENCODINGS`) -> float32 `(samples,)` in [-1, 1]."""

    def ints(dtype, scale):
        return lambda: tf.cast(tf.io.decode_raw(raw, dtype), tf.float32) / scale

    def pcm24():
        triples = tf.cast(tf.reshape(tf.io.decode_raw(raw, tf.uint8), [-1, 3]), tf.int32)
        value = triples[:, 0] + triples[:, 1] * (1 << 8) + triples[:, 2] * (1 << 16)
        return tf.cast(tf.where(value >= 1 << 23, value - (1 << 24), value), tf.float32) / float(1 << 23)

    def pcm8():  # 8-bit PCM is unsigned, centred on 128
        return (tf.cast(tf.io.decode_raw(raw, tf.uint8), tf.float32) - 128.0) / 128.0

    return tf.switch_case(branch, [pcm8, ints(tf.int16, 32768.0), pcm24, ints(tf.int32, 2.0**31),
                                   ints(tf.float32, 1.0), ints(tf.float64, 1.0)])


def decode_wav(encoded: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A WAV file's bytes (string scalar) -> `(float32 samples (T, channels) in [-1, 1], int32 sample rate)`.

    A data chunk longer than the file (a truncated or still-streaming recording) is read up to the
    last whole frame.

    Raises:
        tf.errors.InvalidArgumentError: not a WAV file, no "fmt " / "data" chunk, or an
            unsupported encoding, each saying which.
    """
    length = tf.cast(tf.strings.length(encoded), tf.int64)
    head = tf.strings.join([tf.strings.substr(encoded, 0, 12), "\0" * 12])  # padded: short files compare unequal
    is_riff = (tf.strings.substr(head, 0, 4) == "RIFF") & (tf.strings.substr(head, 8, 4) == "WAVE")
    header = tf.debugging.Assert(is_riff, ["not a WAV file (no RIFF/WAVE header)"])
    with tf.control_dependencies([header]):
        fmt, data, size = _find_chunks(encoded, length)
    chunks = tf.debugging.Assert((fmt >= 0) & (fmt + 16 <= length) & (data >= 0),
                                 ["WAV file without a complete fmt chunk and a data chunk"])
    with tf.control_dependencies([chunks]):
        code, channels = _uint(encoded, fmt, 2), _uint(encoded, fmt + 2, 2)
        rate, bits = _uint(encoded, fmt + 4, 4), _uint(encoded, fmt + 14, 2)
    # WAVE_FORMAT_EXTENSIBLE: the real format code opens the sub-format GUID, 24 bytes into the chunk.
    code = tf.cond((code == _EXTENSIBLE) & (fmt + 26 <= length), lambda: _uint(encoded, fmt + 24, 2), lambda: code)
    branch = tf.constant(-1, tf.int32)
    for (known_code, known_bits), index in _ENCODINGS.items():
        branch = tf.where((code == known_code) & (bits == known_bits), index, branch)
    supported = tf.debugging.Assert(branch >= 0, [_unsupported_message(code, bits)])
    valid = tf.debugging.Assert((channels >= 1) & (rate >= 1), ["WAV header with 0 channels or a 0 Hz sample rate"])
    with tf.control_dependencies([supported, valid]):
        frame_bytes = channels * bits // 8
        frames = tf.minimum(size, length - data) // frame_bytes
        samples = _samples(tf.strings.substr(encoded, data, frames * frame_bytes), branch)
    return tf.reshape(samples, [-1, tf.cast(channels, tf.int32)]), tf.cast(rate, tf.int32)


#: Data-chunk sizes of a recording still being written (its final size unknown): not a truncation.
_STREAMING_SIZES = (0, 0xFFFFFFFF)


def truncation(path: str | os.PathLike) -> str | None:
    """Why the WAV file at `path` is shorter than its header says ("holds 1,000 of the 4,000 data bytes
    its header declares"), or None: a whole file, a streaming header, or not a WAV file this can parse
    (decoding reports those)."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            head = file.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
                return None
            offset = 12
            while offset + 8 <= size:
                file.seek(offset)
                chunk_id, chunk_size = struct.unpack("<4sI", file.read(8))
                if chunk_id == b"data":
                    held = size - offset - 8
                    if held >= chunk_size or chunk_size in _STREAMING_SIZES:
                        return None
                    return f"holds {held:,} of the {chunk_size:,} data bytes its header declares"
                offset += 8 + chunk_size + chunk_size % 2
    except OSError:
        return None
    return None

"""Video clips (a folder of frames, or one `.npy` array) -> fixed-size `(T, H, W, C)` model inputs."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from perceiver_tf.data.formats import EXTENSIONS, as_path
from perceiver_tf.data.images import image_file_shape
from perceiver_tf.data.npy_files import read_npy
from perceiver_tf.data.preprocessing import IMAGE_DEFAULTS, decode_image, fixed_length, image_to_model_input

NO_FRAMES = "an example folder has no frames and no .npy video"
_FRAME_PATTERN = r".*\.(" + "|".join(e.lstrip(".") for e in EXTENSIONS["image"]) + ")"


def _load_npy_video(path, mmap_mode: str | None = None) -> np.ndarray:
    """A `.npy` video as `(T, H, W, C)`, checked for its shape (and, when read whole, finite values)."""
    path = as_path(path)
    video = read_npy(path, mmap_mode)
    if video.ndim == 3:
        video = video[..., None]
    if video.ndim != 4 or 0 in video.shape:
        raise ValueError(f"{path}: a video array must be (frames, height, width[, channels]); got {video.shape}")
    if mmap_mode is None and not np.isfinite(video).all():
        raise ValueError(f"{path}: the video has NaN or infinite values")
    return video


def _npy_video(path) -> np.ndarray:
    """`tf.numpy_function` body: a `.npy` video `(T, H, W, C)` as float32 pixels in 0-255."""
    video = _load_npy_video(path)
    # uint8 pixels, or floats already in [0, 1] (scaled back to the 0-255 range the config scales).
    return (video if video.dtype == np.uint8 else np.asarray(video, np.float32) * 255.0).astype(np.float32)


def video_frame_files(example_dir: tf.Tensor) -> tf.Tensor:
    """The image files of an example folder, sorted by name (string `(T,)`)."""
    files = tf.io.matching_files(tf.strings.join([example_dir, "/*"]))  # sorted by name (the op sorts)
    return tf.boolean_mask(files, tf.strings.regex_full_match(tf.strings.lower(files), _FRAME_PATTERN))


def clip_frame_shape(example_dir: tf.Tensor) -> tf.Tensor:
    """The `(H, W, C)` of a clip's frames (int32 `(3,)`): its `.npy` video's (read as a memory map), else its
    first frame file's."""
    arrays = tf.io.matching_files(tf.strings.join([example_dir, "/*.npy"]))

    def from_npy():
        shape = tf.numpy_function(lambda path: np.asarray(_load_npy_video(path, "r").shape[1:], np.int32), [arrays[0]], tf.int32)
        return tf.ensure_shape(shape, [3])

    def from_frames():
        files = video_frame_files(example_dir)
        tf.debugging.assert_positive(tf.size(files), message=NO_FRAMES)
        return image_file_shape(files[0])

    return tf.cond(tf.size(arrays) > 0, from_npy, from_frames)


class VideoProcessor:
    """Turns one clip into `(num_frames, H, W, C)` floats: frames resized and scaled like images,
    then cropped or zero-padded in time (a random crop in training, the centre otherwise).

    A clip is an example folder holding either its frames as image files (sorted by name) or
    one `.npy` array `(T, H, W[, C])` of uint8 pixels (or floats in [0, 1]).

    Args:
        image_size: `(H, W)` of every frame.
        channels: 1 (grey) or 3 (RGB).
        num_frames: frames per example.
    """

    modality = "video"
    input_kind = "video"
    bytes_input = None

    def __init__(self, image_size: tuple[int, int], channels: int = 3, num_frames: int = 8,
                 scale: float = IMAGE_DEFAULTS["scale"], offset: float = IMAGE_DEFAULTS["offset"]):
        if channels not in (1, 3) or num_frames < 1 or len(image_size) != 2 or min(image_size) < 1:
            raise ValueError(
                f"A video needs channels 1 or 3, num_frames >= 1 and two positive image sizes. Received: "
                f"image_size={image_size}, channels={channels}, num_frames={num_frames}"
            )
        self.config = {"modality": "video", "image_size": [int(s) for s in image_size], "channels": int(channels),
                       "num_frames": int(num_frames), "scale": scale, "offset": offset}

    @classmethod
    def from_config(cls, config: dict) -> "VideoProcessor":
        return cls(config["image_size"], config["channels"], config["num_frames"],
                   config.get("scale", IMAGE_DEFAULTS["scale"]), config.get("offset", IMAGE_DEFAULTS["offset"]))

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.config["num_frames"], *self.config["image_size"], self.config["channels"])

    def decode_file(self, example_dir: tf.Tensor) -> tf.Tensor:
        """An example folder -> resized, scaled `(T, H, W, C)` float32 (all its frames: the cacheable form)."""
        channels = self.config["channels"]
        arrays = tf.io.matching_files(tf.strings.join([example_dir, "/*.npy"]))

        def from_npy():
            video = tf.numpy_function(_npy_video, [arrays[0]], tf.float32)
            video = tf.ensure_shape(video, [None, None, None, None])
            have = tf.shape(video)[-1]
            if channels == 3:
                video = tf.cond(have == 1, lambda: tf.tile(video, [1, 1, 1, 3]), lambda: video[..., :3])
            else:
                video = tf.cond(have == 1, lambda: video, lambda: tf.image.rgb_to_grayscale(video[..., :3]))
            return tf.ensure_shape(video, [None, None, None, channels])

        def from_frames():
            files = video_frame_files(example_dir)
            tf.debugging.assert_positive(tf.size(files), message=NO_FRAMES)
            first = tf.cast(decode_image(tf.io.read_file(files[0]), channels), tf.float32)
            return tf.map_fn(
                lambda f: tf.image.resize(tf.cast(decode_image(tf.io.read_file(f), channels), tf.float32),
                                          tf.shape(first)[:2]),
                files, fn_output_signature=tf.TensorSpec([None, None, channels], tf.float32))

        video = tf.cond(tf.size(arrays) > 0, from_npy, from_frames)
        return image_to_model_input(video, self.config)

    def prepare(self, video: tf.Tensor, training: bool, seed: tf.Tensor) -> tf.Tensor:
        clip = fixed_length(video, self.config["num_frames"], seed=seed if training else None)
        return tf.ensure_shape(clip, self.input_shape)

"""Image files -> model inputs: decode, centre crop, resize, scale, optional RandAugment and pixel permutation."""

from __future__ import annotations

import tensorflow as tf

from perceiver_tf.data.preprocessing import (
    IMAGE_DEFAULTS,
    channel_values,
    check_image_config,
    decode_image,
    image_to_model_input,
    permute_pixels,
    pixel_range,
)


def image_file_shape(path: tf.Tensor, channels: int = 0) -> tf.Tensor:
    """An image file's `(H, W, C)` (int32 `(3,)`), decoded as `ImageProcessor` decodes it (`channels=0`: its own)."""
    return tf.shape(tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False))


class ImageProcessor:
    """Turns image files (or decoded uint8 images) into `(H, W, C)` float model inputs.

    Args:
        image_size: `(H, W)` the model sees.
        channels: 1 (grey) or 3 (RGB); files are converted on decode.
        rand_augment: apply `keras.layers.RandAugment` to training images.
        pixel_permutation_seed: a fixed permutation of the `H * W` pixels (paper's permuted
            ImageNet), applied to training, evaluation and serving inputs alike.
        scale, offset: model input = pixel * scale + offset; one number, or a list of `channels`
            per-channel values (e.g. ImageNet mean/std normalisation).
        crop_fraction: centre-crop the square of side `floor(crop_fraction * min(H0, W0))` first
            (in (0, 1]; None: no crop).
        resize_method: "bilinear" (None: the default) or "bicubic".

    Raises:
        ValueError: an invalid argument (one line, naming it).
    """

    modality = "image"
    input_kind = "image"
    bytes_input = "image_bytes"

    def __init__(
        self,
        image_size: tuple[int, int],
        channels: int = 3,
        rand_augment: bool = False,
        pixel_permutation_seed: int | None = None,
        scale: float | list[float] = IMAGE_DEFAULTS["scale"],
        offset: float | list[float] = IMAGE_DEFAULTS["offset"],
        crop_fraction: float | None = None,
        resize_method: str | None = None,
    ):
        if channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels}")
        if len(image_size) != 2 or min(image_size) < 1:
            raise ValueError(f"`image_size` must be two positive ints. Received: image_size={image_size}")
        self.config = {"modality": "image", "image_size": [int(s) for s in image_size], "channels": channels,
                       "scale": scale, "offset": offset}
        if crop_fraction is not None:
            self.config["crop_fraction"] = crop_fraction
        if resize_method is not None:
            self.config["resize_method"] = resize_method
        check_image_config(self.config)
        self.config.update(scale=_listed(scale), offset=_listed(offset))
        if pixel_permutation_seed is not None:
            self.config["pixel_permutation_seed"] = int(pixel_permutation_seed)
        self._rand_augment = None
        if rand_augment:
            import keras

            # float32 whatever the global (e.g. mixed-precision) policy: this runs in tf.data. RandAugment sees
            # the pixels' own range, `offset + scale * [0, 255]` (per-channel values are mapped to [0, 1] first).
            value_range = (0.0, 1.0) if self._per_channel else pixel_range(self.config)
            self._rand_augment = keras.layers.RandAugment(value_range=value_range, num_ops=2, factor=0.5,
                                                          dtype="float32")

    @property
    def _per_channel(self) -> bool:
        return any(isinstance(self.config[key], list) for key in ("scale", "offset"))

    def with_options(self, options) -> "ImageProcessor":
        """Itself: every image option is applied when the images are read (`make_processor`)."""
        return self

    @classmethod
    def from_config(cls, config: dict, rand_augment: bool = False) -> "ImageProcessor":
        """The processor of a model's `metadata["preprocessing"]` (evaluation-time unless `rand_augment`)."""
        return cls(config["image_size"], config["channels"], rand_augment=rand_augment,
                   pixel_permutation_seed=config.get("pixel_permutation_seed"),
                   scale=config.get("scale", IMAGE_DEFAULTS["scale"]),
                   offset=config.get("offset", IMAGE_DEFAULTS["offset"]),
                   crop_fraction=config.get("crop_fraction"),
                   resize_method=config.get("resize_method"))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (*self.config["image_size"], self.config["channels"])

    def decode_file(self, path: tf.Tensor) -> tf.Tensor:
        """File path -> cropped, resized, scaled `(H, W, C)` float32 (the cacheable form)."""
        return self.decode_bytes(tf.io.read_file(path))

    def decode_bytes(self, encoded: tf.Tensor) -> tf.Tensor:
        """Encoded PNG/JPEG/BMP/GIF bytes -> cropped, resized, scaled `(H, W, C)` float32."""
        return self.from_decoded(decode_image(encoded, self.config["channels"]))

    def from_decoded(self, image: tf.Tensor) -> tf.Tensor:
        """uint8 `(H0, W0, C0)` -> cropped, resized, scaled `(H, W, C)` float32."""
        channels = self.config["channels"]
        if image.shape[-1] == 1 and channels == 3:
            image = tf.image.grayscale_to_rgb(image)
        elif image.shape[-1] == 3 and channels == 1:
            image = tf.image.rgb_to_grayscale(image)
        return image_to_model_input(image, self.config)

    def prepare(self, image: tf.Tensor, training: bool, seed: tf.Tensor) -> tf.Tensor:
        """Cached image -> model input; RandAugment (training only), then the pixel permutation."""
        del seed  # RandAugment draws from its own seeded generator.
        if training and self._rand_augment is not None:
            image = self._augment(image)
        return permute_pixels(image, self.config)

    def _augment(self, image: tf.Tensor) -> tf.Tensor:
        """RandAugment in the pixels' range; per-channel normalised pixels go through [0, 1] and back."""
        if not self._per_channel:
            return self._rand_augment(image, training=True)
        scale, offset = (tf.constant(values, tf.float32) for values in channel_values(self.config))
        unit = (image - offset) / (255.0 * scale)
        return self._rand_augment(unit, training=True) * (255.0 * scale) + offset


def _listed(value: float | list[float] | tuple[float, ...]) -> float | list[float]:
    """A scalar as is; per-channel values as a JSON-ready list of floats."""
    return [float(v) for v in value] if isinstance(value, (list, tuple)) else value

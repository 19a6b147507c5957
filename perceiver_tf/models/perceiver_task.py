"""`PerceiverTask`: the base of every model built on a `PerceiverBackbone` (classifier, Perceiver IO)."""

from __future__ import annotations

import warnings

import keras

from perceiver_tf.backend_support import default_jit_compile, resolve_jit_compile
from perceiver_tf.layers.common import register
from perceiver_tf.models.perceiver_backbone import PerceiverBackbone, deserialize_dtype
from perceiver_tf.models.preprocessor import Preprocessor, preprocessor_from_config
from perceiver_tf.models.presets import BACKBONE_KEYS, backbone_kwargs, get_preset


def require_backbone(backbone) -> PerceiverBackbone:
    """Return `backbone` if it is a `PerceiverBackbone`, else raise a ValueError naming what it is."""
    if not isinstance(backbone, PerceiverBackbone):
        raise ValueError(f"`backbone` must be a PerceiverBackbone. Received: {type(backbone).__name__}")
    return backbone


#: Steps ahead (of `optimizer.iterations`) at which a schedule must also be 0 to count as ended: a
#: warm-up from 0 is 0 at step 0 only.
_STEPS_AHEAD = (0, 1, 10, 100)


def ended_learning_rate(optimizer) -> str | None:
    """Why `optimizer` cannot change any weight, or `None`: its learning rate is 0 (or negative) now
    and, for a `LearningRateSchedule`, at the next steps too (a cosine decay that reached its end,
    as in every model `perceiver-tf train` saves). Never raises: a rate it cannot read is `None`."""
    if optimizer is None:
        return None
    try:
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer delegates
        schedule = getattr(inner, "_learning_rate", None)
        step = int(keras.ops.convert_to_numpy(inner.iterations))
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            rates = [float(keras.ops.convert_to_numpy(schedule(step + ahead))) for ahead in _STEPS_AHEAD]
            if max(rates) > 0:
                return None
            config = schedule.get_config()
            total = (config.get("decay_steps") or 0) + (config.get("warmup_steps") or 0)
            of_total = f" of {total}" if total else ""
            return (f"the optimizer's learning-rate schedule has ended (learning rate {rates[0]:g} at step "
                    f"{step}{of_total}; a model saved at the end of training)")
        rate = float(keras.ops.convert_to_numpy(inner.learning_rate))
    except Exception:  # noqa: BLE001 - a check before fit must never stop fit
        return None
    return None if rate > 0 else f"the optimizer's learning rate is {rate:g}"


def warn_if_untrainable(model: keras.Model, stacklevel: int = 1) -> bool:
    """Warn (one-line `UserWarning`) when `model.fit` would not change any weight because the
    optimizer's learning rate has reached 0; return whether it warned. `stacklevel` 1 names the
    caller's line, 2 its caller's."""
    reason = ended_learning_rate(getattr(model, "optimizer", None))
    if reason is None:
        return False
    warnings.warn(f"{reason}: fit() will not change the weights. Recompile first, e.g. "
                  "perceiver_tf.training.compile_classifier(model, total_steps, learning_rate=1e-4), "
                  "or use `perceiver-tf train --init-from`.", UserWarning, stacklevel=stacklevel + 1)
    return True


@register
class PerceiverTask(keras.Model):
    """A functional model `backbone.input -> backbone -> heads`, carrying `metadata` in its `.keras` file.

    Subclasses build their heads on `self.backbone(self.backbone.input)` and call
    `super().__init__(backbone, outputs, metadata=...)`. The backbone stays one nested layer
    ("backbone"), so its weights can be reused by another task (fine-tuning, a new head).

    The task owns its preprocessing (`preprocessor`, a `Preprocessor` layer saved in the `.keras`
    file); `metadata["preprocessing"]` shows its config and is never stored apart from it, so the
    two cannot differ. A `metadata` with "preprocessing" (as models saved before the layer existed
    hold) builds the preprocessor from it.

    Args:
        backbone: a `PerceiverBackbone`.
        outputs: the symbolic outputs built on the backbone's latents.
        metadata: JSON-serialisable dict saved with the model (class names, modality, ...).
        preprocessor: a `Preprocessor` (default: from `metadata["preprocessing"]`, else none).
    """

    #: Constructor arguments of the subclass that `from_preset` may set (besides the backbone's).
    task_keys: tuple[str, ...] = ()

    def __init__(self, backbone: PerceiverBackbone, outputs, metadata: dict | None = None,
                 preprocessor: Preprocessor | None = None, **kwargs):
        require_backbone(backbone)
        super().__init__(inputs=backbone.input, outputs=outputs, **kwargs)
        self.dtype_policy = backbone.dtype_policy  # the backbone's policy (a functional model ignores `dtype`)
        # The backbone's adapters check shapes in `__call__` with messages that name the axis.
        self.input_spec = None
        self.backbone = backbone
        metadata = dict(metadata or {})
        preprocessing = metadata.pop("preprocessing", None)
        if preprocessor is None and preprocessing is not None:
            preprocessor = preprocessor_from_config(preprocessing)
        if preprocessor is not None and not isinstance(preprocessor, Preprocessor):
            raise ValueError(f"`preprocessor` must be a perceiver_tf Preprocessor. Received: {type(preprocessor).__name__}")
        self._stored_metadata = metadata
        self.preprocessor = preprocessor

    @property
    def metadata(self) -> dict:
        """What the model records besides its weights (a copy): class names, modality, the data it was
        trained on, its recipe, ... and "preprocessing", the config of `preprocessor`."""
        if self.preprocessor is None:
            return dict(self._stored_metadata)
        return {**self._stored_metadata, "preprocessing": self.preprocessor.config}

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras wraps errors raised inside `call` with a dump of the arguments.
        self.backbone.check_inputs(inputs, self.name)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None, mask=None, **kwargs):
        # Checked again here: JAX's fit/evaluate/predict run `stateless_call`, which bypasses `__call__`.
        # `training` is named in the signature: Keras' trainers pass `training=True` only to a model
        # whose `call` declares it (`_call_has_training_arg`); hidden in `**kwargs` it was never passed,
        # so `fit` ran dropout, batch normalisation and the cross-attention's recomputed gradient as
        # in inference.
        self.backbone.check_inputs(inputs, self.name)
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, with a `UserWarning` first when the optimizer's learning rate has
        reached 0 (`warn_if_untrainable`): e.g. a model reloaded with `keras.models.load_model`
        brings back its optimizer at the end of its cosine schedule, so `fit` would change nothing.
        (A resumed run is compiled afresh: `BackupAndRestore` restores its step count later.)"""
        warn_if_untrainable(self, stacklevel=2)
        self._build_optimizer_before_tracing()
        return super().fit(*args, **kwargs)

    def train_on_batch(self, *args, **kwargs):
        """`keras.Model.train_on_batch`, with the optimizer built before its step is traced (as in `fit`)."""
        self._build_optimizer_before_tracing()
        return super().train_on_batch(*args, **kwargs)

    def _build_optimizer_before_tracing(self) -> None:
        """Create the optimizer's slot variables before the first training step is traced.

        Keras' TensorFlow trainer without a distribution strategy defers that to the trace of the
        train function; a `tf.function` whose first trace creates variables is traced twice, which
        cost the README demo about 3.5 s of its first epoch. (With a strategy, and on JAX, Keras
        builds the optimizer before tracing itself.)
        """
        optimizer = getattr(self, "optimizer", None)
        if (keras.backend.backend() == "tensorflow" and self.built and optimizer is not None
                and not optimizer.built and getattr(self, "_distribute_strategy", None) is None):
            optimizer.build(self.trainable_variables)

    def get_compile_config(self):
        """Keras' compile config, with `jit_compile` saved as "auto" when it is the running backend's
        default (`backend_support.default_jit_compile`): a `.keras` file compiled on JAX (XLA) then
        reloads on TensorFlow with TensorFlow's default, not with XLA forced on. A choice that
        differs from the default is kept."""
        config = super().get_compile_config()
        if config and config.get("jit_compile") == default_jit_compile(self):
            config = {**config, "jit_compile": "auto"}
        return config

    def compile(self, *args, jit_compile="auto", **kwargs):
        """`keras.Model.compile`, with `jit_compile="auto"` meaning perceiver_tf's measured default
        (`backend_support.default_jit_compile`: XLA under JAX, and under TensorFlow for fixed input
        shapes on one device but chunked attention on a CPU)."""
        super().compile(*args, jit_compile=resolve_jit_compile(jit_compile, self), **kwargs)

    def compile_from_config(self, config):
        """Keras' `compile_from_config` (this class overrides `compile` only to resolve `jit_compile`)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        config = super().get_config()
        config.update(backbone=keras.saving.serialize_keras_object(self.backbone), metadata=self._stored_metadata,
                      preprocessor=keras.saving.serialize_keras_object(self.preprocessor))
        return config

    @classmethod
    def from_config(cls, config):
        config = deserialize_dtype(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.saving.deserialize_keras_object(config["preprocessor"])
        return cls(**config)

    @classmethod
    def from_preset(cls, preset: str, input_shape=None, input_kind=None, metadata: dict | None = None,
                    **overrides) -> "PerceiverTask":
        """The task on the backbone of `preset` (see `perceiver_tf.list_presets()`).

        Args:
            preset: a preset name.
            input_shape / input_kind: the examples (default: the preset's reference setting);
                dicts for several inputs.
            metadata: saved with the model; `{"preset": preset}` is added.
            **overrides: backbone arguments (`num_latents`, `num_bands`, `use_input_mask`,
                `dtype`, ...) and this task's own arguments (`task_keys`), e.g. `num_classes`.
        """
        spec = get_preset(preset)
        task = {k: overrides.pop(k) for k in cls.task_keys if k in overrides}
        name = overrides.pop("name", None)
        unknown = sorted(set(overrides) - BACKBONE_KEYS)
        if unknown:
            valid = ", ".join(sorted(BACKBONE_KEYS | set(cls.task_keys) | {"name"}))
            raise ValueError(f"Unknown override(s) {unknown} for {cls.__name__}.from_preset. Valid: {valid}")
        backbone = PerceiverBackbone(**backbone_kwargs(preset, input_shape, input_kind, overrides), name="backbone")
        extra = {"name": name} if name else {}
        return cls(backbone, **cls.preset_task_kwargs(spec, task), metadata={"preset": preset, **(metadata or {})},
                   **extra)

    @classmethod
    def preset_task_kwargs(cls, spec, task: dict) -> dict:
        """The task's constructor arguments for a preset, given the caller's `task` overrides."""
        return task

"""Learning-rate schedules the Keras built-ins lack (serializable, so saved models resume)."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="ganzoo")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``initial_learning_rate`` for ``decay_start`` steps, then linearly to 0 over ``decay_steps``
    (CycleGAN, Zhu et al. 2017 sec. 7.1: 100 epochs constant, then 100 epochs of linear decay)."""

    def __init__(self, initial_learning_rate: float, decay_start: int, decay_steps: int):
        if decay_start < 0 or decay_steps <= 0:
            raise ValueError(f"need decay_start >= 0 and decay_steps > 0, got {decay_start} and {decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_start = int(decay_start)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        progress = keras.ops.clip((step - self.decay_start) / self.decay_steps, 0.0, 1.0)
        return self.initial_learning_rate * (1.0 - progress)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_start": self.decay_start,
                "decay_steps": self.decay_steps}

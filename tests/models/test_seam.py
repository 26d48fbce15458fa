"""The backend seam (ganzoo.seam) on both backends: gradients of a loss closure, the
closure's own effects (batch-norm statistics, random draws) happening exactly once, input
gradients for penalties, and a jitted step that carries the model's whole state."""

import keras
import numpy as np
import pytest
from keras import ops

from ganzoo import seam

pytestmark = pytest.mark.both_backends


def _net():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4, name="dense")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.5, name="bn")(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="out")(x))


def test_gradients_match_finite_differences_and_effects_happen_once():
    net = _net()
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    mean_before = ops.convert_to_numpy(net.get_layer("bn").moving_mean).copy()

    def loss_fn():
        out = net(x, training=True)
        return ops.mean(ops.square(out)), out

    loss, out, grads = seam.gradients(loss_fn, net.trainable_variables)
    assert out.shape == (8, 1)
    # The batch-norm statistics moved once (momentum 0.5: halfway to the batch mean).
    batch_mean = ops.convert_to_numpy(net.get_layer("dense")(x)).mean(axis=0)
    np.testing.assert_allclose(ops.convert_to_numpy(net.get_layer("bn").moving_mean),
                               0.5 * mean_before + 0.5 * batch_mean, rtol=1e-5, atol=1e-6)
    # Finite differences of the loss in training mode (batch statistics) for the output bias.
    bias = net.get_layer("out").bias
    index = [id(v) for v in net.trainable_variables].index(id(bias))
    eps = 1e-2

    def loss_at(delta):
        bias.assign(ops.convert_to_numpy(bias) + delta)
        value = float(ops.convert_to_numpy(ops.mean(ops.square(net(x, training=True)))))
        bias.assign(ops.convert_to_numpy(bias) - delta)
        return value

    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    np.testing.assert_allclose(float(ops.convert_to_numpy(grads[index])[0]), numeric, rtol=1e-3, atol=1e-4)
    assert float(ops.convert_to_numpy(loss)) > 0


def test_random_draws_inside_a_closure_advance_the_seed_once():
    seed = keras.random.SeedGenerator(3)
    w = keras.Variable(np.ones((2,), "float32"))
    state_before = ops.convert_to_numpy(seed.state).copy()
    loss, draw, (grad,) = seam.gradients(
        lambda: (lambda noise: (ops.sum(w.value * noise), noise))(keras.random.normal((2,), seed=seed)), [w])
    np.testing.assert_allclose(ops.convert_to_numpy(grad), ops.convert_to_numpy(draw))
    after_one = ops.convert_to_numpy(seed.state).copy()
    assert not np.array_equal(after_one, state_before)
    # The same generator drawn once outside a closure advances it the same way.
    other = keras.random.SeedGenerator(3)
    keras.random.normal((2,), seed=other)
    np.testing.assert_array_equal(ops.convert_to_numpy(other.state), after_one)


def test_input_gradients_and_double_backprop():
    w = keras.Variable(np.array([[2.0], [-1.0]], "float32"))
    x = ops.convert_to_tensor(np.array([[1.0, 3.0], [0.5, -2.0]], "float32"))
    critic = lambda inputs: ops.sum(ops.square(ops.matmul(inputs, w.value)))  # noqa: E731
    g = seam.input_gradients(critic, x)
    xw = ops.convert_to_numpy(ops.matmul(x, w.value))
    np.testing.assert_allclose(ops.convert_to_numpy(g), 2.0 * xw @ ops.convert_to_numpy(w).T, rtol=1e-6)
    # d/dw of ||input gradient||^2 (the penalty's double backprop) against finite differences.
    penalty, _, (gw,) = seam.gradients(lambda: ops.sum(ops.square(seam.input_gradients(critic, x))), [w])
    eps, base = 1e-3, ops.convert_to_numpy(w).copy()

    def value(w_value):
        w.assign(w_value)
        return float(ops.convert_to_numpy(ops.sum(ops.square(seam.input_gradients(critic, x)))))

    numeric = np.zeros_like(base)
    for i in range(2):
        step = np.zeros_like(base)
        step[i, 0] = eps
        numeric[i, 0] = (value(base + step) - value(base - step)) / (2 * eps)
    w.assign(base)
    np.testing.assert_allclose(ops.convert_to_numpy(gw), numeric, rtol=1e-3)


def test_split_loss_refuses_other_shapes():
    assert seam.split_loss(1.0) == (1.0, None)
    assert seam.split_loss((1.0, "aux")) == (1.0, "aux")
    with pytest.raises(ValueError, match=r"\(loss, aux\)"):
        seam.split_loss((1.0, 2.0, 3.0))


def test_a_jitted_step_carries_every_variable_of_the_model():
    """fit on JAX threads the state through the jitted step; on TF it is Keras's own step.
    After two steps the EMA counter, the seed state, both optimizers and the metrics moved
    exactly as two steps move them."""
    import tensorflow_datasets as tfds

    import ganzoo
    from ganzoo.builders import build_model, compile_model
    from tests.helpers import tiny_config

    config = tiny_config("dcgan_mnist")
    with tfds.testing.mock_data(num_examples=32):
        ds = ganzoo.load_dataset(config)
        model = build_model(config)
        compile_model(model, config)
        seed_before = ops.convert_to_numpy(model.seed_generator.state).copy()
        model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
    assert int(ops.convert_to_numpy(model.ema_state.updates)) == 2
    assert int(ops.convert_to_numpy(model.g_optimizer.iterations)) == 2
    assert int(ops.convert_to_numpy(model.d_optimizer.iterations)) == 2
    assert not np.array_equal(ops.convert_to_numpy(model.seed_generator.state), seed_before)
    assert int(ops.convert_to_numpy(model.d_loss_tracker.count)) == 2


def test_counters_take_the_backends_integer_width_without_warnings():
    """Step counters (EMA updates, PGGAN's images seen, StyleGAN's D steps) are int64 on
    TensorFlow and int32 on JAX, which has no int64 without x64: asking for int64 there warns
    "Explicitly requested dtype int64 ... truncated" on every run (it did before)."""
    import warnings

    from ganzoo.builders import build_model, compile_model
    from tests.helpers import tiny_config

    config = tiny_config("dcgan_mnist")
    shape = (config.data.image_size, config.data.image_size, config.data.channels)
    images = np.random.default_rng(0).uniform(-1, 1, (8, *shape)).astype("float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build_model(config)
        compile_model(model, config)
        model.fit(images, batch_size=4, epochs=1, verbose=0)
    assert not [str(w.message) for w in caught if "requested dtype" in str(w.message)]
    assert model.ema_state.updates.dtype == seam.COUNTER_DTYPE
    assert seam.COUNTER_DTYPE == ("int64" if seam.BACKEND == "tensorflow" else "int32")
    assert int(ops.convert_to_numpy(model.ema_state.updates)) == 2

"""A plain keras.io-style GAN: the yardstick ganzoo's training speed is compared against.

Written for the benchmark, in the style of the keras.io examples "Conditional GAN"
(https://keras.io/examples/generative/conditional_gan/) and "DCGAN to generate face images"
(https://keras.io/examples/generative/dcgan_overriding_train_step/): what a user writes by
hand before reaching for a library. It is *not* used by ganzoo.

Same network sizes as the zoo entry it stands beside (``baseline_networks(config)`` reads
``dcgan_mnist`` / ``cgan_mnist``'s config): the same Dense projection, transposed
convolutions, strided convolutions, widths, kernel sizes, batch norm (momentum 0.9, eps 1e-5),
ReLU in G and LeakyReLU(0.2) in D, tanh output, latent size and Adam(2e-4, beta_1=0.5).
What differs, on purpose, is the plain style:

* **conditioning** (cGAN): labels arrive one-hot from the pipeline; G sees ``concat(z,
  one_hot)`` (110 inputs instead of ganzoo's ``concat(z, embedding_50)``); D sees the one-hot
  vector tiled to ``28x28x10`` and concatenated to the image (11 input channels instead of
  ganzoo's image + one learned label map = 2). This is keras.io's design; it makes D's first
  convolution 5.5x wider in its input (``benchmarks/flops.py`` counts both).
* **train step**: keras.io's: fakes for the D step are generated *outside* the tape, real and
  fake go through D as one concatenated batch of 2B (labels fake = 1, real = 0, with 0.05
  uniform label noise in the DCGAN example), two ``tf.GradientTape`` blocks,
  ``optimizer.apply_gradients(zip(grads, vars))``, noise from ``tf.random.normal``; the fake
  labels of the cGAN are the real batch's labels (keras.io).
* **input pipeline**: ``tfds.load`` -> per-example ``map`` (float [-1, 1], one-hot) ->
  ``shuffle(1024)`` -> ``batch`` -> ``repeat``: images are decoded every epoch, no cache, no
  parallel map, no prefetch.
* ``training=True`` on every network call, as in the TensorFlow DCGAN tutorial (the keras.io
  networks have no batch norm and omit it; these have ganzoo's batch norm, which must see
  batch statistics while training, else the comparison would time a different algorithm).
* **no** seed generator, EMA, serialisation, distribution or mixed-precision handling (a
  global ``mixed_bfloat16`` policy still works: the last layers and the loss are float32 as in
  ganzoo, so both run the same arithmetic).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

__all__ = ["PlainGAN", "PlainConditionalGAN", "baseline_networks", "baseline_dataset", "build_baseline"]

_BCE = keras.losses.BinaryCrossentropy(from_logits=True)


def _bce(labels, logits):
    return _BCE(labels, tf.cast(logits, tf.float32))


def baseline_networks(config):
    """(generator, discriminator) as keras.Sequential, sized like the ganzoo entry ``config``
    (a DCGAN generator/discriminator; one-hot conditioning when the entry is conditional)."""
    g, d, data = config.generator, config.discriminator, config.data
    num_classes = config.model.get("num_classes") or 0
    size, ch = data.image_size, data.channels
    n_up = 0
    while g.base_size * 2 ** n_up < size:
        n_up += 1
    width = g.filters * 2 ** (n_up - 1)
    bn = dict(momentum=0.9, epsilon=1e-5)

    gen = [keras.Input((config.model.latent_dim + num_classes,)),
           layers.Dense(g.base_size * g.base_size * width, use_bias=False),
           layers.Reshape((g.base_size, g.base_size, width))]
    for i in range(n_up):
        last = i == n_up - 1
        gen += [layers.BatchNormalization(**bn), layers.ReLU(),
                layers.Conv2DTranspose(ch if last else g.filters * 2 ** (n_up - 2 - i), g.kernel_size,
                                       strides=2, padding="same", use_bias=last)]
    gen.append(layers.Activation("tanh", dtype="float32"))
    generator = keras.Sequential(gen, name="plain_generator")

    disc = [keras.Input((size, size, ch + num_classes))]
    n_down, s = 0, size
    while s > 4:
        s, n_down = -(-s // 2), n_down + 1
    for i in range(max(n_down, 1)):
        disc.append(layers.Conv2D(d.filters * 2 ** i, d.kernel_size, strides=2, padding="same"))
        if i > 0:
            disc.append(layers.BatchNormalization(**bn))
        disc.append(layers.LeakyReLU(negative_slope=0.2))
    disc += [layers.Flatten(), layers.Dense(1, dtype="float32")]
    discriminator = keras.Sequential(disc, name="plain_discriminator")
    return generator, discriminator


class PlainGAN(keras.Model):
    """keras.io's DCGAN ``train_step`` (fake = 1, real = 0, 0.05 label noise)."""

    def __init__(self, generator, discriminator, latent_dim):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        batch_size = tf.shape(real_images)[0]
        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        generated_images = self.generator(random_latent_vectors, training=True)
        combined_images = tf.concat([generated_images, tf.cast(real_images, generated_images.dtype)], axis=0)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * tf.random.uniform(tf.shape(labels))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images, training=True)
            d_loss = _bce(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        misleading_labels = tf.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors, training=True), training=True)
            g_loss = _bce(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


class PlainConditionalGAN(PlainGAN):
    """keras.io's Conditional GAN ``train_step``: one-hot labels tiled into D's input."""

    def __init__(self, generator, discriminator, latent_dim, num_classes, image_size):
        super().__init__(generator, discriminator, latent_dim)
        self.num_classes = num_classes
        self.image_size = image_size

    def train_step(self, data):
        real_images, one_hot_labels = data
        image_one_hot_labels = one_hot_labels[:, :, None, None]
        image_one_hot_labels = tf.repeat(image_one_hot_labels, repeats=[self.image_size * self.image_size])
        image_one_hot_labels = tf.reshape(image_one_hot_labels,
                                          (-1, self.image_size, self.image_size, self.num_classes))

        batch_size = tf.shape(real_images)[0]
        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        random_vector_labels = tf.concat([random_latent_vectors, one_hot_labels], axis=1)
        generated_images = self.generator(random_vector_labels, training=True)
        fake_image_and_labels = tf.concat(
            [generated_images, tf.cast(image_one_hot_labels, generated_images.dtype)], -1)
        real_image_and_labels = tf.concat([real_images, image_one_hot_labels], -1)
        combined_images = tf.concat(
            [fake_image_and_labels, tf.cast(real_image_and_labels, fake_image_and_labels.dtype)], axis=0)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images, training=True)
            d_loss = _bce(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        random_vector_labels = tf.concat([random_latent_vectors, one_hot_labels], axis=1)
        misleading_labels = tf.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            fake_images = self.generator(random_vector_labels, training=True)
            fake_image_and_labels = tf.concat(
                [fake_images, tf.cast(image_one_hot_labels, fake_images.dtype)], -1)
            predictions = self.discriminator(fake_image_and_labels, training=True)
            g_loss = _bce(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def baseline_dataset(config, batch_size=None, data_dir=None):
    """The plain pipeline: TFDS -> per-example map -> shuffle(1024) -> batch -> repeat.

    Images are decoded from the TFRecords on every epoch (no cache, no parallel calls, no
    prefetch), as in the keras.io examples. Raises if the TFDS data is not prepared.
    """
    import tensorflow_datasets as tfds  # noqa: PLC0415

    batch_size = batch_size or config.train.batch_size
    num_classes = config.model.get("num_classes")
    ds = tfds.load(config.data.name, split=config.data.split, as_supervised=True, data_dir=data_dir,
                   download=False)

    def normalize(image, label):
        image = tf.cast(image, tf.float32) / 127.5 - 1.0
        if num_classes:
            return image, tf.one_hot(label, num_classes)
        return image

    return ds.map(normalize).shuffle(1024).batch(batch_size, drop_remainder=True).repeat()


def build_baseline(config, jit_compile=False, steps_per_execution=1):
    """A compiled plain (conditional) GAN sized like the ganzoo entry ``config``."""
    keras.utils.set_random_seed(config.train.seed)
    generator, discriminator = baseline_networks(config)
    if config.model.get("num_classes"):
        model = PlainConditionalGAN(generator, discriminator, config.model.latent_dim, config.model.get("num_classes"),
                                    config.data.image_size)
    else:
        model = PlainGAN(generator, discriminator, config.model.latent_dim)
    t = config.train
    model.compile(d_optimizer=keras.optimizers.Adam(t.learning_rate, beta_1=t.beta_1, beta_2=t.beta_2),
                  g_optimizer=keras.optimizers.Adam(t.learning_rate, beta_1=t.beta_1, beta_2=t.beta_2),
                  jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    return model

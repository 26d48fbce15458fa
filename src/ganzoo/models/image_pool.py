"""A history of generated images shown to a discriminator (Shrivastava et al. 2017), as
CycleGAN uses it (Zhu et al. 2017, sec. 4: "a history of 50 previously generated images").

Updating D on past fakes as well as the newest ones damps the oscillation between G and D.
The buffer is a non-trainable Keras weight, so the pool works inside ``train_step`` /
``tf.function`` and is saved and restored with the model.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="ganzoo")
class ImagePool(keras.layers.Layer):
    """``pool(fakes)`` returns, image by image, the fake itself or a stored older fake.

    While fewer than ``pool_size`` images are stored, every image is stored and returned
    unchanged. Once the pool is full, each image is, with probability ``probability`` (0.5 in
    the CycleGAN code), swapped with a uniformly chosen stored image, which is returned in its
    place; otherwise it is returned unchanged and not stored. ``pool_size=0`` disables the
    pool (identity). Images are processed in batch order, as in the reference code.

    Args:
        pool_size: number of stored images.
        image_shape: ``(height, width, channels)`` of the images.
        probability: chance that a full pool answers with a stored image.
        seed: seed of the pool's own random stream.
    """

    def __init__(self, pool_size: int = 50, image_shape=(256, 256, 3), probability: float = 0.5,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        if int(pool_size) < 0:
            raise ValueError(f"pool_size must be >= 0, got {pool_size}")
        if not 0.0 <= float(probability) <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        self.pool_size = int(pool_size)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.probability = float(probability)
        self.seed = seed
        self.images = self.add_weight(shape=(max(self.pool_size, 1),) + self.image_shape, initializer="zeros",
                                      trainable=False, name="images")
        self.count = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="count")
        self.seed_generator = keras.random.SeedGenerator(seed, name="pool_seed")
        self.built = True

    def call(self, images):
        if self.pool_size == 0:
            return images
        images = tf.cast(images, self.images.dtype)
        n = tf.shape(images)[0]
        draws = keras.random.uniform((n,), seed=self.seed_generator)
        slots = keras.random.randint((n,), 0, self.pool_size, seed=self.seed_generator, dtype="int32")
        buffer = self.images.value

        def body(i, out):
            image = images[i]
            count = self.count.value

            def store_new():
                buffer[count].assign(image)
                self.count.assign(count + 1)
                return image

            def swap():
                slot = slots[i]
                old = tf.identity(buffer[slot])
                with tf.control_dependencies([old]):
                    buffer[slot].assign(image)
                return old

            def keep():
                return image

            result = tf.cond(count < self.pool_size, store_new,
                             lambda: tf.cond(draws[i] < self.probability, swap, keep))
            return i + 1, out.write(i, result)

        out = tf.TensorArray(images.dtype, size=n, element_shape=self.image_shape)
        _, out = tf.while_loop(lambda i, _: i < n, body, (tf.constant(0), out))
        return tf.stop_gradient(out.stack())

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "image_shape": list(self.image_shape),
                "probability": self.probability, "seed": self.seed}

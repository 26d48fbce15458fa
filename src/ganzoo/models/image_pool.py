"""A history of generated images shown to a discriminator (Shrivastava et al. 2017), as
CycleGAN uses it (Zhu et al. 2017, sec. 4: "a history of 50 previously generated images").

Updating D on past fakes as well as the newest ones damps the oscillation between G and D.
The buffer and its fill count are non-trainable Keras weights, updated with ``keras.ops``
(the random choices from the pool's own seed generator): the pool works inside a
``train_step`` on either backend (a ``tf.function``, or JAX's jitted step, which carries
them as state) and is saved and restored with the model.
"""

from __future__ import annotations

import keras
from keras import ops


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
        images = ops.cast(images, self.images.dtype)
        n = ops.shape(images)[0]
        draws = keras.random.uniform((n,), seed=self.seed_generator)
        slots = keras.random.randint((n,), 0, self.pool_size, seed=self.seed_generator, dtype="int32")
        zeros = [0] * len(self.image_shape)

        def one_image(i, state):
            # Image i against the pool as images 0 .. i-1 left it: the buffer, the fill count
            # and the answers so far are the loop's carried values (no Python state, no
            # branches on values: the same loop runs in a tf.function, under jax.jit, eagerly).
            buffer, count, out = state
            image = ops.take(images, i, axis=0)
            filling = count < self.pool_size
            # A full pool swaps with probability ``probability``: answer the stored image,
            # store the new one in its place. While filling, store at the next free slot.
            swap = ops.logical_and(ops.logical_not(filling), ops.take(draws, i) < self.probability)
            slot = ops.where(filling, count, ops.take(slots, i))
            stored = ops.take(buffer, slot, axis=0)
            answer = ops.where(swap, stored, image)
            kept = ops.where(ops.logical_or(filling, swap), image, stored)
            buffer = ops.slice_update(buffer, [slot] + zeros, kept[None])
            out = ops.slice_update(out, [i] + zeros, answer[None])
            return buffer, count + ops.cast(filling, "int32"), out

        buffer, count, out = ops.fori_loop(0, n, one_image,
                                           (self.images.value, self.count.value, ops.zeros_like(images)))
        self.images.assign(buffer)
        self.count.assign(count)
        return ops.stop_gradient(out)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "image_shape": list(self.image_shape),
                "probability": self.probability, "seed": self.seed}

"""A hand-written Keras 3 training step on JAX for a zoo entry's own networks: the yardstick
ganzoo's JAX step is measured against (issue 20: ganzoo's step >= 90% of it).

It is what a JAX user writes by hand after the Keras guide "Writing a training loop from
scratch in JAX": one jitted function of explicit state, ``stateless_call`` for the networks,
``jax.value_and_grad`` for the losses and ``optimizer.stateless_apply`` for Adam. The algorithm
is the plain non-saturating GAN step of ``../shared/bench/gan_gpu_anchor.py``: one D step on a
real batch and G(z) (z ~ N(0, I); labels drawn uniformly for a conditional entry), then one G
step on a fresh z. No EMA generator, no metrics, no augmentation: run ganzoo with
``model.ema_decay: null`` for the same work (the entry's own EMA costs a lerp of G's weights
and, with batch norm, one more forward pass of G).

The networks are built by ganzoo from the entry's config, so both steps train the very same
layers. Used by :mod:`benchmarks.worker` (``impl: handwritten``) on the JAX backend only.
"""

from __future__ import annotations


def build_step(config):
    """``(step, state, make_inputs)`` for ``config``'s networks: ``step(state, batch, key) ->
    (state, d_loss, g_loss)`` jitted, the initial state, and ``make_inputs(n)`` giving a
    device-resident batch of n examples (images in [-1, 1], and labels for a conditional entry)."""
    import jax
    import jax.numpy as jnp
    import keras

    from ganzoo.builders import build_model

    model = build_model(config)
    G, D = model.generator, model.discriminator
    latent, classes = model.latent_dim, model.num_classes
    g_opt, d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)
    g_opt.build(G.trainable_variables)
    d_opt.build(D.trainable_variables)
    softplus = jax.nn.softplus

    def g_in(z, y):
        return z if classes is None else [z, y]

    def d_in(x, y):
        return x if classes is None else [x, y]

    def d_loss(dtv, dntv, gtv, gntv, real, real_y, z, fake_y):
        fake, gntv = G.stateless_call(gtv, gntv, g_in(z, fake_y), training=True)
        real_logits, dntv = D.stateless_call(dtv, dntv, d_in(real, real_y), training=True)
        fake_logits, dntv = D.stateless_call(dtv, dntv, d_in(jax.lax.stop_gradient(fake), fake_y), training=True)
        loss = softplus(-real_logits.astype("float32")).mean() + softplus(fake_logits.astype("float32")).mean()
        return loss, (dntv, gntv)

    def g_loss(gtv, gntv, dtv, dntv, z, fake_y):
        fake, gntv = G.stateless_call(gtv, gntv, g_in(z, fake_y), training=True)
        logits, dntv = D.stateless_call(dtv, dntv, d_in(fake, fake_y), training=True)
        return softplus(-logits.astype("float32")).mean(), (gntv, dntv)

    @jax.jit
    def step(state, batch, key):
        gtv, gntv, dtv, dntv, gov, dov = state
        real, real_y = batch if classes is not None else (batch, None)
        n = real.shape[0]
        k1, k2, k3, k4 = jax.random.split(key, 4)
        z = jax.random.normal(k1, (n, latent))
        fake_y = None if classes is None else jax.random.randint(k2, (n,), 0, classes)
        (dl, (dntv, gntv)), grads = jax.value_and_grad(d_loss, has_aux=True)(dtv, dntv, gtv, gntv, real, real_y,
                                                                             z, fake_y)
        dtv, dov = d_opt.stateless_apply(dov, grads, dtv)
        z = jax.random.normal(k3, (n, latent))
        fake_y = None if classes is None else jax.random.randint(k4, (n,), 0, classes)
        (gl, (gntv, dntv)), grads = jax.value_and_grad(g_loss, has_aux=True)(gtv, gntv, dtv, dntv, z, fake_y)
        gtv, gov = g_opt.stateless_apply(gov, grads, gtv)
        return (gtv, gntv, dtv, dntv, gov, dov), dl, gl

    state = ([v.value for v in G.trainable_variables], [v.value for v in G.non_trainable_variables],
             [v.value for v in D.trainable_variables], [v.value for v in D.non_trainable_variables],
             [v.value for v in g_opt.variables], [v.value for v in d_opt.variables])

    def make_inputs(n, seed=0):
        key = jax.random.PRNGKey(seed)
        shape = (n, config.data.image_size, config.data.image_size, config.data.channels)
        images = jax.random.uniform(key, shape) * 2.0 - 1.0
        if classes is None:
            return images
        return images, jax.random.randint(jax.random.fold_in(key, 1), (n,), 0, classes).astype(jnp.int32)

    return step, state, make_inputs

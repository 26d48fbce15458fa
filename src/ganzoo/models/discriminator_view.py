"""What the discriminator sees: augmentation (DiffAugment / ADA) and feature matching.

:class:`DiscriminatorView` is mixed into :class:`ganzoo.models.base.GANBase`: train steps
send every image D sees through :meth:`~DiscriminatorView.augment_images`, feed D's logits
of real images to ADA's controller, and take G's view of D through
:meth:`~DiscriminatorView.generator_view` (logits, and the feature-matching term).

Feature matching (Salimans et al. 2016) compares D's penultimate features: the input of its
final logit layer. :func:`feature_model` finds that layer with Keras' public functional API
(``Model.layers``, ``Layer.input`` / ``Layer.output``), or takes a layer the builder
declares by name (:data:`FEATURES_LAYER`).
"""

from __future__ import annotations

import keras
from keras import ops

from ganzoo import losses

__all__ = ["DiscriminatorView", "FEATURES_LAYER", "feature_model"]

#: A discriminator builder may name its feature layer so; feature matching then uses its output.
FEATURES_LAYER = "features"


def _producer(net, tensor):
    """The layer of functional ``net`` whose output is ``tensor`` (None if none is)."""
    for layer in net.layers:
        try:
            if layer.output is tensor:
                return layer
        except (AttributeError, ValueError):  # a layer called more than once has no single output
            continue
    return None


def feature_model(discriminator) -> keras.Model:
    """``discriminator`` with two outputs, (penultimate features, logits), sharing its layers.

    The features are the output of a layer named :data:`FEATURES_LAYER` when the network has
    one, else the input of its final logit layer (of the linear part of a projection head,
    ``Dense(h) + <embed(y), h>``). Raises ValueError when they are not a feature vector.
    """
    D = discriminator
    logits = D.outputs[0]
    names = {layer.name for layer in D.layers}
    if FEATURES_LAYER in names:
        return keras.Model(D.inputs, [D.get_layer(FEATURES_LAYER).output, logits], name="discriminator_features")
    head = _producer(D, logits)
    if isinstance(head, keras.layers.Add):  # projection head: Dense(h) + <embed(y), h>
        head = _producer(D, head.input[0])
    features = None if head is None else head.input
    if features is None or isinstance(features, (list, tuple)) or len(features.shape) != 2:
        raise ValueError(f"feature matching needs a discriminator whose logit is a Dense layer on a feature "
                         f"vector (or a layer named '{FEATURES_LAYER}'); '{D.name}' ends in "
                         f"{type(head).__name__}")
    return keras.Model(D.inputs, [features, logits], name="discriminator_features")


class DiscriminatorView:
    """D's view of images in train steps (needs ``discriminator``, ``augment_pipe``,
    ``seed_generator``, ``discriminator_features`` and ``discriminator_inputs``)."""

    def augment_images(self, images):
        """What D sees of ``images`` (real or fake): augmented by ``augment_pipe`` when the
        model has one (differentiable, draws from the model's seed generator), else unchanged.
        Only train steps call this; sampling never does."""
        if self.augment_pipe is None:
            return images
        return self.augment_pipe.apply(images, seed=self.seed_generator)

    def observe_real_logits(self, real_logits) -> None:
        """ADA: feed D's logits of (augmented) real images to the p controller."""
        if self.augment_pipe is not None:
            self.augment_pipe.observe(real_logits)

    def generator_view(self, fake, fake_labels=None, real=None, real_labels=None):
        """G's step through D: ``(fake_logits, feature_matching_loss)`` for generated images
        (augmented as D sees them). With ``feature_matching`` > 0 the second term compares
        D's mean penultimate features of ``real`` (constants) and of ``fake``; else it is 0."""
        fake_in = self.discriminator_inputs(self.augment_images(fake), fake_labels)
        if self.discriminator_features is None:
            return self.discriminator(fake_in, training=True), ops.zeros((), "float32")
        fake_features, fake_logits = self.discriminator_features(fake_in, training=True)
        real_features, _ = self.discriminator_features(
            self.discriminator_inputs(self.augment_images(real), real_labels), training=True)
        fm = losses.feature_matching_loss(ops.stop_gradient(real_features), fake_features)
        return fake_logits, fm

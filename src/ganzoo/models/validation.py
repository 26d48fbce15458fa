"""Image quality during training: ``compile(metrics=[...])`` and ``fit(validation_data=...)``.

:class:`QualityValidation` is mixed into :class:`ganzoo.models.base.GANBase`. Its
``test_step`` is the only one in the zoo: it asks the model for one fake per real
validation image (:meth:`~QualityValidation.validation_fakes`, the hook a class whose
sampling is more than one generator call fills: StyleGAN's noise inputs, PGGAN's current
phase), updates the quality metrics and returns their values over all replicas
(:func:`ganzoo.models.distributed.global_metric_results`).

``compile`` takes metric objects (:mod:`ganzoo.evaluation.keras_metrics`) and never trains
anything: a metric name is accepted only when its feature extractor is ready (the shipped
MNIST classifier, a cached domain classifier, Inception-V3); one that would need a classifier
trained first is refused with how to build the metric object.
"""

from __future__ import annotations

import keras

from ganzoo.models import distributed
from ganzoo.seam import BACKEND

__all__ = ["QualityValidation"]


class QualityValidation:
    """Quality metrics and the validation step of a latent GAN."""

    #: Set by ``compile(metrics=[...])``; kept apart from ``metrics`` (the loss trackers) so
    #: training logs stay losses and validation logs stay quality.
    quality_metrics = ()

    def compile(self, *args, metrics=None, **kwargs):
        """``metrics``: image-quality metrics for ``fit(validation_data=...)`` / ``evaluate``:
        :class:`ganzoo.evaluation.keras_metrics.QualityMetric` objects, e.g.
        ``FrechetClassifierDistance(classifier=ganzoo.zoo_eval.load_classifier(config))``, or the names of
        metrics whose extractor needs no training (``"fcd"``, ``"coverage"``,
        ``"label_accuracy"`` on MNIST-like data, ``"fid"``, ...). Everything else as the base compile."""
        super().compile(*args, **kwargs)
        if metrics:
            from ganzoo.evaluation.keras_metrics import get_quality_metrics  # noqa: PLC0415 (TF-heavy, optional)

            data = None
            if self.zoo_config:
                from ganzoo.config import Config  # noqa: PLC0415

                data = Config.from_dict(self.zoo_config, origin="the model's zoo_config").data
            self.quality_metrics = get_quality_metrics(metrics, data, train_classifier=False,
                                                       context="compile(metrics=...)")

    def get_compile_config(self):
        """The base compile config, plus the quality metrics (serialized) when there are any."""
        config = super().get_compile_config()
        if config is not None and self.quality_metrics:
            config["metrics"] = [keras.saving.serialize_keras_object(m) for m in self.quality_metrics]
        return config

    @property
    def metrics_variables(self):
        """The loss trackers' variables; on JAX also the quality metrics' (kept out of
        ``metrics``), so the jitted ``test_step`` carries their sums from batch to batch
        (:class:`ganzoo.seam.StatefulSteps` threads exactly these through a step). On
        TensorFlow the metrics are ordinary variables and this is Keras's list, unchanged."""
        variables = super().metrics_variables
        if BACKEND == "jax":
            variables = variables + [v for metric in self.quality_metrics for v in metric.variables]
        return variables

    def reset_metrics(self):
        """Reset the loss trackers and the image-quality metrics (Keras calls it at each epoch start)."""
        super().reset_metrics()
        for metric in self.quality_metrics:
            metric.reset_state()

    def validation_fakes(self, real, labels):
        """One fake per image of the validation batch ``real`` (with ``labels``, this batch's
        class labels, for a conditional model; else None), from the sampling generator
        (``sample_with``). Subclasses whose sampling is more than ``net(z)`` override it."""
        z = self.sample_latent(keras.ops.shape(real)[0])
        return self.sample_with(lambda net: net(self.generator_inputs(z, labels), training=False))

    def test_step(self, data):
        """Validation: fakes from :meth:`validation_fakes`; updates the quality metrics and
        returns their values over the whole validation set seen so far, on all replicas."""
        if not self.quality_metrics:
            return {}
        real, labels = self.unpack(data)
        labels = self._check_labels(labels) if self.conditional else None
        fake = self.validation_fakes(real, labels)
        for metric in self.quality_metrics:
            metric.update_state(real, fake, labels)
        return distributed.global_metric_results(self.quality_metrics)


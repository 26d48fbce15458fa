"""Evaluation metrics for ganzoo (pure NumPy/SciPy math in ``stats``)."""

from ganzoo.evaluation.stats import (
    activation_statistics,
    class_coverage,
    classifier_score,
    frechet_distance,
    frechet_distance_from_activations,
    inception_score,
    kernel_inception_distance,
    label_accuracy,
    precision_recall,
)

__all__ = [
    "activation_statistics",
    "frechet_distance",
    "frechet_distance_from_activations",
    "kernel_inception_distance",
    "inception_score",
    "classifier_score",
    "precision_recall",
    "class_coverage",
    "label_accuracy",
]

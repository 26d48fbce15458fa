"""examples/: the README's worked example of adding a GAN (a model class in one file + a YAML
entry) registers, trains on mock data, and survives keras.saving."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import ganzoo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def relativistic():
    """The example module, registered (by its decorator); unregistered afterwards."""
    from ganzoo.registry import model_class_names, register_model_class, unregister_model_class

    spec = importlib.util.spec_from_file_location("relativistic_gan", EXAMPLES / "relativistic_gan.py")
    module = sys.modules.get("relativistic_gan")
    if module is None:  # keras refuses to register the same class name twice in one process
        module = importlib.util.module_from_spec(spec)
        sys.modules["relativistic_gan"] = module
        spec.loader.exec_module(module)
    if "RelativisticGAN" not in model_class_names():  # imported earlier, unregistered since
        register_model_class(module.RelativisticGAN)
    yield module
    unregister_model_class("RelativisticGAN")


def test_example_is_short_and_cites_its_paper():
    code = [line for line in (EXAMPLES / "relativistic_gan.py").read_text().splitlines() if line.strip()]
    assert len(code) < 100, f"the worked example should stay under 100 lines, it has {len(code)}"
    import yaml

    paper = yaml.safe_load((EXAMPLES / "ragan_mnist.yaml").read_text())["paper"]
    assert paper.startswith("Jolicoeur-Martineau 2019") and "arXiv:1807.00734" in paper


def test_unregistered_class_is_a_clear_config_error():
    import ganzoo.config

    if "RelativisticGAN" in ganzoo.config.MODEL_CLASSES:
        pytest.skip("registered by another test in this process")
    with pytest.raises(ganzoo.ConfigError, match="model.cls"):
        ganzoo.get_config(str(EXAMPLES / "ragan_mnist.yaml"))


def test_relativistic_losses_golden_values(relativistic):
    real, fake = np.array([2.0, 0.0], np.float32), np.array([-1.0, 1.0], np.float32)
    # relativistic logits: real - mean(fake) = [2, 0]; fake - mean(real) = [-2, 0]
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    d = float(relativistic.relativistic_discriminator_loss("non_saturating", real, fake))
    g = float(relativistic.relativistic_generator_loss("non_saturating", real, fake))
    np.testing.assert_allclose(d, softplus(-2.0) + np.log(2.0), rtol=1e-6)   # 0.820075
    np.testing.assert_allclose(g, softplus(2.0) + np.log(2.0), rtol=1e-6)    # 2.820075
    hinge = float(relativistic.relativistic_discriminator_loss("hinge", real, fake))
    np.testing.assert_allclose(hinge, np.mean([0.0, 1.0]) + np.mean([0.0, 1.0]), rtol=1e-6)
    with pytest.raises(ValueError, match="RelativisticGAN takes model.loss"):
        ganzoo.load(str(EXAMPLES / "ragan_mnist.yaml"), **{"model.loss": "wasserstein", "generator.filters": 8,
                                                             "discriminator.filters": 8})


def test_registered_example_trains_and_round_trips_through_keras_saving(relativistic, tmp_path):
    """The per-class harness (tests/harness.py) on the example class: trains, saves, loads, trains on."""
    from tests.harness import run_model_saving_test
    from tests.helpers import tiny_config

    config = tiny_config(str(EXAMPLES / "ragan_mnist.yaml"))
    assert config.model.cls == "RelativisticGAN" and config.paper.startswith("Jolicoeur-Martineau")
    run = run_model_saving_test(config, tmp_path)
    assert isinstance(run.model, relativistic.RelativisticGAN)
    assert type(run.loaded) is relativistic.RelativisticGAN and run.loaded.loss_name == "non_saturating"

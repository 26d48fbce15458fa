"""examples/: the README's worked example of adding a GAN (a model class in one file + a YAML
entry) registers, trains on mock data, and survives keras.saving, on TensorFlow and on JAX (its
steps are keras.ops loss closures handed to ``descend``; CI's JAX phase runs this file)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import ganzoo


REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def _numpy(variable):
    return keras.ops.convert_to_numpy(variable).copy()


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


@pytest.mark.both_backends
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


@pytest.mark.both_backends
def test_example_steps_both_networks_on_this_backend(relativistic):
    """Each train_step takes one D and one G step through ``descend`` (R1 included: an input
    gradient inside the loss closure) on the backend this process runs: both networks move,
    the EMA generator follows G, and the losses are finite."""
    from ganzoo.builders import build_model, compile_model
    from tests.helpers import tiny_config

    config = tiny_config(str(EXAMPLES / "ragan_mnist.yaml"), **{"model.r1_gamma": 1.0, "model.ema_decay": 0.9})
    model = build_model(config)
    compile_model(model, config)
    # (The EMA generator is not trainable: its weights are assigned after each G step.)
    parts = {"generator": lambda: model.generator.trainable_variables,
             "discriminator": lambda: model.discriminator.trainable_variables,
             "ema_generator": lambda: model.ema_generator.weights}
    before = {part: [_numpy(v) for v in variables()] for part, variables in parts.items()}
    x = np.random.default_rng(0).uniform(-1, 1, (12, 28, 28, 1)).astype("float32")
    history = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
    assert int(model.d_optimizer.iterations.numpy()) == int(model.g_optimizer.iterations.numpy()) == 3
    for part, values in before.items():
        after = [_numpy(v) for v in parts[part]()]
        assert after, part
        assert all(np.isfinite(a).all() for a in after), part
        assert any(np.abs(a - b).max() > 0 for a, b in zip(after, values)), f"{part}: no weight changed"


@pytest.mark.both_backends
def test_readme_add_a_new_gan_block_runs_as_pasted(tmp_path):
    """The python block of the README's "Add a new GAN", run as a user pastes it (a fresh
    interpreter on this process's backend, cwd a folder holding a copy of examples/), training,
    writing runs/ragan and loading the saved model. Only the entry is shrunk (a prelude wraps
    ``ganzoo.get_config`` with tiny networks and two steps) and MNIST is TFDS's mock data."""
    import os
    import re
    import shutil
    import subprocess

    from tests.helpers import CHECKOUT_PYTHONPATH

    section = (REPO / "README.md").read_text().split("## Add a new GAN", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "README's 'Add a new GAN' should hold one python block"
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    prelude = (
        "import ganzoo, tensorflow_datasets as tfds\n"
        "from tests.helpers import tiny_config\n"
        "_get_config = ganzoo.get_config\n"
        "def _tiny(name, **extra):  # tiny_config calls ganzoo.get_config: the real one, meanwhile\n"
        "    ganzoo.get_config = _get_config\n"
        "    try:\n"
        "        return tiny_config(name, **{'train.epochs': 1, 'train.steps_per_epoch': 2, **extra})\n"
        "    finally:\n"
        "        ganzoo.get_config = _tiny\n"
        "ganzoo.get_config = _tiny\n"
        "tfds.testing.mock_data(num_examples=16).__enter__()\n")
    check = ("\nassert type(again).__name__ == 'RelativisticGAN' and type(model) is type(again)\n"
             "print('steps', int(again.g_optimizer.iterations.numpy()), keras.backend.backend())\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": CHECKOUT_PYTHONPATH}
    out = subprocess.run([sys.executable, "-c", prelude + blocks[0] + check], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == f"steps 2 {keras.backend.backend()}"
    assert (tmp_path / "runs" / "ragan" / "model.keras").is_file()


def test_a_new_gan_is_one_file_plus_one_yaml_from_any_folder(tmp_path):
    """The README's claim, from outside the repository: copy the class file and its YAML into an
    empty folder, and a fresh interpreter (cwd there, nothing else on its path) registers the
    class by importing the file, loads the entry by its path, trains a step and samples. Nothing
    in the package, zoo_configs/ or the tests names RelativisticGAN."""
    import os
    import shutil
    import subprocess

    for name in ("relativistic_gan.py", "ragan_mnist.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    script = (
        "import numpy as np, ganzoo, relativistic_gan\n"
        "model = ganzoo.load('ragan_mnist.yaml', **{'generator.filters': 8, 'discriminator.filters': 8,"
        " 'model.latent_dim': 8, 'train.batch_size': 4})\n"
        "x = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype('float32')\n"
        "history = model.fit(x, batch_size=4, epochs=1, verbose=0)\n"
        "assert type(model).__name__ == 'RelativisticGAN' and np.isfinite(history.history['d_loss'][-1])\n"
        "print(model.generate(2, seed=0).shape)\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "(2, 28, 28, 1)"
    package = Path(ganzoo.__file__).resolve().parent
    repo = EXAMPLES.parent
    named = [str(p) for p in package.rglob("*.py") if "relativistic" in " ".join(_code_names(p)).lower()]
    named += [str(p) for folder in (repo / "zoo_configs", repo / "tests") for p in folder.rglob("*")
              if p.suffix in (".py", ".yaml") and p.name != "test_examples.py" and "relativistic" in p.read_text().lower()]
    assert not named, f"adding the example GAN should touch no other file, but these name it: {named}"


def _code_names(path):
    """The identifiers and string constants of a module's code, docstrings left out (they may
    cite the worked example)."""
    import ast

    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value

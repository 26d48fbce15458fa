"""Finding the FID Inception weights offline, and the card every Inception number carries.

No PyTorch here: the conversion itself is tested against pytorch-fid in test_fid_inception.py.
"""

import time

import numpy as np
import pytest

from ganzoo.evaluation import fid_weights


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """An empty cache, no env path, no torch hub file, offline."""
    monkeypatch.delenv(fid_weights.FID_WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    return tmp_path / "cache"


def test_missing_weights_fail_at_once_saying_which_file_goes_where(no_weights):
    start = time.monotonic()
    with pytest.raises(fid_weights.FIDWeightsError) as err:
        fid_weights.resolve_fid_weights(None, cache=no_weights)
    assert time.monotonic() - start < 5  # no download attempt, no retries (a generous bound, not a benchmark)
    message = str(err.value)
    assert fid_weights.PTH_URL in message
    assert str(no_weights / "weights") in message and "--fid-weights" in message and "GANZOO_FID_WEIGHTS" in message
    assert "--inception keras" in message


def test_the_fid_network_is_the_default_and_fails_clearly_without_weights(no_weights):
    from ganzoo.evaluation.fid_extractor import make_inception_extractor

    with pytest.raises(fid_weights.FIDWeightsError, match="pt_inception-2015-12-05-6726825d.pth"):
        make_inception_extractor(cache=no_weights)
    with pytest.raises(ValueError, match="fid2015, keras"):
        make_inception_extractor("inception_v3", cache=no_weights)


def test_given_paths_are_checked(no_weights, tmp_path, monkeypatch):
    with pytest.raises(fid_weights.FIDWeightsError, match="--fid-weights: .*not a file"):
        fid_weights.resolve_fid_weights(tmp_path / "nothing.pth", cache=no_weights)
    monkeypatch.setenv(fid_weights.FID_WEIGHTS_ENV, str(tmp_path / "missing.weights.h5"))
    with pytest.raises(fid_weights.FIDWeightsError, match="env GANZOO_FID_WEIGHTS"):
        fid_weights.resolve_fid_weights(None, cache=no_weights)
    other = tmp_path / "weights.npz"
    other.write_bytes(b"x")
    with pytest.raises(fid_weights.FIDWeightsError, match="neither a .pth"):
        fid_weights.resolve_fid_weights(other, cache=no_weights)
    not_torch = tmp_path / "fake.pth"
    not_torch.write_bytes(b"not a checkpoint")
    with pytest.raises(fid_weights.FIDWeightsError, match="does not start with 6726825d"):
        fid_weights.resolve_fid_weights(not_torch, cache=no_weights)


def test_pytorch_hubs_copy_is_found(no_weights, tmp_path, monkeypatch):
    """pytorch-fid leaves the .pth in torch hub's cache: ganzoo looks there (and checks it)."""
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / fid_weights.PTH_NAME).write_bytes(b"a file with the right name but not the right bytes")
    assert fid_weights.standard_locations(no_weights)[-1] == hub / fid_weights.PTH_NAME
    with pytest.raises(fid_weights.FIDWeightsError, match="does not start with 6726825d"):
        fid_weights.resolve_fid_weights(None, cache=no_weights)


def test_torch_file_refuses_what_is_not_a_state_dict(tmp_path):
    import pickle

    from ganzoo.evaluation import torch_file

    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:  # the legacy header, then a pickle that would call os.system
        for value in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(value, f)
        f.write(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(torch_file.TorchFileError, match="os.system"):
        torch_file.load_state_dict(evil)
    with pytest.raises(torch_file.TorchFileError, match="not a PyTorch file"):
        (tmp_path / "text.pth").write_text("hello")
        torch_file.load_state_dict(tmp_path / "text.pth")


def test_weights_digest_depends_on_values_and_shapes():
    a = [np.ones((2, 3), np.float32), np.zeros(4, np.float32)]
    assert fid_weights.weights_digest(a) == fid_weights.weights_digest([x.astype(np.float64) for x in a])
    assert fid_weights.weights_digest(a) != fid_weights.weights_digest([a[0].reshape(3, 2), a[1]])
    b = [a[0].copy(), a[1].copy()]
    b[1][2] = 1e-7
    assert fid_weights.weights_digest(a) != fid_weights.weights_digest(b)


def test_evaluate_prints_and_writes_the_card(tmp_path):
    """Every Inception number carries its card: network, weights, protocol, N, reference."""
    from ganzoo.evaluation.evaluate import evaluate, format_table, real_source
    from ganzoo.evaluation.fid_extractor import FIDInceptionExtractor
    from ganzoo.evaluation.real import ArrayData

    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (12, 16, 16, 3)).astype(np.float32)
    data = ArrayData({"train": images[:6], "test": images[6:]}, key="toy")
    extractor = FIDInceptionExtractor(weights="random", size=75, protocol="clean")
    result = evaluate(real_source(data, "test"), ["fid", "is"], data=data, inception=extractor, cache=tmp_path,
                      splits=2, batch_size=6)
    card = result["protocol"]["card"]
    assert card["network"].startswith("inception-2015-12-05") and card["protocol"] == "clean"
    assert card["resize"] == "clean to 75x75" and card["normalise"] == "(x - 128)/128"
    assert card["n"] == 6 and card["reference"] == "toy train split, 6 images"
    assert card["weights_sha256"] is None and not card["standard_weights"]
    table = format_table(result)
    assert "card: inception-2015-12-05" in table and "(NOT standard)" in table and "N=6" in table
    assert "reference toy train split, 6 images" in table


@pytest.fixture(scope="module")
def forged_standard_file(tmp_path_factory):
    """A converted file of random weights that claims the published .pth as its source: the
    plumbing (CLI, card, cache keys) is tested without the real 95-MB file, which is not on
    CI machines; the conversion itself is tested against pytorch-fid in test_fid_inception.py."""
    import h5py

    from ganzoo.evaluation.fid_inception import build_fid_inception

    path = tmp_path_factory.mktemp("forged") / fid_weights.KERAS_NAME
    model = build_fid_inception()
    model.save_weights(str(path))
    with h5py.File(path, "a") as f:
        f.attrs["ganzoo_fid_source_sha256"] = fid_weights.PTH_SHA256
        f.attrs["ganzoo_fid_weights_digest"] = fid_weights.weights_digest(model.get_weights())
    return path


def test_cli_eval_reports_the_standard_fid_with_its_card(forged_standard_file, tmp_path, capsys):
    from ganzoo.cli import main
    from tests.helpers import shared_tfds_dir

    data_dir = shared_tfds_dir()
    if data_dir is None:
        pytest.skip("real MNIST (../shared/tfds) is not here")
    out = tmp_path / "eval.json"
    code = main(["eval", "real:mnist:test", "--metrics", "fid,kid,is", "-n", "8", "--ref-samples", "8",
                 "--fid-weights", str(forged_standard_file), "--fid-protocol", "tf", "--batch-size", "8",
                 "--cache-dir", str(tmp_path / "cache"), "--data-dir", str(data_dir), "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    card_line = next(line for line in printed.splitlines() if line.startswith("card: "))
    assert "inception-2015-12-05 (pytorch-fid port)" in card_line and fid_weights.PTH_SHA256[:16] in card_line
    assert "NOT standard" not in card_line and "resize tf1-bilinear to 299x299" in card_line
    assert "normalise (x - 128)/128" in card_line and "N=8" in card_line and "train split, 8 images" in card_line
    import json

    written = json.loads(out.read_text())
    card = written["protocol"]["card"]
    assert card["weights_sha256"] == fid_weights.PTH_SHA256 and card["protocol"] == "tf" and card["is_splits"] == 10
    assert written["protocol"]["splits"] == {"is": 8}
    assert set(written["metrics"]) == {"fid", "kid", "kid_std", "is", "is_std"}


def test_fid_weights_command(forged_standard_file, tmp_path, capsys, monkeypatch):
    from ganzoo.cli import main

    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(fid_weights.FID_WEIGHTS_ENV, raising=False)
    assert main(["fid-weights", "--cache-dir", str(tmp_path / "empty")]) == 2
    assert "ganzoo fid-weights: error: the FID Inception weights" in capsys.readouterr().err
    assert main(["fid-weights", str(forged_standard_file)]) == 0
    printed = capsys.readouterr().out
    assert str(forged_standard_file) in printed and fid_weights.PTH_SHA256 in printed and "ganzoo eval" in printed
    assert "(verified)" in printed
    import h5py

    damaged = tmp_path / "damaged.weights.h5"
    damaged.write_bytes(forged_standard_file.read_bytes())
    with h5py.File(damaged, "a") as f:
        f.attrs["ganzoo_fid_weights_digest"] = "0" * 64
    assert main(["fid-weights", str(damaged)]) == 2
    assert "do not match the digest" in capsys.readouterr().err


def test_keras_metrics_default_to_the_fid_network_and_print_its_card(forged_standard_file, capsys, tmp_path,
                                                                     monkeypatch):
    import keras

    from ganzoo.evaluation import keras_metrics

    monkeypatch.setattr(keras_metrics, "_INCEPTION", {})
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(fid_weights.FID_WEIGHTS_ENV, raising=False)
    with pytest.raises(fid_weights.FIDWeightsError):
        keras_metrics.FrechetInceptionDistance()
    metric = keras_metrics.FrechetInceptionDistance(fid_weights=str(forged_standard_file), fid_protocol="clean")
    printed = capsys.readouterr().out
    assert "ganzoo: Inception metrics" in printed and "protocol clean" in printed and "N=the validation set" in printed
    assert metric.card()["protocol"] == "clean" and metric.card()["standard_weights"]
    config = metric.get_config()
    assert config["network"] == "fid2015" and config["fid_protocol"] == "clean"
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert again.extractor is metric.extractor  # one network per process, shared
    images = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype("float32")
    metric.update_state(images, images[::-1])
    assert np.isfinite(float(metric.result()))


def test_cli_choices_are_the_extractors():
    """eval's option lists are written out (the command module imports nothing heavy at load);
    they must be the extractor's own tables."""
    from ganzoo.cli import build_parser
    from ganzoo.evaluation.fid_extractor import INCEPTION_NETWORKS, PROTOCOLS

    eval_parser = build_parser()._subparsers._group_actions[0].choices["eval"]
    options = {a.dest: a for a in eval_parser._actions}
    assert tuple(options["inception"].choices) == INCEPTION_NETWORKS
    assert tuple(options["fid_protocol"].choices) == tuple(PROTOCOLS)


def test_the_network_computes_in_float32_under_a_mixed_policy():
    """A process training in mixed_float16 still scores with float32 features."""
    import keras

    from ganzoo.evaluation.fid_inception import build_fid_inception

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_fid_inception((75, 75, 3), outputs=("pool3",))
        assert keras.config.dtype_policy().name == "mixed_float16"  # the caller's policy is restored
    finally:
        keras.config.set_dtype_policy(previous)
    assert {layer.dtype_policy.compute_dtype for layer in model.layers} == {"float32"}
    assert model.outputs[0].dtype == "float32"

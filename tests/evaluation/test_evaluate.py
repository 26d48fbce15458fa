"""``ganzoo eval`` on real data and on a run folder, and the EvaluationCallback."""

import json

import numpy as np
import pytest
import tensorflow as tf

from ganzoo.builders import build_model, compile_model
from ganzoo.callbacks import EvaluationCallback
from ganzoo.cli import main
from ganzoo.evaluation.evaluate import parse_metrics
from tests.helpers import shared_tfds_dir, tiny_config

needs_mnist = pytest.mark.skipif(shared_tfds_dir() is None, reason="real MNIST (../shared/tfds) is not available")


@needs_mnist
def test_eval_real_data_prints_table_writes_json_and_reuses_reference(tmp_path, capsys):
    out = tmp_path / "real.json"
    argv = ["eval", "real:mnist:test", "-n", "500", "--ref-samples", "2000", "--data-dir", shared_tfds_dir(),
            "--cache-dir", str(tmp_path / "cache"), "-o", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for row in ("fcd ", "coverage ", "label_accuracy ", "  classes "):
        assert f"\n{row}" in text, row
    result = json.loads(out.read_text())
    values = result["metrics"]
    assert set(values) == {"fcd", "coverage", "label_accuracy"}  # the grayscale defaults
    assert values["label_accuracy"] > 0.97 and values["coverage"] > 0.98
    assert 0 < values["fcd"] < 5
    assert result["protocol"]["n"] == 500 and result["protocol"]["kind"] == "real"
    ref = result["protocol"]["reference"]["classifier"]
    assert ref["split"] == "train" and ref["count"] == 2000 and not ref["reused"]
    assert main(argv) == 0
    capsys.readouterr()
    again = json.loads(out.read_text())
    assert again["protocol"]["reference"]["classifier"]["reused"]
    assert again["metrics"] == values  # deterministic


@needs_mnist
def test_eval_run_folder_writes_eval_json(tmp_path, capsys):
    config = tiny_config("cgan_mnist")
    model = compile_model(build_model(config), config)
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    assert main(["eval", str(run), "-n", "60", "--metrics", "fcd,kcd,cs,coverage,acc", "--ref-samples", "300",
                 "--cache-dir", str(tmp_path / "cache"), "--data-dir", shared_tfds_dir(), "--labels", "3"]) == 0
    result = json.loads((run / "eval.json").read_text())
    assert set(result["metrics"]) == {"fcd", "kcd", "kcd_std", "cs", "cs_std", "coverage", "label_accuracy"}
    assert result["protocol"]["n"] == 60 and result["protocol"]["labels"] == "given"
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("argv, fragment", [
    (["eval", "real:mnist:test", "--metrics", "fdi"], "did you mean 'fid'"),
    (["eval", "real:nosuchdata"], "no zoo entry uses the dataset 'nosuchdata'"),
    (["eval", "real:mnist:test", "-n", "1"], "at least 2"),
    (["eval", "/nonexistent/run"], "neither a run folder"),
])
def test_eval_user_errors(argv, fragment, capsys):
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_eval_metric_typo_fails_before_loading_the_model(monkeypatch, capsys):
    import ganzoo.commands.common as common

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before the metric names were checked")

    monkeypatch.setattr(common, "load_source", no_loading)
    assert main(["eval", "cgan_mnist", "--metrics", "fdi"]) == 2
    assert "did you mean 'fid'" in capsys.readouterr().err


def test_parse_metrics_aliases_and_order():
    assert parse_metrics("FCD, acc,coverage,fcd") == ["fcd", "label_accuracy", "coverage"]
    assert parse_metrics(None) is None


@needs_mnist
def test_evaluation_callback_every_n_epochs(tmp_path):
    config = tiny_config("dcgan_mnist")
    model = compile_model(build_model(config), config)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    callback = EvaluationCallback(metrics=["fcd", "coverage"], every=2, n=40, path=tmp_path / "eval.jsonl",
                                  ref_samples=300, data_dir=shared_tfds_dir(), cache=tmp_path / "cache")
    history = model.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), epochs=2, callbacks=[callback],
                        verbose=0).history
    assert [r["epoch"] for r in callback.history] == [2]
    assert len(history["eval_fcd"]) == 1 and len(history["eval_coverage"]) == 1  # epoch 2 only
    lines = (tmp_path / "eval.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["epoch"] == 2
    assert json.loads(lines[0])["fcd"] == pytest.approx(callback.history[0]["fcd"])

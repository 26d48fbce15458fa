"""scripts/small_data_benchmark.py: a tiny run of two variants in separate folders, then --merge
(the way the README's table was made), on the real MNIST in ../shared/tfds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import shared_tfds_dir

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("small_data_benchmark", REPO / "scripts" / "small_data_benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_variants_in_separate_folders_merge_into_one_table(tmp_path):
    data_dir = shared_tfds_dir()
    if data_dir is None:
        pytest.skip("real MNIST (../shared/tfds) not available")
    script = _script()
    common = ["--steps", "4", "--eval-every", "2", "-n", "200", "--data-dir", data_dir,
              "--set", "generator.filters=8", "--set", "discriminator.filters=8"]
    for variant in ("none", "diffaugment"):
        assert script.main(["--variants", variant, "--out", str(tmp_path / variant), *common]) == 0
    out = tmp_path / "merged"
    assert script.main(["--merge", str(tmp_path / "none"), str(tmp_path / "diffaugment"), "--out", str(out)]) == 0

    merged = json.loads((out / "small_data_benchmark.json").read_text())
    runs = merged["runs"]
    assert [r["variant"] for r in runs] == ["none", "diffaugment"]
    assert runs[1]["augment"]["policy"] == "color,translation,cutout" and runs[0]["augment"]["policy"] == ""
    for r in runs:
        assert r["steps"] == 4 and r["images"] == 1000 and r["eval_samples"] == 200
        assert [p["step"] for p in r["progress"]] == [2, 4]
        assert r["fcd"] > 0 and 0 <= r["coverage"] <= 1
        assert -1 <= r["d_sign_train"] <= 1 and -1 <= r["d_sign_heldout"] <= 1
    widths = [Image.open(tmp_path / v / "small_data_grid.png").width for v in ("none", "diffaugment")]
    assert Image.open(out / "small_data_grid.png").width == sum(widths)

    # the same variant twice, or unfinished folders, are refused with a message
    with pytest.raises(SystemExit, match="more than one folder"):
        script.merge([tmp_path / "none", tmp_path / "none"], tmp_path / "again")
    with pytest.raises(SystemExit, match="finished runs"):
        script.merge([tmp_path / "none", tmp_path / "nothing"], tmp_path / "again")

"""The image app: model shapes, attention rollout, and every command end to end on the digits
(tiny models, a couple of epochs: the commands, files and checks, not the accuracy targets)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from seqgraph.apps.image.attention_maps import rollout
from seqgraph.apps.image.data_scaling import _crossing, _scaling_table
from seqgraph.apps.image.model import build_model
from seqgraph.datasets import images
from tests.helpers import tf_only

pytestmark = tf_only  # the app trains and exports with the TensorFlow backend

TINY = ["--dim", "16", "--depth", "2", "--heads", "2", "--mlp-dim", "32"]


def _cli(*args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "seqgraph", "image", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize(
    "kind, options, tokens",
    [
        ("vit", {}, 64),
        ("vit", {"patch_size": 2, "pooling": "class", "positional": "learned"}, 17),
        ("hybrid", {"patch_size": 2}, 16),
    ],
)
def test_attention_models_output_logits_and_weights(kind, options, tokens):
    model = build_model(kind, (8, 8, 1), 10, attention_outputs=True, **options)
    out = model(np.zeros((3, 8, 8, 1), "float32"))
    assert out["logits"].shape == (3, 10)
    assert [out[f"attention_{i}"].shape for i in range(4)] == [(3, 4, tokens, tokens)] * 4
    np.testing.assert_allclose(np.asarray(out["attention_0"]).sum(-1), 1.0, atol=1e-5)


def test_cnn_and_vit_have_similar_sizes():
    cnn = build_model("cnn", (8, 8, 1), 10).count_params()
    vit = build_model("vit", (8, 8, 1), 10).count_params()
    assert 90_000 < cnn < 100_000 and 130_000 < vit < 140_000


def test_rollout_multiplies_head_averaged_attention_plus_identity():
    rng = np.random.default_rng(0)
    blocks = [rng.dirichlet(np.ones(5), size=(2, 3, 5)) for _ in range(3)]  # [B, heads, T, T], rows sum to 1
    expected = np.stack([np.eye(5)] * 2)
    for w in blocks:  # Abnar & Zuidema: A = 0.5 mean_heads(W) + 0.5 I, then A_l ... A_1
        expected = np.einsum("bij,bjk->bik", 0.5 * w.mean(1) + 0.5 * np.eye(5), expected)
    got = rollout(blocks)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    np.testing.assert_allclose(got.sum(-1), 1.0)
    np.testing.assert_allclose(rollout([np.broadcast_to(np.eye(4), (1, 2, 4, 4))]), np.eye(4)[None])


def test_crossing_is_the_first_size_where_the_trailing_model_catches_up():
    def summary(pairs):
        return [
            {"training_images": n, "fraction": n / 100, "cnn": {"mean": c, "std": 0.0}, "vit": {"mean": v, "std": 0.0}}
            for n, (c, v) in zip((10, 50, 100), pairs)
        ]

    assert _crossing(summary([(0.9, 0.8), (0.95, 0.93), (0.97, 0.98)]), ["cnn", "vit"]) == 100
    assert _crossing(summary([(0.9, 0.8), (0.95, 0.93), (0.97, 0.96)]), ["cnn", "vit"]) is None
    assert _crossing(summary([(0.8, 0.9), (0.9, 0.95), (0.9, 0.96)]), ["cnn", "vit"]) is None  # never behind
    table = _scaling_table(summary([(0.9, 0.8), (0.95, 0.93), (0.97, 0.96)]), ["cnn", "vit"], None)
    assert "| 10 (10%) | 90.00% ± 0.00 | 80.00% ± 0.00 |" in table and "No crossing" in table


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("image_app")
    run = root / "vit"
    out = _cli(
        "train",
        "--model",
        "vit",
        "--epochs",
        "2",
        *TINY,
        "--patch-size",
        "2",
        "--pooling",
        "class",
        "--positional",
        "learned",
        "--out",
        run,
        "--progress",
        "epoch",
    ).stdout
    return root, run, out


def test_train_writes_metrics_plot_model_and_config(trained):
    _, run, out = trained
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_images"] == 360 and 0 <= metrics["accuracy"] <= 1
    assert metrics["parameters"] > 0 and metrics["training_images_per_second"] > 0
    assert (run / "learning_curves.png").stat().st_size > 1000 and (run / "model.keras").exists()
    assert json.loads((run / "config.json").read_text())["pooling"] == "class"
    assert "test accuracy" in out


def test_evaluate_matches_training_accuracy_and_draws_the_confusion_matrix(trained):
    _, run, _ = trained
    _cli("evaluate", "--run", run)
    result = json.loads((run / "eval.json").read_text())
    assert result["accuracy"] == pytest.approx(json.loads((run / "metrics.json").read_text())["accuracy"], abs=1e-6)
    assert set(result["per_class"]) == {str(i) for i in range(10)}
    assert (run / "confusion_matrix.png").stat().st_size > 1000


def test_attention_maps(trained):
    _, run, _ = trained
    assert "8 test images" in _cli("attention-maps", "--run", run).stdout
    assert (run / "attention_maps.png").stat().st_size > 5000


def test_predict_converts_size_and_channels_and_names_a_bad_file(trained):
    import tensorflow as tf

    root, run, _ = trained
    digit = images.digits().images[0]
    small = root / "digit.png"
    small.write_bytes(tf.io.encode_png(digit).numpy())
    big_rgb = root / "digit_rgb.png"  # 16x16 RGB: resized and turned grey for the model
    big_rgb.write_bytes(tf.io.encode_png(np.repeat(np.repeat(np.repeat(digit, 2, 0), 2, 1), 3, 2)).numpy())
    lines = _cli("predict", "--run", run, small, big_rgb).stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{small}: ") and "(p=" in lines[1]
    bad = root / "notes.png"
    bad.write_text("not an image")
    result = _cli("predict", "--run", run, bad, check=False)
    assert result.returncode == 2 and str(bad) in result.stderr and "Traceback" not in result.stderr


def test_export_serves_uint8_images_and_checks_both_tflite_files(trained):
    import tensorflow as tf

    root, run, _ = trained
    out = root / "saved_models" / "image"
    _cli("export", "--run", run, "--out", out, "--calibration-images", "50")
    report = json.loads((out / "1" / "export.json").read_text())
    assert report["version"] == 1 and report["saved_model"]["max_abs_error"] < 1e-4
    assert report["tflite_float"]["max_abs_error"] < 1e-4
    assert report["tflite_float"]["accuracy"] == pytest.approx(report["keras"]["accuracy"], abs=1 / 360)
    assert (out / "1" / "image.tflite").exists() and (out / "1" / "image_int8.tflite").exists()
    assert (out.parent / "models.config").exists()
    serve = tf.saved_model.load(str(out / "1")).signatures["serving_default"]
    assert serve.structured_input_signature[1]["images"].dtype == tf.uint8
    result = serve(images=tf.constant(images.digits().images[:3]))
    assert result["probabilities"].shape == (3, 10)
    assert set(result["label_name"].numpy().astype(str)) <= {str(i) for i in range(10)}


def test_data_scaling_writes_table_plot_and_json(tmp_path):
    _cli(
        "data-scaling",
        "--models",
        "cnn",
        "vit",
        "--fractions",
        "0.2",
        "1",
        "--seeds",
        "0",
        "--epochs",
        "1",
        *TINY,
        "--out",
        tmp_path,
    )
    result = json.loads((tmp_path / "data_scaling.json").read_text())
    assert [e["training_images"] for e in result["summary"]] == [287, 1437]
    assert len(result["runs"]) == 4 and result["updates"] == 23
    assert "training images" in (tmp_path / "data_scaling.md").read_text()
    assert (tmp_path / "data_scaling.png").stat().st_size > 1000


def test_bad_arguments_get_clear_errors(tmp_path):
    result = _cli("train", "--data-dir", tmp_path / "missing", "--epochs", "1", check=False)
    assert result.returncode == 2 and "no such folder" in result.stderr
    (tmp_path / "cnn").mkdir()
    (tmp_path / "cnn" / "config.json").write_text('{"model": "cnn"}')
    (tmp_path / "cnn" / "run.json").write_text('{"app": "image", "status": "finished"}')
    result = _cli("attention-maps", "--run", tmp_path / "cnn", check=False)
    assert result.returncode == 2 and "needs a vit or hybrid run" in result.stderr
    result = _cli("data-scaling", "--fractions", "0", "1", check=False)
    assert result.returncode == 2 and "--fractions" in result.stderr

"""The graph app end to end on a small TU-format dataset written by the test."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from seqgraph.datasets import graphs
from tests.helpers import saved_model_cli_run, tf_only

pytestmark = tf_only  # the apps train and export with the TensorFlow backend


def write_tu(dataset, folder, name="SMALL"):
    """A GraphDataset written in the TU text format (1-based ids; node labels from the one-hot)."""
    folder.mkdir(parents=True)

    def write(part, lines):
        (folder / f"{name}_{part}.txt").write_text("\n".join(lines) + "\n")

    write("A", [f"{s + 1}, {r + 1}" for s, r in zip(dataset.senders, dataset.receivers)])
    write("graph_indicator", [str(g + 1) for g in dataset.node_graph])
    write("graph_labels", [str(label * 2 - 1) for label in dataset.labels])  # -1 / 1, as in MUTAG
    write("node_labels", [str(int(row.argmax())) for row in dataset.node_features])
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("graph_app")
    synthetic = graphs.synthetic_graphs(80, seed=1)
    keep = np.flatnonzero(synthetic.labels < 2)  # trees vs cycles with chords
    small, _ = synthetic.batch(keep)
    dataset = graphs.GraphDataset(
        "SMALL",
        small["node_features"],
        small["senders"],
        small["receivers"],
        small["graph_ids"],
        synthetic.labels[keep],
        ["a", "b"],
    )
    write_tu(dataset, root / "data" / "SMALL")
    run = root / "run"
    env = {**os.environ, "SEQGRAPH_CACHE": str(root / "cache")}
    out = _cli(
        "train",
        "--dataset",
        "SMALL",
        "--data-dir",
        str(root / "data"),
        "--model",
        "gin",
        "--folds",
        "2",
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--steps-per-epoch",
        "4",
        "--out",
        str(run),
        env=env,
    )
    return root, run, env, out


def _cli(*args, env=None, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "seqgraph", "graph", *args],
        capture_output=True,
        text=True,
        env=env or {**os.environ},
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_train_writes_metrics_plot_and_model(trained):
    _, run, _, out = trained
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["fold_accuracies"]) == 2
    assert metrics["accuracy_mean"] == pytest.approx(np.mean(metrics["fold_accuracies"]))
    for key in ("accuracy_std", "epochs", "wall_time_s", "best_epoch", "accuracy_mean_at_best_epoch"):
        assert key in metrics
    assert (run / "learning_curves.png").stat().st_size > 1000
    assert (run / "model.keras").exists()
    assert "mean" in out.stdout


def test_evaluate_writes_eval_json(trained):
    _, run, env, _ = trained
    _cli("evaluate", "--run", str(run), env=env)
    result = json.loads((run / "eval.json").read_text())
    config = json.loads((run / "config.json").read_text())
    assert result["graphs"] == len(config["held_out"])
    assert 0.0 <= result["accuracy"] <= 1.0


def test_predict_json_and_tu_folder(trained, tmp_path):
    root, run, env, _ = trained
    graphs_json = tmp_path / "g.json"
    graphs_json.write_text(
        json.dumps(
            {
                "graphs": [
                    {"node_features": [[1, 0, 0, 0]] * 3, "edges": [[0, 1], [1, 0], [1, 2], [2, 1]]},
                    {"node_features": [[0, 1, 0, 0]], "edges": []},
                ]
            }
        )
    )
    out = _cli("predict", "--run", str(run), str(graphs_json), str(root / "data" / "SMALL"), env=env)
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("g.json graph 0: ") and lines[1].startswith("g.json graph 1: ")
    assert len(lines) == 2 + graphs.read_tu(root / "data" / "SMALL").num_graphs


def test_bad_inputs_get_clear_errors(trained, tmp_path):
    root, run, env, _ = trained
    out = _cli("train", "--dataset", "NOPE", "--data-dir", str(root / "data"), env=env, check=False)
    assert out.returncode == 2 and "'NOPE' not found" in out.stderr
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps([{"node_features": [], "edges": []}]))
    out = _cli("predict", "--run", str(run), str(empty), env=env, check=False)
    assert out.returncode == 2 and "graph 0 has no nodes" in out.stderr
    wide = tmp_path / "wide.json"
    wide.write_text(json.dumps([{"node_features": [[1, 0, 0, 0, 0, 0, 0, 0]], "edges": []}]))
    out = _cli("predict", "--run", str(run), str(wide), env=env, check=False)
    assert out.returncode == 2 and "shape [1, 8], the model expects [n, 4]" in out.stderr


def test_export_serving_and_tflite(trained):
    import tensorflow as tf

    root, run, env, _ = trained
    target = root / "saved_models" / "graph"
    out = _cli("export", "--run", str(run), "--out", str(target), env=env)
    assert "TFLite float" in out.stdout
    report = json.loads((target / "1" / "export.json").read_text())
    held_out = len(json.loads((run / "config.json").read_text())["held_out"])
    assert report["examples"] == f"{held_out} held-out graphs of SMALL"
    assert report["saved_model"]["max_abs_error"] < 1e-5 and report["tflite_float"]["max_abs_error"] < 1e-4
    assert report["tflite_float"]["accuracy"] == report["keras"]["accuracy"] == report["saved_model"]["accuracy"]
    assert (target / "1" / "graph.tflite").exists() and (target / "1" / "graph_int8.tflite").exists()
    # the default int8 model: int8 weights, activations quantised per call
    assert report["int8"] == "dynamic"
    assert report["tflite_int8"]["accuracy"] >= report["tflite_float"]["accuracy"] - 1.5 / held_out
    assert report["tflite_int8"]["bytes"] < report["tflite_float"]["bytes"] / 2
    assert 'name: "graph"' in (root / "saved_models" / "models.config").read_text()

    serve = tf.saved_model.load(str(target / "1")).signatures["serving_default"]
    request = dict(
        node_features=tf.ones((3, 4)),
        senders=tf.constant([0, 1]),
        receivers=tf.constant([1, 2]),
        graph_ids=tf.constant([0, 0, 1]),
        num_graphs=tf.constant(2),
    )
    result = serve(**request)
    assert result["probabilities"].shape == (2, 2) and result["label_name"].dtype == tf.string
    with pytest.raises(tf.errors.InvalidArgumentError, match="index past the number of nodes"):
        serve(**{**request, "senders": tf.constant([0, 7])})


def test_static_int8_export_has_integer_activations(trained):
    from ai_edge_litert.interpreter import Interpreter

    root, run, env, _ = trained
    target = root / "static" / "graph"
    _cli("export", "--run", str(run), "--out", str(target), "--int8", "static", env=env)
    report = json.loads((target / "1" / "export.json").read_text())
    assert report["int8"] == "static" and report["tflite_int8"]["accuracy"] >= 0
    interpreter = Interpreter(str(target / "1" / "graph_int8.tflite"))
    assert any(d["dtype"] == np.int8 and "gin_conv" in d["name"] for d in interpreter.get_tensor_details())


def test_saved_model_cli_serves_the_export(trained, tmp_path):
    """saved_model_cli run (TF Serving's loader) answers a request in the README's shape."""
    root, run, env, _ = trained
    target = root / "saved_models" / "graph"
    if not (target / "1").exists():
        _cli("export", "--run", str(run), "--out", str(target), env=env)
    exprs = (
        "node_features=[[1.,0,0,0],[0,1.,0,0],[0,0,1.,0]];senders=[0,1,1,2,2,0];"
        "receivers=[1,0,2,1,0,2];graph_ids=[0,0,0];num_graphs=1"
    )
    out = saved_model_cli_run(target / "1", "serving_default", tmp_path, input_exprs=exprs)
    assert out.returncode == 0, out.stderr[-2000:]
    probabilities = np.load(tmp_path / "probabilities.npy")
    assert probabilities.shape == (1, 2) and abs(probabilities.sum() - 1) < 1e-5


def test_model_standardises_node_attributes_not_labels():
    import keras

    from seqgraph.apps.graph.model import build_model

    d = graphs.synthetic_graphs(30, seed=2)  # 4 one-hot columns
    n = len(d.node_features)
    attributes = np.stack([np.random.default_rng(0).normal(300, 50, n), np.full(n, 7.0)], 1)
    d.node_features = np.concatenate([d.node_features, attributes.astype("float32")], 1)
    d.num_attributes = 2
    mean, variance = d.attribute_stats(np.arange(30))
    assert mean[:4] == [0] * 4 and variance[:4] == [1] * 4 and variance[-1] == 1.0
    model = build_model("gin", d.num_features, d.num_classes, 8, 2, stats=(mean, variance))
    standardise = keras.Model(model.inputs, model.get_layer("standardize").output)
    inputs, _ = d.batch(np.arange(30))
    z = keras.ops.convert_to_numpy(standardise(inputs))
    np.testing.assert_array_equal(z[:, :4], inputs["node_features"][:, :4])
    assert abs(z[:, 4].mean()) < 1e-3 and abs(z[:, 4].std() - 1) < 1e-3
    np.testing.assert_allclose(z[:, 5], 0, atol=1e-6)


@tf_only
def test_graphs_seen_counts_the_pipelines_batches():
    from seqgraph.apps.graph.train import graphs_seen

    d = graphs.synthetic_graphs(23, seed=3)
    batches = graphs.tf_dataset(d, np.arange(23), 5, shuffle=True).repeat()  # passes of 5+5+5+5+3
    for steps in (3, 5, 7, 12):
        counted = sum(int(inputs["num_graphs"]) for inputs, _ in batches.take(steps))
        assert graphs_seen(23, 5, steps) == counted


def test_steps_per_epoch_must_be_positive(trained):
    root, _, env, _ = trained
    out = _cli(
        "train", "--dataset", "SMALL", "--data-dir", str(root / "data"), "--steps-per-epoch", "0", env=env, check=False
    )
    assert out.returncode == 2 and "--steps-per-epoch must be at least 1" in out.stderr


def test_a_fold_trains_whole_passes_several_steps_per_call():
    """Calls of several steps (``steps_per_call``) still train one pass per epoch, and the
    accuracy recorded per epoch is that of the held-out graphs, each counted once."""
    from seqgraph.apps.graph.config import GraphConfig
    from seqgraph.apps.graph.model import steps_per_call
    from seqgraph.apps.graph.train import fit_fold

    assert [steps_per_call(s) for s in (1, 9, 32, 100, 128, 67)] == [1, 9, 32, 50, 64, 1]
    d = graphs.synthetic_graphs(60, seed=2)
    train_idx, test_idx = np.arange(40), np.arange(40, 60)
    config = GraphConfig(batch_size=8, hidden=8, layers=3, dropout=0.0, folds=1, epochs=2)
    model, history, _ = fit_fold(config, d, train_idx, test_idx, 0)
    assert model.steps_per_execution == 5 and int(model.optimizer.iterations) == 10
    correct = 0
    for inputs, labels in graphs.tf_dataset(d, test_idx, 7):
        correct += int(np.sum(np.argmax(model(inputs, training=False), -1) == labels.numpy()))
    assert history["val_accuracy"][-1] == pytest.approx(correct / len(test_idx))

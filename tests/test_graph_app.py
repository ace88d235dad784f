"""The graph app end to end on a small TU-format dataset written by the test."""

import json
import os
import subprocess
import sys
from pathlib import Path

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


# ----------------------------------------------------------------------------- Errica et al.'s protocol
ERRICA = ("--protocol", "errica", "--folds", "2", "--epochs", "6", "--patience", "2", "--batch-size", "8")


def _errica_args(root, run, grid):
    return (
        "train",
        "--dataset",
        "SMALL",
        "--data-dir",
        str(root / "data"),
        *ERRICA,
        "--grid",
        str(grid),
        "--out",
        str(run),
    )


@pytest.fixture(scope="module")
def errica_run(trained):
    root, _, env, _ = trained
    grid = root / "grid.json"
    grid.write_text(json.dumps([{"hidden": [8, 16], "dropout": [0.0]}, {"hidden": [8], "readout": ["mean"]}]))
    run = root / "errica"
    return root, run, env, _cli(*_errica_args(root, run, grid), env=env)


def test_errica_chooses_on_validation_and_scores_each_test_fold_once(errica_run):
    import keras

    from seqgraph.apps.common import load_model
    from seqgraph.apps.graph.errica import RETRAINS, validation_split

    root, run, env, out = errica_run
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["protocol"] == "errica" and metrics["patience"] == 2 and metrics["max_epochs"] == 6
    assert metrics["grid"] == [
        {"hidden": 8, "dropout": 0.0},
        {"hidden": 16, "dropout": 0.0},
        {"hidden": 8, "readout": "mean"},
    ]
    assert metrics["trainings"] == 2 * (3 + RETRAINS) and len(metrics["per_fold"]) == 2
    for fold in metrics["per_fold"]:
        scores = [(-v["val_accuracy"], v["val_loss"], i) for i, v in enumerate(fold["validation"])]
        assert fold["chosen_index"] == min(scores)[2] + 1
        assert fold["chosen_setting"] == metrics["grid"][fold["chosen_index"] - 1]
        assert len(fold["test_accuracies"]) == RETRAINS
        assert fold["test_accuracy"] == pytest.approx(np.mean(fold["test_accuracies"]))
        assert all(1 <= v["best_epoch"] <= v["epochs"] <= 6 for v in fold["validation"])
    assert metrics["accuracy_mean"] == pytest.approx(np.mean(metrics["fold_accuracies"]))
    assert (run / "selection.png").stat().st_size > 1000 and not (run / "state").exists()
    assert "chose setting" in out.stdout
    assert "cuda" not in out.stderr.lower(), out.stderr  # the training processes load TF quietly too

    # model.keras is fold 1's first retrained run, at its epoch of lowest validation loss: its
    # loss on the validation split and its accuracy on the test fold are the ones recorded.
    dataset = graphs.read_tu(root / "data" / "SMALL")
    train_idx, test_idx = graphs.stratified_folds(dataset.labels, 2, seed=0)[0]
    assert json.loads((run / "config.json").read_text())["held_out"] == test_idx.tolist()
    _, valid_idx = validation_split(dataset.labels, train_idx, seed=0)
    assert not set(valid_idx) & set(test_idx)
    model = load_model(run)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    valid = model.evaluate(graphs.tf_dataset(dataset, valid_idx, 128), verbose=0, return_dict=True)
    test = model.evaluate(graphs.tf_dataset(dataset, test_idx, 128), verbose=0, return_dict=True)
    fold = metrics["per_fold"][0]
    assert valid["loss"] == pytest.approx(fold["retrained_val_losses"][0], rel=1e-4)
    assert test["accuracy"] == pytest.approx(fold["test_accuracies"][0])
    _cli("evaluate", "--run", str(run), env=env)


def test_errica_can_stop_on_validation_accuracy(trained, tmp_path):
    """--stop-on accuracy: each training keeps its epoch of best validation accuracy (Errica et
    al.'s grids try both criteria); model.keras scores on the validation split as recorded."""
    import keras

    from seqgraph.apps.common import load_model
    from seqgraph.apps.graph.errica import validation_split

    root, _, env, _ = trained
    grid, run = tmp_path / "grid.json", tmp_path / "run"
    grid.write_text('{"hidden": [8], "dropout": [0.0]}')
    _cli(*_errica_args(root, run, grid), "--stop-on", "accuracy", env=env)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["stop_on"] == "accuracy"
    dataset = graphs.read_tu(root / "data" / "SMALL")
    train_idx, _ = graphs.stratified_folds(dataset.labels, 2, seed=0)[0]
    _, valid_idx = validation_split(dataset.labels, train_idx, seed=0)
    model = load_model(run)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    valid = model.evaluate(graphs.tf_dataset(dataset, valid_idx, 128), verbose=0, return_dict=True)
    fold = metrics["per_fold"][0]
    assert valid["accuracy"] == pytest.approx(fold["retrained_val_accuracies"][0])
    assert valid["loss"] == pytest.approx(fold["retrained_val_losses"][0], rel=1e-4)


def test_errica_trains_under_a_distribution_strategy(errica_run, tmp_path):
    """Under --distribute (its replicas live in the run's process) the trainings run in that
    process: one replica chooses the same settings and scores as the trainings in child processes."""
    root, done_run, env, _ = errica_run
    run = tmp_path / "run"
    _cli(*_errica_args(root, run, root / "grid.json"), "--distribute", "mirrored", env=env)
    metrics = json.loads((run / "metrics.json").read_text())
    before = json.loads((done_run / "metrics.json").read_text())
    assert metrics["trainings"] == before["trainings"] and len(metrics["per_fold"]) == 2
    assert [f["chosen_index"] for f in metrics["per_fold"]] == [f["chosen_index"] for f in before["per_fold"]]
    assert metrics["fold_accuracies"] == pytest.approx(before["fold_accuracies"])
    assert (run / "model.keras").exists()


@pytest.mark.parametrize(
    "stop_on, best_epoch, val_accuracy, val_loss", [("loss", 5, 0.7, 0.5), ("accuracy", 4, 0.8, 0.9)]
)
def test_errica_records_the_epoch_its_criterion_keeps(monkeypatch, stop_on, best_epoch, val_accuracy, val_loss):
    """Which epoch a training keeps: the last of lowest validation loss or of highest accuracy."""
    import types

    from seqgraph.apps.graph import errica, train
    from seqgraph.apps.graph.config import GraphConfig

    history = {"val_loss": [1.0, 0.5, 0.7, 0.9, 0.5], "val_accuracy": [0.5, 0.6, 0.8, 0.8, 0.7]}
    model = types.SimpleNamespace(evaluate=lambda *a, **k: {"accuracy": 0.25})
    monkeypatch.setattr(train, "fit_fold", lambda *a, **k: (model, history, 1.0))
    config = GraphConfig(protocol="errica", folds=2, stop_on=stop_on)
    dataset = graphs.synthetic_graphs(120, seed=0)
    indices = np.arange(120)
    record = errica.train_setting(config, dataset, {"hidden": 8}, 0, 0, indices[:80], indices[80:100], indices[100:])
    assert {k: record[k] for k in ("val_accuracy", "val_loss", "best_epoch", "epochs", "test_accuracy")} == {
        "val_accuracy": val_accuracy,
        "val_loss": val_loss,
        "best_epoch": best_epoch,
        "epochs": 5,
        "test_accuracy": 0.25,
    }


def test_patience_keeps_the_last_tied_best_epoch_and_waits_again():
    """Errica et al.'s Patience: a score equal to the best counts as better (their ``>=``), where
    Keras' EarlyStopping keeps the first best and stops ``patience`` epochs after it."""
    import keras

    from seqgraph.apps.graph import errica

    scores = [0.5, 0.8, 0.7, 0.8, 0.6, 0.7, 0.9]

    def run(stop):
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        stop.set_model(model)
        stop.on_train_begin()
        for epoch, score in enumerate(scores):
            model.layers[0].kernel.assign([[float(epoch)]])  # the weights name their epoch
            stop.on_epoch_end(epoch, {"val_accuracy": score})
            if getattr(model, "stop_training", False):
                break
        stop.on_train_end()
        return epoch + 1, stop.best_epoch, float(model.layers[0].kernel.numpy()[0, 0])

    options = {"patience": 2, "mode": "max", "restore_best_weights": True}
    assert run(keras.callbacks.EarlyStopping("val_accuracy", **options)) == (4, 1, 1.0)
    # the tie at epoch 3 starts the wait again: 0.6, 0.7 and it stops after epoch 5
    assert run(errica.Patience("val_accuracy", **options)) == (6, 3, 3.0)
    assert errica.kept_epoch(scores[:6], "max") == 3
    assert errica.kept_epoch([1.0, 0.5, 0.7, 0.5, 0.9], "min") == 3


def _stat(pid):
    """Process ``pid``'s /proc stat fields after its command's name (state, parent, ...), or
    None if there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid):
    """The ids of the processes whose parent is ``pid`` (Linux' /proc)."""
    return [int(p.name) for p in Path("/proc").glob("[0-9]*") if (_stat(p.name) or [None, None])[1] == str(pid)]


def _alive(pid):
    """Whether process ``pid`` exists and is not a zombie."""
    return (_stat(pid) or ["Z"])[0] != "Z"


def _errica_started(root, run, env, trainings, stderr, *options):
    """A ``train --protocol errica`` process (with ``options``) on the test data, its stderr to
    ``stderr``, once ``trainings`` of its trainings are in its state: ``(process, state path)``."""
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "seqgraph", "graph", *_errica_args(root, run, root / "grid.json"), *options],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        env=env,
    )
    state = run / "state" / "errica.json"
    deadline = time.time() + 300
    while not (state.exists() and len(json.loads(state.read_text() or "{}")) >= trainings) and process.poll() is None:
        assert time.time() < deadline
        time.sleep(0.1)
    return process, state


def test_errica_resumes_after_the_last_whole_training(errica_run, tmp_path):
    import signal
    import time

    root, done_run, env, _ = errica_run
    run = tmp_path / "run"
    grid = root / "grid.json"
    process, state = _errica_started(root, run, env, 2, subprocess.DEVNULL)
    trainings = _children(process.pid)  # the process training (errica.trainer), with multiprocessing's helper
    assert trainings
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    kept = len(json.loads(state.read_text()))
    deadline = time.time() + 30
    while any(_alive(pid) for pid in trainings):  # they die with the run's process
        assert time.time() < deadline, [Path(f"/proc/{pid}/cmdline").read_text() for pid in trainings if _alive(pid)]
        time.sleep(0.1)
    out = _cli(*_errica_args(root, run, grid), env=env)
    assert f"resuming the run in {run}" in out.stdout
    assert out.stdout.count("kept from before the resume") == min(kept, 3)  # settings of fold 1 kept
    metrics = json.loads((run / "metrics.json").read_text())
    before = json.loads((done_run / "metrics.json").read_text())
    assert metrics["resumed"] == 1 and metrics["trainings"] == before["trainings"]
    assert metrics["per_fold"] == before["per_fold"]  # the same choices and scores as uninterrupted


def test_errica_says_when_a_training_process_dies(errica_run, tmp_path):
    """A training process killed (say, out of memory): one line, exit code 2, the finished
    trainings kept for the resume."""
    import signal

    root, _, env, _ = errica_run
    process, state = _errica_started(root, tmp_path / "run", env, 1, subprocess.PIPE)
    (training,) = [pid for pid in _children(process.pid) if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
    os.kill(training, signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stderr.strip().splitlines()[-1] == (
        "error: a training process died (killed, or out of memory?); the run keeps its finished trainings: "
        "run the same command again to resume"
    )
    assert json.loads(state.read_text())


def test_errica_runs_trainings_at_once(errica_run, tmp_path):
    """--jobs 2: two training processes at once; the same trainings, choices and scores as one
    process (each setting's record where it is, whatever order the trainings finish in)."""
    root, done_run, env, _ = errica_run
    run = tmp_path / "run"
    process, _ = _errica_started(root, run, env, 1, subprocess.PIPE, "--jobs", "2")
    training = [pid for pid in _children(process.pid) if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    assert len(training) == 2
    metrics = json.loads((run / "metrics.json").read_text())
    before = json.loads((done_run / "metrics.json").read_text())
    assert metrics["trainings"] == before["trainings"]
    # one thread per process instead of two: sums in another order, the losses' last digits differ
    for fold, fold_before in zip(metrics["per_fold"], before["per_fold"]):
        assert fold["chosen_index"] == fold_before["chosen_index"]
        assert fold["test_accuracies"] == pytest.approx(fold_before["test_accuracies"])
        assert fold["retrained_best_epochs"] == fold_before["retrained_best_epochs"]
        for v, v_before in zip(fold["validation"], fold_before["validation"]):
            assert v == pytest.approx(v_before, rel=1e-4)


@pytest.mark.parametrize(
    "grid, message",
    [
        ('{"heads": [2]}', "heads cannot be searched"),
        ('{"dropout": [0.0, 1.5]}', "setting 2 {'dropout': 1.5}: --dropout must be in [0, 1)"),
        ('{"hidden": 8}', "expected {option: [values, ...]}"),
        ("{hidden", "not valid JSON"),
    ],
)
def test_errica_grid_errors_name_the_file(trained, tmp_path, grid, message):
    root, _, env, _ = trained
    path = tmp_path / "grid.json"
    path.write_text(grid)
    out = _cli(*_errica_args(root, tmp_path / "run", path), env=env, check=False)
    assert out.returncode == 2 and f"--grid {path}: " in out.stderr and message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_errica_options_need_the_protocol(trained, tmp_path):
    root, _, env, _ = trained
    out = _cli(
        "train", "--dataset", "SMALL", "--data-dir", str(root / "data"), "--grid", "g.json", env=env, check=False
    )
    assert out.returncode == 2 and "--grid needs --protocol errica" in out.stderr
    out = _cli("train", "--dataset", "SMALL", "--data-dir", str(root / "data"), "--jobs", "2", env=env, check=False)
    assert out.returncode == 2 and out.stderr.strip() == "error: --jobs needs --protocol errica", out.stderr
    out = _cli(
        *_errica_args(root, tmp_path / "run", "g.json"), "--jobs", "2", "--distribute", "mirrored", env=env, check=False
    )
    assert out.returncode == 2 and "--jobs trains on one device" in out.stderr and not (tmp_path / "run").exists()


def test_default_grids():
    from seqgraph.apps.graph.config import MODELS, GraphConfig
    from seqgraph.apps.graph.errica import GRIDS, load_grid, settings

    assert settings([{"a": [1, 2], "b": [3]}, {"a": [5]}]) == [{"a": 1, "b": 3}, {"a": 2, "b": 3}, {"a": 5}]
    sizes = {model: len(load_grid(GraphConfig(model=model, protocol="errica"))[1]) for model in MODELS}
    assert sizes == {"gin": 64, "gat": 16, "cheb": 16, "gcn": 16, "sage": 16, "mlp": 24, "deepsets": 24}
    # Errica et al.'s GIN widths x depths: [64]*4, [32]*4, [64], [32, 32] graph layers
    pairs = {(s["hidden"], s["layers"]) for s in settings(GRIDS["gin"])}
    assert pairs == {(64, 5), (32, 5), (64, 2), (32, 3)}


def test_mlp_baseline_matches_numpy_and_ignores_edges():
    """Errica et al.'s structure-agnostic baseline, fresh from build_model: standardised node
    features summed per graph, a ReLU layer, the class scores."""
    from seqgraph.apps.graph.model import build_model

    d = graphs.synthetic_graphs(12, seed=4)
    stats = d.attribute_stats(np.arange(12))
    model = build_model("mlp", d.num_features, d.num_classes, hidden=16, stats=stats)
    inputs, _ = d.batch(np.arange(12))
    (w1, b1), (w2, b2) = [layer.get_weights() for layer in model.layers if layer.__class__.__name__ == "Dense"]
    x = (inputs["node_features"] - np.asarray(stats[0])) / np.sqrt(np.asarray(stats[1]))
    summed = np.zeros((12, d.num_features))
    np.add.at(summed, inputs["graph_ids"], x)
    expected = np.maximum(summed @ w1 + b1, 0) @ w2 + b2
    np.testing.assert_allclose(model(inputs), expected, rtol=1e-5, atol=1e-5)
    rewired = {**inputs, "senders": inputs["receivers"][::-1].copy(), "receivers": inputs["senders"].copy()}
    np.testing.assert_allclose(model(rewired), expected, rtol=1e-5, atol=1e-5)


def test_deepsets_baseline_matches_numpy_and_ignores_edges():
    """Errica et al.'s DeepMultisets, fresh from build_model: each node's standardised features
    through a ReLU layer, summed per graph, a second ReLU layer, the class scores."""
    from seqgraph.apps.graph.model import build_model

    d = graphs.synthetic_graphs(12, seed=5)
    stats = d.attribute_stats(np.arange(12))
    model = build_model("deepsets", d.num_features, d.num_classes, hidden=16, readout="sum", stats=stats)
    inputs, _ = d.batch(np.arange(12))
    dense = [layer.get_weights() for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [w.shape for w, _ in dense] == [(d.num_features, 16), (16, 16), (16, d.num_classes)]
    (w0, b0), (w1, b1), (w2, b2) = dense
    x = (inputs["node_features"] - np.asarray(stats[0])) / np.sqrt(np.asarray(stats[1]))
    summed = np.zeros((12, 16))
    np.add.at(summed, inputs["graph_ids"], np.maximum(x @ w0 + b0, 0))
    expected = np.maximum(summed @ w1 + b1, 0) @ w2 + b2
    np.testing.assert_allclose(model(inputs), expected, rtol=1e-5, atol=1e-5)
    rewired = {**inputs, "senders": inputs["receivers"][::-1].copy(), "receivers": inputs["senders"].copy()}
    np.testing.assert_allclose(model(rewired), expected, rtol=1e-5, atol=1e-5)


def test_readout_and_train_eps_reach_the_model():
    from seqgraph import layers
    from seqgraph.apps.graph.model import build_model

    model = build_model("gin", 4, 2, hidden=8, num_layers=3, readout="mean", train_eps=True)
    pools = [layer for layer in model.layers if isinstance(layer, layers.GraphPooling)]
    assert len(pools) == 3 and {p.mode for p in pools} == {"mean"}
    convs = [layer for layer in model.layers if isinstance(layer, layers.GINConv)]
    assert all(any("eps" in w.path for w in c.trainable_weights) for c in convs)

"""``seqgraph graph evaluate`` and ``predict``: a trained run on its held-out graphs, or on new ones."""

from pathlib import Path

import numpy as np

from seqgraph.apps.common import load_model, run_config, write_json
from seqgraph.apps.graph.config import GraphConfig
from seqgraph.apps.graph.model import probabilities
from seqgraph.datasets import graphs


def load_run(run):
    """``(config, facts, model)`` of a run folder: its GraphConfig, the facts config.json keeps
    (label_names, num_features, held_out) and fold 1's model."""
    config, facts = run_config(GraphConfig, run, "graph")
    return config, facts, load_model(run)


def run_dataset(config, data_dir=None):
    """The dataset a run was trained on, read the same way (``data_dir`` if it has moved)."""
    return graphs.load(
        config.dataset, data_dir or config.data_dir, seed=config.seed, node_attributes=config.node_attributes
    )


def evaluate(run, data_dir=None):
    """Accuracy and a per-class report of ``run``'s model on its held-out graphs (fold 1's);
    writes ``run/eval.json``.

    Args:
        run: a run folder written by ``train``.
        data_dir: where the TU dataset is now, if not where it was trained.

    Returns:
        ``{"accuracy", "graphs", "dataset"}``.
    """
    from sklearn.metrics import accuracy_score, classification_report

    config, facts, model = load_run(run)
    dataset = run_dataset(config, data_dir)
    held_out = np.array(facts["held_out"])
    predicted = probabilities(model, dataset, held_out).argmax(1)
    result = {
        "accuracy": float(accuracy_score(dataset.labels[held_out], predicted)),
        "graphs": int(len(held_out)),
        "dataset": dataset.name,
    }
    print(
        classification_report(
            dataset.labels[held_out],
            predicted,
            labels=range(dataset.num_classes),
            target_names=facts["label_names"],
            zero_division=0,
        )
    )
    print(f"accuracy {result['accuracy']:.4f} on {len(held_out)} held-out graphs of {dataset.name}")
    write_json(Path(run) / "eval.json", result)
    return result


def predict(run, inputs):
    """Print the class of every graph in ``inputs`` (graph JSON files or TU folders), one line
    each: ``<file> graph <i>: <label> (p=<probability>)``. Returns the lines."""
    config, facts, model = load_run(run)
    lines = []
    for path in map(Path, inputs):
        dataset = read_graphs(path, facts["num_features"], config.node_attributes)
        for i, p in enumerate(probabilities(model, dataset, np.arange(dataset.num_graphs))):
            lines.append(graph_line(path, i, facts["label_names"][p.argmax()], p.max()))
            print(lines[-1])
    return lines


def read_graphs(path, num_features, node_attributes=None):
    """The graphs of one input of ``predict`` or ``query``: a graph JSON file or a TU folder,
    whose node features must be ``num_features`` wide. A TU folder keeps its node attributes if
    ``node_attributes`` (None: if they make the width right)."""
    path = Path(path)
    if path.suffix == ".json":
        return graphs.read_json_graphs(path, num_features)
    dataset = graphs.read_tu(path)
    if node_attributes is False or (node_attributes is None and dataset.num_features != num_features):
        if dataset.num_attributes:
            dataset = dataset.without_node_attributes()
    if dataset.num_features != num_features:
        raise graphs.GraphDataError(f"{path}: {dataset.num_features} node features, the model expects {num_features}")
    return dataset


def graph_line(path, index, label_name, probability):
    """The line ``predict`` and ``query`` print for one graph."""
    return f"{Path(path).name} graph {index}: {label_name} (p={probability:.3f})"

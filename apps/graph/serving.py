"""``seqgraph graph export``: the serving signatures of a graph classifier, and its export plan."""

from pathlib import Path

import numpy as np
import tensorflow as tf

from seqgraph.apps import export as ex
from seqgraph.apps.client import Server, text
from seqgraph.apps.graph.evaluate import graph_line, load_run, read_graphs, run_dataset
from seqgraph.apps.graph.model import INPUTS, class_probabilities
from seqgraph.datasets import graphs

GRAPHS_PER_REQUEST = 64  # query: graphs packed into one request

# Kept in float in the static int8 model: the standardisation of the raw node features. Quantised, its
# input would share one int8 scale over PROTEINS' attribute range (-538..798): steps of 5.
FLOAT_IN_INT8 = r"/standardize(_\d+)?/"


def serving_functions(model, label_names, num_features):
    """``(input_signature, serving_default, tflite)`` on one disjoint batch of graphs.

    ``serving_default`` checks its request (an index past the nodes or graphs, a graph without
    nodes, num_graphs above the number of nodes, a feature that is NaN or Inf: an error response,
    not a wrong answer) and returns ``probabilities [G, C]``, ``label [G]`` and
    ``label_name [G]``; ``tflite`` leaves the checks out (Assert is not a TFLite builtin) and the
    names (no string builtins).
    """
    names = tf.constant(label_names)
    signature = [
        tf.TensorSpec((None, num_features), tf.float32, "node_features"),
        tf.TensorSpec((None,), tf.int32, "senders"),
        tf.TensorSpec((None,), tf.int32, "receivers"),
        tf.TensorSpec((None,), tf.int32, "graph_ids"),
        tf.TensorSpec((), tf.int32, "num_graphs"),
    ]

    def probabilities(node_features, senders, receivers, graph_ids, num_graphs):
        inputs = dict(zip(INPUTS, (node_features, senders, receivers, graph_ids, num_graphs)))
        return tf.nn.softmax(model(inputs, training=False))

    def serve(node_features, senders, receivers, graph_ids, num_graphs):
        n = tf.shape(node_features)[0]
        checks = [
            tf.debugging.assert_equal(
                tf.shape(senders), tf.shape(receivers), message="senders and receivers must have the same length"
            ),
            tf.debugging.assert_equal(tf.shape(graph_ids)[0], n, message="graph_ids needs one entry per node"),
            tf.debugging.assert_non_negative(
                tf.concat([senders, receivers, graph_ids], 0), message="senders, receivers and graph_ids must be >= 0"
            ),
            tf.debugging.assert_less(
                tf.concat([senders, receivers], 0), n, message="senders/receivers index past the number of nodes"
            ),
            tf.debugging.assert_less(graph_ids, num_graphs, message="graph_ids must be < num_graphs"),
            # Every graph has a node, which bounds num_graphs (and the response) by the nodes sent.
            tf.debugging.assert_less_equal(num_graphs, n, message="num_graphs must not exceed the number of nodes"),
            tf.debugging.assert_positive(
                tf.math.bincount(graph_ids, minlength=num_graphs, maxlength=n),
                message="every graph 0..num_graphs-1 needs a node (graph_ids)",
            ),
            tf.debugging.assert_all_finite(node_features, "node_features must be finite (no NaN or Inf)"),
        ]
        with tf.control_dependencies(checks):
            p = probabilities(node_features, senders, receivers, graph_ids, num_graphs)
        label = tf.argmax(p, axis=-1, output_type=tf.int32)
        return {"probabilities": p, "label": label, "label_name": tf.gather(names, label)}

    def lite(node_features, senders, receivers, graph_ids, num_graphs):
        p = probabilities(node_features, senders, receivers, graph_ids, num_graphs)
        return {"probabilities": p, "label": tf.argmax(p, axis=-1, output_type=tf.int32)}

    return signature, serve, lite


def export(run, out="saved_models/graph", data_dir=None, int8="dynamic", label="stable", serving_base=None):
    """Export ``run``'s model: a SavedModel for TF Serving and TFLite float and int8 models, each
    checked on the run's held-out graphs (accuracy, largest probability difference from Keras)
    before it is published.

    Args:
        run: a run folder written by ``train``.
        out: the export base, ``<out>/<version>/``.
        label: the version label the new version gets in models.config (``stable``, ``canary``).
        serving_base: the folder holding the apps inside TF Serving (default ``/models``).
        data_dir: where the TU dataset is now, if not where it was trained.
        int8: ``dynamic`` (int8 weights, activations quantised per call; matches float) or
            ``static`` (int8 activations too, calibrated on the training graphs).

    Returns:
        The report written to ``<out>/<version>/export.json``.
    """
    config, facts, model = load_run(run)
    dataset = run_dataset(config, data_dir)
    held_out = np.array(facts["held_out"])
    train_idx = np.setdiff1d(np.arange(dataset.num_graphs), held_out)
    signature, serve, lite = serving_functions(model, facts["label_names"], facts["num_features"])

    def representative():  # every training graph, so the calibrated ranges cover the largest
        for start in range(0, len(train_idx), 32):
            yield dataset.batch(train_idx[start : start + 32])[0]

    def accuracy(outputs):
        predicted = np.concatenate([o["probabilities"] for o in outputs]).argmax(1)
        return {"accuracy": float(np.mean(predicted == dataset.labels[held_out]))}

    plan = ex.ExportPlan(
        app="graph",
        model=model,
        signatures={"serving_default": (serve, signature)},
        lite=(lite, signature),
        examples=[dataset.batch(held_out[i : i + 32])[0] for i in range(0, len(held_out), 32)],
        reference=lambda feed: {"probabilities": class_probabilities(model, feed)},
        score=accuracy,
        compare="probabilities",
        described=f"{len(held_out)} held-out graphs of {dataset.name}",
        int8=int8,
        representative=representative,
        float_ops=FLOAT_IN_INT8,
        lite_files={"labels.txt": "".join(f"{name}\n" for name in facts["label_names"])},
        lite_metadata={"labels": list(facts["label_names"])},
    )
    return ex.export(plan, Path(out), label, serving_base)


def pack_graphs(items, num_features=None):
    """One request's inputs for several graphs: their disjoint batch, as ``serving_default``
    takes it (TF Serving cannot batch graph requests itself).

    The graphs' nodes are stacked (``node_features [N, F]``), each graph's node ids are shifted
    by the nodes before it in ``senders`` and ``receivers``, ``graph_ids [N]`` says which graph
    each node belongs to, and ``num_graphs`` how many there are; the answer has one row per graph,
    in order.

    Args:
        items: graphs as the JSON inputs hold them: ``[{"node_features": [[...], ...], "edges":
            [[sender, receiver], ...]}, ...]``, node ids from 0 within each graph.
        num_features: the width the model expects (default: the first graph's).

    Returns:
        ``{"node_features", "senders", "receivers", "graph_ids", "num_graphs"}`` (NumPy).

    Example:

    >>> feeds = pack_graphs([{"node_features": [[1, 0], [0, 1]], "edges": [[0, 1], [1, 0]]},
    ...                      {"node_features": [[1, 0]], "edges": []}])
    >>> feeds["receivers"].tolist(), feeds["graph_ids"].tolist(), int(feeds["num_graphs"])
    ([1, 0], [0, 0, 1], 2)
    """
    dataset = graphs.graphs_from_json(list(items), num_features)
    return dataset.batch(np.arange(dataset.num_graphs))[0]


def query(inputs, server="localhost:8501", grpc=False, model="graph", label=None, timeout=30.0):
    """``seqgraph graph query``: classify the graphs of ``inputs`` (graph JSON files or TU
    folders) on a TF Serving server, up to ``GRAPHS_PER_REQUEST`` graphs per request, and print
    the lines ``predict`` prints. Returns the lines."""
    remote = Server(server, model, label, grpc, timeout)
    num_features = remote.signatures()["serving_default"]["inputs"]["node_features"][1][1]
    lines = []
    for path in inputs:
        dataset = read_graphs(path, num_features)
        for start in range(0, dataset.num_graphs, GRAPHS_PER_REQUEST):
            chunk = np.arange(start, min(start + GRAPHS_PER_REQUEST, dataset.num_graphs))
            out = remote.predict(dataset.batch(chunk)[0])
            for i, name, p in zip(chunk, text(out["label_name"]), out["probabilities"]):
                lines.append(graph_line(path, i, name, float(np.max(p))))
                print(lines[-1])
    return lines

"""The graph classifier: Xu et al.'s GIN layout for every kind of graph layer."""

import keras
import numpy as np

from seqgraph import layers

INPUTS = ("node_features", "senders", "receivers", "graph_ids", "num_graphs")


def build_model(
    kind,
    num_features,
    num_classes,
    hidden=64,
    num_layers=5,
    dropout=0.5,
    heads=4,
    K=3,
    readout="sum",
    train_eps=False,
    stats=None,
    symmetric_edges=False,
    synchronized=False,
):
    """A graph classifier on disjoint batches: ``{node_features [N, F], senders [E], receivers
    [E], graph_ids [N], num_graphs []}`` -> class logits ``[num_graphs, num_classes]``.

    Xu et al.'s GIN layout for every graph layer: ``num_layers - 1`` graph layers after the
    input, a readout (sum or mean) of every layer (input included), each scored by its own
    dense layer, dropout on the scores, scores summed. GIN layers use the paper's 2-layer MLPs
    with batch norm; the other kinds are followed by batch norm and ReLU.

    ``mlp`` and ``deepsets`` are Errica et al.'s structure-agnostic baselines (the edges are not
    used). ``mlp`` (their MolecularFingerprint, for PROTEINS): the graph's node features summed,
    a hidden layer of ``hidden`` ReLU units, dropout, the class scores. ``deepsets`` (their
    DeepMultisets, for ENZYMES): each node's features through a layer of ``hidden`` ReLU units
    first, then summed, a second ReLU layer, dropout, the class scores.

    Args:
        kind: ``gin``, ``gat``, ``cheb``, ``gcn``, ``sage``, ``mlp`` or ``deepsets``.
        num_features: node features F.
        num_classes: classes.
        hidden: units of each graph layer.
        num_layers: graph layers + 1 (not used by the baselines).
        dropout: dropout rate on each layer's scores (where Xu et al.'s code has it).
        heads: GAT heads (``hidden`` units in all).
        K: ChebConv's order.
        readout: ``sum`` or ``mean`` of each layer's node vectors.
        train_eps: GIN learns its epsilon.
        stats: ``(mean, variance)`` of the node features (``GraphDataset.attribute_stats``):
            they are standardised inside the model, clipped to +-5 standard deviations, so
            clients send raw features and an attribute on a scale of hundreds (PROTEINS:
            -538..798) neither drowns the one-hot labels nor stretches an int8 model's ranges.
        symmetric_edges: the training graphs list every edge both ways
            (``GraphDataset.symmetric``), which speeds up GIN's training step.
        synchronized: batch norm takes its statistics over all replicas' nodes under
            ``tf.distribute`` (those of the global batch, as on one device).

    Returns:
        A ``keras.Model`` named ``<kind>_graph_classifier``.

    Example:

    >>> model = build_model("gin", num_features=7, num_classes=2, hidden=32)
    >>> inputs, labels = dataset.batch([0, 1, 2])   # a datasets.graphs.GraphDataset
    >>> model(inputs).shape
    TensorShape([3, 2])
    """
    inputs = {
        "node_features": keras.Input((num_features,), name="node_features"),
        "senders": keras.Input((), dtype="int32", name="senders"),
        "receivers": keras.Input((), dtype="int32", name="receivers"),
        "graph_ids": keras.Input((), dtype="int32", name="graph_ids"),
        "num_graphs": keras.Input(batch_shape=(), dtype="int32", name="num_graphs"),
    }
    s, r, g, n = (inputs[k] for k in INPUTS[1:])

    def norm_relu():
        return [layers.FusedBatchNormalization(momentum=0.9, synchronized=synchronized), keras.layers.ReLU()]

    def conv():
        if kind == "gin":
            # no biases: batch norm's offset follows each Dense (a bias costs 6% of a PROTEINS step)
            mlp = keras.Sequential(
                [
                    keras.layers.Dense(hidden, use_bias=False),
                    *norm_relu(),
                    keras.layers.Dense(hidden, use_bias=False),
                    *norm_relu(),
                ]
            )
            return layers.GINConv(mlp=mlp, train_eps=train_eps, symmetric_edges=symmetric_edges)
        return {
            "gat": lambda: layers.GATConv(hidden // heads, heads=heads),
            "cheb": lambda: layers.ChebConv(hidden, K=K),
            "gcn": lambda: layers.GCNConv(hidden),
            "sage": lambda: layers.GraphSAGEConv(hidden, aggregator="mean"),
        }[kind]()

    h = inputs["node_features"]
    if stats is not None:
        h = layers.Standardize(*stats, clip=5.0, name="standardize")(h)
    if kind in ("mlp", "deepsets"):
        if kind == "deepsets":
            h = keras.layers.Dense(hidden, activation="relu", name="node_layer")(h)
        h = keras.layers.Dense(hidden, activation="relu")(layers.GraphPooling(readout)([h, g, n]))
        logits = keras.layers.Dense(num_classes, name="logits")(keras.layers.Dropout(dropout)(h))
        return keras.Model(inputs, logits, name=f"{kind}_graph_classifier")
    scores = []
    for depth in range(num_layers):
        if depth:
            h = conv()([h, s, r])
            if kind != "gin":
                for layer in norm_relu():
                    h = layer(h)
        pooled = layers.GraphPooling(readout)([h, g, n])
        # dropout on each layer's scores, as Xu et al.'s code has it (not on the pooled features)
        scores.append(keras.layers.Dropout(dropout)(keras.layers.Dense(num_classes, name=f"score_{depth}")(pooled)))
    logits = keras.layers.Add(name="logits")(scores)
    return keras.Model(inputs, logits, name=f"{kind}_graph_classifier")


def steps_per_call(steps, most=64):
    """Training steps per call into TF (Keras' ``steps_per_execution``): the largest divisor of
    an epoch's ``steps`` up to ``most``, so an epoch stays one pass. One call per step costs
    Keras' Python loop ~10% of a PROTEINS step."""
    return max(d for d in range(1, min(steps, most) + 1) if steps % d == 0)


def compile_model(model, lr, steps, metrics=()):
    """Xu et al.'s optimiser: Adam at ``lr``, halved every 50 epochs of ``steps`` steps;
    ``steps_per_call(steps)`` steps per call into TF."""
    schedule = keras.optimizers.schedules.ExponentialDecay(lr, 50 * steps, 0.5, staircase=True)
    model.compile(
        keras.optimizers.Adam(schedule),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=list(metrics),
        steps_per_execution=steps_per_call(steps),
    )


def class_probabilities(model, inputs):
    """Softmax of the model's logits on one disjoint batch ``inputs``, as NumPy ``[G, C]``."""
    return keras.ops.convert_to_numpy(keras.ops.softmax(model(inputs, training=False)))


def probabilities(model, dataset, indices, batch_size=32):
    """Class probabilities ``[len(indices), C]`` of the graphs ``indices`` of ``dataset``, in
    disjoint batches of ``batch_size`` graphs."""
    indices = np.asarray(indices)
    return np.concatenate(
        [
            class_probabilities(model, dataset.batch(indices[i : i + batch_size])[0])
            for i in range(0, len(indices), batch_size)
        ]
    )

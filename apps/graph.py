"""Graph classification: TU datasets (or the embedded generated one), GIN/GAT/Cheb/GCN/SAGE,
stratified k-fold evaluation, export to TF Serving and TFLite.

    python -m apps.graph train --dataset MUTAG --data-dir DIR --model gin --folds 10 --epochs 100
    python -m apps.graph evaluate --run RUN_DIR
    python -m apps.graph export --run RUN_DIR [--out saved_models/graph]
    python -m apps.graph predict --run RUN_DIR graphs.json|TU_FOLDER
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from apps.common import atomic_path, load_run, run_dir, save_keras, strategy, write_json  # noqa: E402
from datasets import graphs  # noqa: E402

INPUTS = ("node_features", "senders", "receivers", "graph_ids", "num_graphs")
# Kept in float in the static int8 model: the standardisation of the raw node features. Quantised, its
# input would share one int8 scale over PROTEINS' attribute range (-538..798): steps of 5.
FLOAT_IN_INT8 = r"/standardize(_\d+)?/"


# ----------------------------------------------------------------------------- model
def feature_stats(dataset, indices):
    """Mean and variance of each node attribute over the graphs ``indices`` (constant ones get
    variance 1, so a value unseen in training is not blown up); one-hot label columns get 0 and 1
    and stay as they are (standardising a rare label would turn its 1 into ~30)."""
    mean, variance = np.zeros(dataset.num_features), np.ones(dataset.num_features)
    if dataset.num_attributes:
        attributes = dataset.batch(indices)[0]["node_features"][:, -dataset.num_attributes:]
        mean[-dataset.num_attributes:] = attributes.mean(0)
        spread = attributes.astype("float64").var(0)
        variance[-dataset.num_attributes:] = np.where(spread > 1e-6, spread, 1.0)
    return mean.tolist(), variance.tolist()


def build_model(kind, num_features, num_classes, hidden=64, num_layers=5, dropout=0.5, heads=4, K=3,
                stats=None, symmetric_edges=False):
    """Xu et al.'s GIN layout for every kind: ``num_layers - 1`` graph layers after the input,
    a sum-pooled readout of every layer (input included), each scored by its own dense layer,
    dropout on the scores, scores summed. GIN layers use the paper's 2-layer MLPs with batch
    norm; the other kinds are followed by batch norm and ReLU.

    ``stats`` (mean, variance) standardises the node features inside the model, clipped to
    +-5 standard deviations, so clients send raw features and an attribute on a scale of
    hundreds (PROTEINS: -538..798) neither drowns the one-hot labels nor stretches the range of
    an int8 model's activations. ``symmetric_edges``: the training graphs list every edge both
    ways (``GraphDataset.symmetric``), which speeds up GIN's training step."""
    import keras

    import layers

    inputs = {
        "node_features": keras.Input((num_features,), name="node_features"),
        "senders": keras.Input((), dtype="int32", name="senders"),
        "receivers": keras.Input((), dtype="int32", name="receivers"),
        "graph_ids": keras.Input((), dtype="int32", name="graph_ids"),
        "num_graphs": keras.Input(batch_shape=(), dtype="int32", name="num_graphs"),
    }
    s, r, g, n = (inputs[k] for k in INPUTS[1:])

    def norm_relu():
        return [layers.FusedBatchNormalization(momentum=0.9), keras.layers.ReLU()]

    def conv():
        if kind == "gin":
            # no biases: batch norm's offset follows each Dense (a bias costs 6% of a PROTEINS step)
            mlp = keras.Sequential([keras.layers.Dense(hidden, use_bias=False), *norm_relu(),
                                    keras.layers.Dense(hidden, use_bias=False), *norm_relu()])
            return layers.GINConv(mlp=mlp, train_eps=False, symmetric_edges=symmetric_edges)
        return {"gat": lambda: layers.GATConv(hidden // heads, heads=heads),
                "cheb": lambda: layers.ChebConv(hidden, K=K),
                "gcn": lambda: layers.GCNConv(hidden),
                "sage": lambda: layers.GraphSAGEConv(hidden, aggregator="mean")}[kind]()

    h = inputs["node_features"]
    if stats is not None:
        h = layers.Standardize(*stats, clip=5.0, name="standardize")(h)
    scores = []
    for depth in range(num_layers):
        if depth:
            h = conv()([h, s, r])
            if kind != "gin":
                for layer in norm_relu():
                    h = layer(h)
        pooled = layers.GraphPooling("sum")([h, g, n])
        # dropout on each layer's scores, as Xu et al.'s code has it (not on the pooled features)
        scores.append(keras.layers.Dropout(dropout)(keras.layers.Dense(num_classes, name=f"score_{depth}")(pooled)))
    logits = keras.layers.Add(name="logits")(scores)
    return keras.Model(inputs, logits, name=f"{kind}_graph_classifier")


# ----------------------------------------------------------------------------- train
def _graphs_seen(num_graphs, batch_size, steps):
    """Graphs in the first ``steps`` batches of passes over ``num_graphs`` graphs (each pass ends
    with a smaller batch)."""
    passes, rest = divmod(steps, -(-num_graphs // batch_size))
    return passes * num_graphs + rest * batch_size


def steps_per_call(steps, most=64):
    """Training steps per call into TF (Keras' ``steps_per_execution``): the largest divisor of
    an epoch's ``steps`` up to ``most``, so an epoch stays one pass. One call per step costs
    Keras' Python loop ~10% of a PROTEINS step."""
    return max(d for d in range(1, min(steps, most) + 1) if steps % d == 0)


def compile_model(model, lr, steps, metrics=()):
    """Xu et al.'s optimiser: Adam at ``lr``, halved every 50 epochs of ``steps`` steps;
    ``steps_per_call(steps)`` steps per call into TF."""
    import keras

    schedule = keras.optimizers.schedules.ExponentialDecay(lr, 50 * steps, 0.5, staircase=True)
    model.compile(keras.optimizers.Adam(schedule), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=list(metrics), steps_per_execution=steps_per_call(steps))


def _fit_fold(args, dataset, train_idx, test_idx, fold):
    train = graphs.tf_dataset(dataset, train_idx, args.batch_size, shuffle=True, seed=args.seed + fold)
    test = graphs.tf_dataset(dataset, test_idx, 128)
    steps = args.steps_per_epoch or len(train)  # an epoch is one pass unless told otherwise
    with strategy(args.distribute).scope():
        model = build_model(args.model, dataset.num_features, dataset.num_classes, args.hidden,
                            args.layers, args.dropout, stats=feature_stats(dataset, train_idx),
                            symmetric_edges=dataset.symmetric)
        compile_model(model, args.lr, steps, metrics=["accuracy"])
    print(f"fold {fold + 1}/{args.folds}: {len(train_idx)} training graphs, {len(test_idx)} held out")
    start = time.time()
    # The repeated training set with fixed steps keeps one iterator for the whole fit (a new one
    # per epoch costs ~60 ms, 15% of a PROTEINS epoch); the training order is still reshuffled
    # each pass. The test set is not repeated: a call runs up to steps_per_execution batches,
    # and on a repeated set would evaluate it that many times over.
    history = model.fit(train.repeat(), steps_per_epoch=steps, validation_data=test,
                        epochs=args.epochs, verbose=args.verbose,
                        shuffle=False)  # the pipeline reshuffles each pass
    seconds = time.time() - start
    return model, history.history, seconds, _graphs_seen(len(train_idx), args.batch_size, steps * args.epochs)


def _plot_curves(histories, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax, label in (("loss", ax_loss, "train loss"), ("val_loss", ax_loss, "held-out loss"),
                           ("accuracy", ax_acc, "train accuracy"), ("val_accuracy", ax_acc, "held-out accuracy")):
        curves = np.array([h[key] for h in histories])
        mean = curves.mean(0)
        epochs = np.arange(1, len(mean) + 1)
        ax.plot(epochs, mean, label=label)
        if len(curves) > 1:
            ax.fill_between(epochs, curves.min(0), curves.max(0), alpha=0.2)
    ax_loss.set_yscale("log")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    ax_acc.set_title(f"mean over {len(histories)} fold(s), band = min..max")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)


def train(args):
    import keras

    keras.utils.set_random_seed(args.seed)
    dataset = graphs.load(args.dataset, args.data_dir, seed=args.seed, download=args.download,
                          node_attributes=args.node_attributes)
    out = run_dir("graph", args.out)
    folds = graphs.stratified_folds(dataset.labels, args.folds, seed=args.seed)
    print(f"{dataset.name}: {dataset.num_graphs} graphs, {dataset.num_features} node features, "
          f"classes {dataset.label_names}; model {args.model}, {args.folds} fold(s), {args.epochs} epochs")
    config = {**{k: v for k, v in vars(args).items() if k != "func"}, "label_names": dataset.label_names,
              "num_features": dataset.num_features, "held_out": folds[0][1].tolist(),
              "symmetric_edges": dataset.symmetric}  # every edge has its reverse: faster GIN training
    write_json(out / "config.json", config)
    histories, accuracies, seconds, graphs_seen = [], [], 0.0, 0
    for fold, (train_idx, test_idx) in enumerate(folds):
        model, history, fold_seconds, fold_graphs = _fit_fold(args, dataset, train_idx, test_idx, fold)
        histories.append(history)
        accuracies.append(history["val_accuracy"][-1])
        seconds += fold_seconds
        graphs_seen += fold_graphs
        if fold == 0:  # the model kept for evaluate/export/predict; its held-out split is in config
            save_keras(model, out / "model.keras")
    curve = np.mean([h["val_accuracy"] for h in histories], axis=0)
    metrics = {
        "dataset": dataset.name, "model": args.model, "folds": args.folds, "epochs": args.epochs,
        "accuracy": float(np.mean(accuracies)),
        "accuracy_mean": float(np.mean(accuracies)), "accuracy_std": float(np.std(accuracies)),
        "fold_accuracies": [float(a) for a in accuracies],
        # Xu et al. 2019's protocol: the epoch whose accuracy averaged over folds is highest.
        "best_epoch": int(curve.argmax()) + 1, "accuracy_mean_at_best_epoch": float(curve.max()),
        "accuracy_std_at_best_epoch": float(np.std([h["val_accuracy"][curve.argmax()] for h in histories])),
        "wall_time_s": seconds,
        "training_graphs_per_second": float(graphs_seen / seconds),
    }
    write_json(out / "metrics.json", metrics)
    _plot_curves(histories, out / "learning_curves.png")
    print(f"\n{'fold':>6} {'held-out accuracy':>18}")
    for fold, acc in enumerate(accuracies):
        print(f"{fold + 1:>6} {acc:>18.4f}")
    print(f"{'mean':>6} {metrics['accuracy_mean']:>18.4f}  (std {metrics['accuracy_std']:.4f}; "
          f"best averaged epoch {metrics['best_epoch']}: {metrics['accuracy_mean_at_best_epoch']:.4f})")
    print(f"wrote {out}/metrics.json, learning_curves.png, model.keras")
    return metrics


# ----------------------------------------------------------------------------- evaluate / predict
def _run_dataset(config, data_dir=None):
    """The dataset a run was trained on, read the same way."""
    return graphs.load(config["dataset"], data_dir or config.get("data_dir"), seed=config["seed"],
                       node_attributes=config.get("node_attributes", True))


def _keras_probabilities(model):
    import keras

    return lambda inputs: keras.ops.convert_to_numpy(keras.ops.softmax(model(inputs, training=False)))


def _batched(probabilities, dataset, indices, batch_size=32):
    """``probabilities(inputs) -> [G, C]`` over ``indices`` in disjoint batches, concatenated."""
    indices = np.asarray(indices)
    return np.concatenate([probabilities(dataset.batch(indices[i:i + batch_size])[0])
                           for i in range(0, len(indices), batch_size)])


def evaluate(args):
    config, model = load_run(args.run)
    dataset = _run_dataset(config, args.data_dir)
    held_out = np.array(config["held_out"])
    probabilities = _batched(_keras_probabilities(model), dataset, held_out)
    from sklearn.metrics import accuracy_score, classification_report

    predicted = probabilities.argmax(1)
    result = {"accuracy": float(accuracy_score(dataset.labels[held_out], predicted)),
              "graphs": int(len(held_out)), "dataset": dataset.name}
    print(classification_report(dataset.labels[held_out], predicted, labels=range(dataset.num_classes),
                                target_names=config["label_names"], zero_division=0))
    print(f"accuracy {result['accuracy']:.4f} on {len(held_out)} held-out graphs of {dataset.name}")
    write_json(Path(args.run) / "eval.json", result)
    return result


def read_graphs_json(path, num_features):
    """``{"graphs": [{"node_features": [[...]...], "edges": [[s, r], ...]}, ...]}`` (or the list)."""
    import json

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise graphs.GraphDataError(f"{path}: not a readable JSON file ({e})") from None
    items = data["graphs"] if isinstance(data, dict) and "graphs" in data else data
    if not isinstance(items, list) or not items:
        raise graphs.GraphDataError(f"{path}: expected a list of graphs under \"graphs\"")
    features, senders, receivers, node_graph = [], [], [], []
    offset = 0
    for i, item in enumerate(items):
        try:
            x = np.asarray(item["node_features"], dtype=np.float32)
            edges = np.asarray(item.get("edges", []), dtype=np.int64).reshape(-1, 2)
        except (KeyError, TypeError, ValueError) as e:
            raise graphs.GraphDataError(f"{path}: graph {i}: needs node_features [n, {num_features}] "
                                        f"and edges [[sender, receiver], ...] ({e})") from None
        if x.size == 0:
            raise graphs.GraphDataError(f"{path}: graph {i} has no nodes")
        if x.ndim != 2 or x.shape[1] != num_features:
            raise graphs.GraphDataError(f"{path}: graph {i}: node_features has shape {list(x.shape)}, "
                                        f"the model expects [n, {num_features}]")
        if len(edges) and (edges.min() < 0 or edges.max() >= len(x)):
            raise graphs.GraphDataError(f"{path}: graph {i}: an edge names a node outside 0..{len(x) - 1}")
        features.append(x)
        senders.append(edges[:, 0] + offset)
        receivers.append(edges[:, 1] + offset)
        node_graph.append(np.full(len(x), i))
        offset += len(x)
    return graphs.GraphDataset(Path(path).name, np.concatenate(features), np.concatenate(senders).astype(np.int32),
                               np.concatenate(receivers).astype(np.int32), np.concatenate(node_graph).astype(np.int32),
                               np.zeros(len(items), np.int32), [])


def predict(args):
    config, model = load_run(args.run)
    for path in args.inputs:
        path = Path(path)
        if path.suffix == ".json":
            dataset = read_graphs_json(path, config["num_features"])
        else:
            dataset = graphs.read_tu(path)
            if not config.get("node_attributes", True):
                dataset = dataset.without_node_attributes()
        if dataset.num_features != config["num_features"]:
            raise graphs.GraphDataError(f"{path}: {dataset.num_features} node features, the model "
                                        f"expects {config['num_features']}")
        probabilities = _batched(_keras_probabilities(model), dataset, np.arange(dataset.num_graphs))
        for i, p in enumerate(probabilities):
            print(f"{path.name} graph {i}: {config['label_names'][p.argmax()]} (p={p.max():.3f})")


# ----------------------------------------------------------------------------- export
def serving_functions(model, label_names, num_features):
    """(signature, serving_default, tflite): the TF Serving endpoint checks its request (a bad
    index becomes an error response, not a wrong answer); the TFLite one leaves the checks out
    (Assert is not a TFLite builtin)."""
    import tensorflow as tf

    names = tf.constant(label_names)
    signature = [tf.TensorSpec((None, num_features), tf.float32, "node_features"),
                 tf.TensorSpec((None,), tf.int32, "senders"), tf.TensorSpec((None,), tf.int32, "receivers"),
                 tf.TensorSpec((None,), tf.int32, "graph_ids"), tf.TensorSpec((), tf.int32, "num_graphs")]

    def probabilities(node_features, senders, receivers, graph_ids, num_graphs):
        inputs = dict(zip(INPUTS, (node_features, senders, receivers, graph_ids, num_graphs)))
        return tf.nn.softmax(model(inputs, training=False))

    def serve(node_features, senders, receivers, graph_ids, num_graphs):
        n = tf.shape(node_features)[0]
        checks = [
            tf.debugging.assert_equal(tf.shape(senders), tf.shape(receivers),
                                      message="senders and receivers must have the same length"),
            tf.debugging.assert_equal(tf.shape(graph_ids)[0], n, message="graph_ids needs one entry per node"),
            tf.debugging.assert_non_negative(tf.concat([senders, receivers, graph_ids], 0),
                                             message="senders, receivers and graph_ids must be >= 0"),
            tf.debugging.assert_less(tf.concat([senders, receivers], 0), n,
                                     message="senders/receivers index past the number of nodes"),
            tf.debugging.assert_less(graph_ids, num_graphs, message="graph_ids must be < num_graphs"),
        ]
        with tf.control_dependencies(checks):
            p = probabilities(node_features, senders, receivers, graph_ids, num_graphs)
        label = tf.argmax(p, axis=-1, output_type=tf.int32)
        return {"probabilities": p, "label": label, "label_name": tf.gather(names, label)}

    def lite(node_features, senders, receivers, graph_ids, num_graphs):
        p = probabilities(node_features, senders, receivers, graph_ids, num_graphs)
        return {"probabilities": p, "label": tf.argmax(p, axis=-1, output_type=tf.int32)}

    return signature, serve, lite


def export(args):
    """SavedModel (verified with the loader TF Serving uses) + TFLite float and int8 (verified in
    LiteRT on the run's held-out graphs), each moved into place only after its check."""
    import tensorflow as tf

    from apps import export as ex

    config, model = load_run(args.run)
    dataset = _run_dataset(config, args.data_dir)
    held_out = np.array(config["held_out"])
    train_idx = np.setdiff1d(np.arange(dataset.num_graphs), held_out)
    keras_probs = _batched(_keras_probabilities(model), dataset, held_out)
    truth = dataset.labels[held_out]
    report = {"graphs": int(len(held_out)), "keras_accuracy": float(np.mean(keras_probs.argmax(1) == truth))}

    base = Path(args.out)
    version = ex.next_version(base)
    tmp = ex.staging(version)
    signature, serve, lite = serving_functions(model, config["label_names"], config["num_features"])
    ex.write_saved_model(model, tmp, {"serving_default": (serve, signature), "tflite": (lite, signature)})

    loaded = tf.saved_model.load(str(tmp)).signatures["serving_default"]
    served = _batched(lambda inputs: loaded(**{k: tf.constant(v) for k, v in inputs.items()})["probabilities"].numpy(),
                      dataset, held_out)
    report["saved_model_max_abs_error"] = float(np.abs(served - keras_probs).max())
    if report["saved_model_max_abs_error"] > 1e-4:
        raise SystemExit(f"error: the SavedModel differs from Keras by {report['saved_model_max_abs_error']}")

    def representative():  # every training graph, so the calibrated ranges cover the largest
        for start in range(0, len(train_idx), 32):
            yield dataset.batch(train_idx[start:start + 32])[0]

    lite_files = {}
    for kind, content, lite_model in ex.lite_models(tmp, args.int8, representative, FLOAT_IN_INT8):
        probs = _batched(lambda inputs: lite_model(inputs)["probabilities"], dataset, held_out)
        report[f"tflite_{kind}_accuracy"] = float(np.mean(probs.argmax(1) == truth))
        report[f"tflite_{kind}_max_abs_error"] = float(np.abs(probs - keras_probs).max())
        report[f"tflite_{kind}_bytes"] = len(content)
        lite_files[kind] = content

    report["int8"] = args.int8
    ex.finish_export(tmp, version, "graph", lite_files, report)
    print(f"SavedModel {version} (serving_default: probabilities, label, label_name), "
          f"{base}/graph.tflite, {base}/graph_int8.tflite")
    print(f"held-out accuracy on {len(held_out)} graphs: Keras {report['keras_accuracy']:.4f}, "
          f"TFLite float {report['tflite_float_accuracy']:.4f}, int8 {report['tflite_int8_accuracy']:.4f} "
          f"(max |p - p_keras|: SavedModel {report['saved_model_max_abs_error']:.1e}, "
          f"float {report['tflite_float_max_abs_error']:.1e}, int8 {report['tflite_int8_max_abs_error']:.1e})")
    return report


# ----------------------------------------------------------------------------- CLI
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m apps.graph", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="k-fold training and evaluation")
    p.add_argument("--dataset", default="synthetic", help="TU dataset name (MUTAG, PROTEINS, ...) or 'synthetic'")
    p.add_argument("--data-dir", help="folder holding NAME/ or NAME.zip in TU format")
    p.add_argument("--download", action="store_true", help="fetch a missing TU dataset")
    p.add_argument("--no-node-attributes", dest="node_attributes", action="store_false",
                   help="node features: one-hot node labels only (as PyG and the GIN paper)")
    p.add_argument("--model", choices=["gin", "gat", "cheb", "gcn", "sage"], default="gin")
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps-per-epoch", type=int,
                   help="batches per epoch (default: one pass over the training graphs; Xu et al. use 50)")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=5, help="graph layers + 1 (the input layer)")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=0.01, help="Adam; halved every 50 epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run folder (default runs/graph/<timestamp>)")
    p.add_argument("--distribute", choices=["default", "mirrored", "multiworker"], default="default")
    p.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (1 = progress bar)")
    p.set_defaults(func=train)

    p = sub.add_parser("evaluate", help="score model.keras on its held-out graphs")
    p.add_argument("--run", required=True)
    p.add_argument("--data-dir")
    p.set_defaults(func=evaluate)

    p = sub.add_parser("export", help="SavedModel for TF Serving + TFLite float and int8")
    p.add_argument("--run", required=True)
    p.add_argument("--out", default="saved_models/graph")
    p.add_argument("--data-dir")
    p.add_argument("--int8", choices=["dynamic", "static"], default="dynamic",
                   help="dynamic: int8 weights, activations quantised per call (matches float); static: "
                        "int8 activations too, calibrated on the training graphs (integer-only hardware)")
    p.set_defaults(func=export)

    p = sub.add_parser("predict", help="classify graphs from a JSON file or a TU folder")
    p.add_argument("--run", required=True)
    p.add_argument("inputs", nargs="+")
    p.set_defaults(func=predict)

    args = parser.parse_args(argv)
    if any(getattr(args, name, None) is not None and getattr(args, name) < 1
           for name in ("folds", "epochs", "steps_per_epoch")):
        parser.error("--folds, --epochs and --steps-per-epoch must be at least 1")
    try:
        return args.func(args)
    except graphs.GraphDataError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

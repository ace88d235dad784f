"""``seqgraph graph train``: stratified k-fold training and evaluation of one model kind."""

import time

import keras
import numpy as np

from seqgraph.apps.common import FIT_VERBOSITY, plot_history, run_dir, save_config, save_keras, strategy, write_json
from seqgraph.apps.graph.model import build_model, compile_model
from seqgraph.datasets import graphs


def train(config, out=None, distribute="default", progress="bar"):
    """Train ``config.model`` on each of ``config.folds`` stratified folds of ``config.dataset``.

    Writes ``out`` (default ``runs/graph/<timestamp>``): ``config.json``, ``metrics.json``
    (held-out accuracy per fold after the last epoch, their mean and spread, and Xu et al.'s
    best fold-averaged epoch), ``learning_curves.png`` and ``model.keras`` (fold 1's model,
    whose held-out graphs ``config.json`` lists for ``evaluate`` and ``export``).

    Args:
        config: a ``GraphConfig``.
        out, distribute, progress: the options every ``train`` has (``seqgraph.cli.training_options``).

    Returns:
        The metrics, as written to metrics.json.
    """
    keras.utils.set_random_seed(config.seed)
    dataset = graphs.load(
        config.dataset,
        config.data_dir,
        seed=config.seed,
        download=config.download,
        node_attributes=config.node_attributes,
    )
    out = run_dir("graph", out)
    folds = graphs.stratified_folds(dataset.labels, config.folds, seed=config.seed)
    print(
        f"{dataset.name}: {dataset.num_graphs} graphs, {dataset.num_features} node features, "
        f"classes {dataset.label_names}; model {config.model}, {config.folds} fold(s), {config.epochs} epochs"
    )
    save_config(
        config,
        out / "config.json",
        "graph",
        label_names=dataset.label_names,
        num_features=dataset.num_features,
        held_out=folds[0][1].tolist(),
        symmetric_edges=dataset.symmetric,
    )  # every edge has its reverse: faster GIN training
    histories, accuracies, seconds, graphs_seen = [], [], 0.0, 0
    for fold, (train_idx, test_idx) in enumerate(folds):
        print(f"fold {fold + 1}/{config.folds}: {len(train_idx)} training graphs, {len(test_idx)} held out")
        model, history, fold_seconds, fold_graphs = fit_fold(
            config, dataset, train_idx, test_idx, fold, distribute, progress
        )
        histories.append(history)
        accuracies.append(history["val_accuracy"][-1])
        seconds += fold_seconds
        graphs_seen += fold_graphs
        if fold == 0:  # the model kept for evaluate/export/predict; its held-out split is in config
            save_keras(model, out / "model.keras")
    curve = np.mean([h["val_accuracy"] for h in histories], axis=0)
    metrics = {
        "dataset": dataset.name,
        "model": config.model,
        "folds": config.folds,
        "epochs": config.epochs,
        "accuracy": float(np.mean(accuracies)),
        "accuracy_mean": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "fold_accuracies": [float(a) for a in accuracies],
        # Xu et al. 2019's protocol: the epoch whose accuracy averaged over folds is highest.
        "best_epoch": int(curve.argmax()) + 1,
        "accuracy_mean_at_best_epoch": float(curve.max()),
        "accuracy_std_at_best_epoch": float(np.std([h["val_accuracy"][curve.argmax()] for h in histories])),
        "wall_time_s": seconds,
        "training_graphs_per_second": float(graphs_seen / seconds),
    }
    write_json(out / "metrics.json", metrics)
    plot_history(histories, out / "learning_curves.png")
    print(f"\n{'fold':>6} {'held-out accuracy':>18}")
    for fold, acc in enumerate(accuracies):
        print(f"{fold + 1:>6} {acc:>18.4f}")
    print(
        f"{'mean':>6} {metrics['accuracy_mean']:>18.4f}  (std {metrics['accuracy_std']:.4f}; "
        f"best averaged epoch {metrics['best_epoch']}: {metrics['accuracy_mean_at_best_epoch']:.4f})"
    )
    print(f"wrote {out}/metrics.json, learning_curves.png, model.keras")
    return metrics


def fit_fold(config, dataset, train_idx, test_idx, fold, distribute="default", progress="none"):
    """Train a fresh model on ``train_idx``, scoring ``test_idx`` after each epoch. Returns
    ``(model, history, seconds, graphs trained on)``."""
    train_set = graphs.tf_dataset(dataset, train_idx, config.batch_size, shuffle=True, seed=config.seed + fold)
    test_set = graphs.tf_dataset(dataset, test_idx, 128)
    steps = config.steps_per_epoch or len(train_set)  # an epoch is one pass unless told otherwise
    with strategy(distribute).scope():
        model = build_model(
            config.model,
            dataset.num_features,
            dataset.num_classes,
            config.hidden,
            config.layers,
            config.dropout,
            stats=dataset.attribute_stats(train_idx),
            symmetric_edges=dataset.symmetric,
        )
        compile_model(model, config.lr, steps, metrics=["accuracy"])
    start = time.time()
    # The repeated training set with fixed steps keeps one iterator for the whole fit (a new one
    # per epoch costs ~60 ms, 15% of a PROTEINS epoch); the training order is still reshuffled
    # each pass. The test set is not repeated: a call runs up to steps_per_execution batches,
    # and on a repeated set would evaluate it that many times over.
    history = model.fit(
        train_set.repeat(),
        steps_per_epoch=steps,
        validation_data=test_set,
        epochs=config.epochs,
        verbose=FIT_VERBOSITY[progress],
        shuffle=False,
    )  # the pipeline reshuffles each pass
    seconds = time.time() - start
    return model, history.history, seconds, graphs_seen(len(train_idx), config.batch_size, steps * config.epochs)


def graphs_seen(num_graphs, batch_size, steps):
    """Graphs in the first ``steps`` batches of passes over ``num_graphs`` graphs (each pass ends
    with a smaller batch)."""
    passes, rest = divmod(steps, -(-num_graphs // batch_size))
    return passes * num_graphs + rest * batch_size

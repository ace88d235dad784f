"""``seqgraph graph train``: stratified k-fold training and evaluation of one model kind."""

import functools
import json
import shutil
import time

import keras
import numpy as np

from seqgraph.apps.common import (
    plot_history,
    require,
    save_config,
    save_keras,
    strategy,
    training_run,
    write_json,
)
from seqgraph.apps.graph import errica
from seqgraph.apps.graph.model import build_model, compile_model
from seqgraph.apps.training import distributed, fit, replica_batches
from seqgraph.datasets import graphs


def train(config, out=None, distribute="default", progress="bar", overwrite=False, jobs=1):
    """Train ``config.model`` on each of ``config.folds`` stratified folds of ``config.dataset``
    and score each fold's test graphs, by ``config.protocol``: ``xu`` (``xu_protocol``) or
    ``errica`` (``errica.assess``: settings and epochs chosen on a validation split).

    Writes ``out`` (default ``runs/graph/<timestamp>``): ``config.json``, ``metrics.json``
    (test accuracy per fold, their mean and spread, and what the protocol chose),
    ``learning_curves.png`` (xu) or ``selection.png`` (errica), ``model.keras`` (fold 1's model,
    whose held-out graphs ``config.json`` lists for ``evaluate`` and ``export``) and, for xu,
    TensorBoard logs per fold in ``logs/``. Re-run on an unfinished run, it resumes: xu after
    its last whole epoch, errica after its last whole training.

    Args:
        config: a ``GraphConfig``.
        out, distribute, progress, overwrite: the options every ``train`` has
            (``seqgraph.cli.training_options``).
        jobs: with ``--protocol errica``, how many trainings run at once, each in its own process
            on its share of the CPU cores (``errica.trainer``).

    Returns:
        The metrics, as written to metrics.json.
    """
    require(jobs == 1 or config.protocol == "errica", "jobs", "needs --protocol errica")
    require(jobs == 1 or distribute == "default", "jobs", "trains on one device: it cannot go with --distribute")
    distribution = strategy(distribute)
    keras.utils.set_random_seed(config.seed)
    dataset = graphs.load(
        config.dataset,
        config.data_dir,
        seed=config.seed,
        download=config.download,
        node_attributes=config.node_attributes,
    )
    folds = graphs.stratified_folds(dataset.labels, config.folds, seed=config.seed)
    with training_run("graph", out, config, overwrite, distribution) as run:
        print(
            f"{dataset.name}: {dataset.num_graphs} graphs, {dataset.num_features} node features, "
            f"classes {dataset.label_names}; model {config.model}, {config.folds} fold(s), {config.epochs} epochs"
        )
        if run.chief:
            save_config(
                config,
                run.path / "config.json",
                "graph",
                label_names=dataset.label_names,
                num_features=dataset.num_features,
                held_out=folds[0][1].tolist(),
                symmetric_edges=dataset.symmetric,
            )  # every edge has its reverse: faster GIN training
        protocol = functools.partial(errica.assess, jobs=jobs) if config.protocol == "errica" else xu_protocol
        metrics = run.finish(protocol(config, dataset, folds, run, distribution, progress))
    plot = "selection.png" if config.protocol == "errica" else "learning_curves.png"
    print(run.wrote(f"metrics.json, {plot}, model.keras"))
    return metrics


def xu_protocol(config, dataset, folds, run, distribution, progress):
    """Xu et al. 2019's protocol: train on each fold's training graphs for ``config.epochs``,
    scoring its test graphs after every epoch; report the last epoch's accuracies and the epoch
    whose fold-averaged test accuracy is highest (chosen on the test folds themselves). Keeps
    fold 1's model; resumes after the folds done. Returns the metrics."""
    done_path = run.state / "folds.json"  # the folds done: history, seconds, graphs trained on
    done = json.loads(done_path.read_text()) if done_path.exists() else []
    for fold, (train_idx, test_idx) in enumerate(folds):
        if fold < len(done):
            continue
        print(f"fold {fold + 1}/{config.folds}: {len(train_idx)} training graphs, {len(test_idx)} held out")
        model, history, seconds = fit_fold(config, dataset, train_idx, test_idx, fold, run, distribution, progress)
        steps = epoch_steps(config, train_idx) * config.epochs
        done.append(
            {
                "history": history,
                "seconds": seconds,
                "graphs": graphs_seen(len(train_idx), config.batch_size, steps),
            }
        )
        if run.chief:
            if fold == 0:  # the model kept for evaluate/export/predict; its held-out split is in config
                save_keras(model, run.path / "model.keras")
            write_json(done_path, done)
            shutil.rmtree(run.state / f"fold-{fold + 1}", ignore_errors=True)
    histories = [d["history"] for d in done]
    accuracies = [h["val_accuracy"][-1] for h in histories]
    seconds = sum(d["seconds"] for d in done)
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
        "training_graphs_per_second": float(sum(d["graphs"] for d in done) / seconds),
    }
    if run.chief:
        plot_history(histories, run.path / "learning_curves.png")
    print(f"\n{'fold':>6} {'held-out accuracy':>18}")
    for fold, acc in enumerate(accuracies):
        print(f"{fold + 1:>6} {acc:>18.4f}")
    print(
        f"{'mean':>6} {metrics['accuracy_mean']:>18.4f}  (std {metrics['accuracy_std']:.4f}; "
        f"best averaged epoch {metrics['best_epoch']}: {metrics['accuracy_mean_at_best_epoch']:.4f})"
    )
    return metrics


def fit_fold(config, dataset, train_idx, test_idx, fold, run=None, distribution=None, progress="none", callbacks=()):
    """Train a fresh model on ``train_idx``, scoring ``test_idx`` after each epoch, resuming from
    the fold's state in ``run`` if it has one (more Keras ``callbacks`` may stop it early).
    Returns ``(model, history, seconds)``."""
    distribution = distribution or strategy()

    def train_data(context):  # this input pipeline's replicas' parts of each global batch
        return graphs.tf_dataset(
            dataset,
            train_idx,
            config.batch_size,
            shuffle=True,
            seed=config.seed + fold,
            split=lambda batches: replica_batches(batches, context),
        )

    test_set = graphs.tf_dataset(dataset, test_idx, 128)
    steps = epoch_steps(config, train_idx)
    keras.utils.set_random_seed(config.seed + fold)
    with distribution.scope():
        model = build_model(
            config.model,
            dataset.num_features,
            dataset.num_classes,
            config.hidden,
            config.layers,
            config.dropout,
            readout=config.readout,
            train_eps=config.train_eps,
            stats=dataset.attribute_stats(train_idx),
            symmetric_edges=dataset.symmetric,
            synchronized=distributed(distribution),
        )
        compile_model(model, config.lr, steps, metrics=["accuracy"])
    start = time.time()
    # fit repeats the training pass with fixed steps: one iterator for the whole fit (a new one
    # per epoch costs ~60 ms, 15% of a PROTEINS epoch); the order is still reshuffled each pass.
    history = fit(
        model,
        train_data,
        steps,
        config.epochs,
        run,
        distribution,
        progress,
        validation_data=test_set,
        state=f"state/fold-{fold + 1}",
        logs=f"logs/fold-{fold + 1}" if config.folds > 1 else "logs",
        callbacks=callbacks,
    )
    return model, history, time.time() - start


def epoch_steps(config, train_idx):
    """Training steps per epoch: one pass over ``train_idx`` unless ``--steps-per-epoch`` says."""
    return config.steps_per_epoch or -(-len(train_idx) // config.batch_size)


def graphs_seen(num_graphs, batch_size, steps):
    """Graphs in the first ``steps`` batches of passes over ``num_graphs`` graphs (each pass ends
    with a smaller batch)."""
    passes, rest = divmod(steps, -(-num_graphs // batch_size))
    return passes * num_graphs + rest * batch_size

"""``seqgraph image train``: one model on the training split, scored on the test split."""

import time

import keras
import numpy as np

from seqgraph.apps import training
from seqgraph.apps.common import plot_history, save_config, save_keras, strategy, training_run
from seqgraph.apps.image.model import build_model, compile_model
from seqgraph.apps.training import replica_batches
from seqgraph.datasets import images


def load_images(config):
    """The dataset of ``config`` and its (train, test) indices."""
    dataset = images.load(config.dataset, config.data_dir, tuple(config.size) if config.size else None)
    return (dataset, *images.split(dataset.labels, config.test_fraction, seed=config.split_seed))


def train(config, out=None, distribute="default", progress="bar", overwrite=False):
    """Train ``config.model`` on the training split and score the test split after each epoch.

    Writes ``out`` (default ``runs/image/<timestamp>``): ``config.json``, ``metrics.json`` (test
    accuracy after the last epoch, the epoch it first reached 98%, training accuracy, weights,
    wall time), ``learning_curves.png``, ``model.keras`` and TensorBoard logs in ``logs/``.
    Re-run on an unfinished run, it resumes after the last whole epoch.

    Args:
        config: an ``ImageConfig``.
        out, distribute, progress, overwrite: the options every ``train`` has
            (``seqgraph.cli.training_options``).

    Returns:
        The metrics, as written to metrics.json.
    """
    distribution = strategy(distribute)
    dataset, train_idx, test_idx = load_images(config)
    with training_run("image", out, config, overwrite, distribution) as run:
        print(
            f"{dataset.name}: {len(dataset.labels)} images {list(dataset.shape)}, {dataset.num_classes} classes; "
            f"{len(train_idx)} training, {len(test_idx)} test; model {config.model}, {config.epochs} epochs"
        )
        if run.chief:
            save_config(
                config,
                run.path / "config.json",
                "image",
                class_names=dataset.class_names,
                shape=list(dataset.shape),
                dataset_name=dataset.name,
            )
        model, history, seconds = fit(config, dataset, train_idx, test_idx, run, distribution, progress=progress)
        if run.chief:
            save_keras(model, run.path / "model.keras")
        reached = [epoch for epoch, acc in enumerate(history["val_accuracy"], 1) if acc >= 0.98]
        metrics = {
            "dataset": dataset.name,
            "model": config.model,
            "epochs": config.epochs,
            "seed": config.seed,
            "accuracy": float(history["val_accuracy"][-1]),
            "train_accuracy": float(history["accuracy"][-1]),
            "first_epoch_at_98_percent": reached[0] if reached else None,
            "val_accuracy": [float(a) for a in history["val_accuracy"]],
            "parameters": int(model.count_params()),
            "wall_time_s": seconds,
            "training_images_per_second": len(train_idx) * config.epochs / seconds,
            "test_images": int(len(test_idx)),
        }
        if run.chief:
            plot_history([history], run.path / "learning_curves.png", held_out="test")
        metrics = run.finish(metrics)
    print(
        f"test accuracy {metrics['accuracy']:.4f} ({config.model}, {metrics['parameters']:,} weights, "
        f"{seconds:.0f} s)\n{run.wrote('metrics.json, learning_curves.png, model.keras')}"
    )
    return metrics


def fit(config, dataset, train_idx, test_idx, run, distribution, steps_per_epoch=None, progress="none"):
    """Train a fresh model in ``run`` (resuming from its state if it has one); returns
    ``(model, history, seconds)``. ``steps_per_epoch`` defaults to one pass over ``train_idx``
    (data-scaling keeps the full set's count, so every size gets as many updates)."""
    keras.utils.set_random_seed(config.seed)
    steps_per_epoch = steps_per_epoch or int(np.ceil(len(train_idx) / config.batch_size))
    with distribution.scope():
        model = build_model(
            config.model,
            dataset.shape,
            dataset.num_classes,
            synchronized=training.distributed(distribution),
            **config.model_options(),
        )
        compile_model(model, steps_per_epoch * config.epochs, config.lr, config.weight_decay)

    def train_data(context):  # this input pipeline's replicas' parts of each global batch
        batches = images.tf_dataset(
            dataset, train_idx, config.batch_size, shuffle=True, augment=config.augment, seed=config.seed
        )
        return replica_batches(batches, context)

    test_set = images.tf_dataset(dataset, test_idx, 256)
    start = time.time()
    history = training.fit(
        model,
        train_data,
        steps_per_epoch,
        config.epochs,
        run,
        distribution,
        progress,
        validation_data=test_set.repeat(),
        validation_steps=len(test_set),
    )
    return model, history, time.time() - start

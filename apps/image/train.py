"""``seqgraph image train``: one model on the training split, scored on the test split."""

import time

import keras
import numpy as np

from seqgraph.apps.common import FIT_VERBOSITY, plot_history, run_dir, save_config, save_keras, strategy, write_json
from seqgraph.apps.image.model import build_model, compile_model
from seqgraph.datasets import images


def load_images(config):
    """The dataset of ``config`` and its (train, test) indices."""
    dataset = images.load(config.dataset, config.data_dir, tuple(config.size) if config.size else None)
    return (dataset, *images.split(dataset.labels, config.test_fraction, seed=config.split_seed))


def train(config, out=None, distribute="default", progress="bar"):
    """Train ``config.model`` on the training split and score the test split after each epoch.

    Writes ``out`` (default ``runs/image/<timestamp>``): ``config.json``, ``metrics.json`` (test
    accuracy after the last epoch, the epoch it first reached 98%, training accuracy, weights,
    wall time), ``learning_curves.png`` and ``model.keras``.

    Args:
        config: an ``ImageConfig``.
        out, distribute, progress: the options every ``train`` has (``seqgraph.cli.training_options``).

    Returns:
        The metrics, as written to metrics.json.
    """
    dataset, train_idx, test_idx = load_images(config)
    out = run_dir("image", out)
    print(
        f"{dataset.name}: {len(dataset.labels)} images {list(dataset.shape)}, {dataset.num_classes} classes; "
        f"{len(train_idx)} training, {len(test_idx)} test; model {config.model}, {config.epochs} epochs"
    )
    save_config(
        config,
        out / "config.json",
        "image",
        class_names=dataset.class_names,
        shape=list(dataset.shape),
        dataset_name=dataset.name,
    )
    model, history, seconds = fit(config, dataset, train_idx, test_idx, distribute=distribute, progress=progress)
    save_keras(model, out / "model.keras")
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
    write_json(out / "metrics.json", metrics)
    plot_history([history], out / "learning_curves.png", held_out="test")
    print(
        f"test accuracy {metrics['accuracy']:.4f} ({config.model}, {metrics['parameters']:,} weights, "
        f"{seconds:.0f} s)\nwrote {out}/metrics.json, learning_curves.png, model.keras"
    )
    return metrics


def fit(config, dataset, train_idx, test_idx, steps_per_epoch=None, distribute="default", progress="none"):
    """Train a fresh model; returns ``(model, history, seconds)``. ``steps_per_epoch`` defaults
    to one pass over ``train_idx`` (data-scaling keeps the full set's count, so every size gets
    as many updates)."""
    keras.utils.set_random_seed(config.seed)
    steps_per_epoch = steps_per_epoch or int(np.ceil(len(train_idx) / config.batch_size))
    with strategy(distribute).scope():
        model = build_model(config.model, dataset.shape, dataset.num_classes, **config.model_options())
        compile_model(model, steps_per_epoch * config.epochs, config.lr, config.weight_decay)
    train_set = images.tf_dataset(
        dataset, train_idx, config.batch_size, shuffle=True, augment=config.augment, seed=config.seed
    )
    test_set = images.tf_dataset(dataset, test_idx, 256)
    start = time.time()
    history = model.fit(
        train_set.repeat(),
        steps_per_epoch=steps_per_epoch,
        epochs=config.epochs,
        validation_data=test_set.repeat(),
        validation_steps=len(test_set),
        verbose=FIT_VERBOSITY[progress],
        shuffle=False,
    )  # the pipeline reshuffles each pass
    return model, history.history, time.time() - start

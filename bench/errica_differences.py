"""Which differences between our Errica-protocol training and Errica et al.'s code move the
ENZYMES baseline (DeepSets, their DeepMultisets; 65.2% in their Table 3), or GIN?

    python -m bench.errica_differences --data-dir ../shared/data/tu [--model gin] [--variants ours ...]

One setting of their grid (DeepSets: hidden 256, Adam 1e-3, batch 32; GIN: 5 layers of 64, batch
32, no dropout, sum readout, Adam 0.01), no selection: in each of the 10
outer folds one training on the fold's 90% stopped on its validation split (our
``validation_split``, patience 20, at most 300 epochs), the restored weights scored once on the
test fold. ``ours`` is the app as it trains (stopped on validation accuracy, ties counted as
better as their ``Patience`` does, attributes standardised inside the model, Adam halved every
50 epochs); each other variant changes one thing. Writes ``results/errica_differences.json``
(``errica_differences_gin.json`` for GIN), keeping the variants not run this time.
"""

import argparse
import json
import time
from unittest import mock

import keras
import numpy as np

from bench.common import RESULTS, write_results
from seqgraph import layers
from seqgraph.apps.graph import errica, train
from seqgraph.apps.graph import model as graph_model
from seqgraph.apps.graph.config import GraphConfig
from seqgraph.datasets import graphs

SETTINGS = {
    "deepsets": {"hidden": 256, "lr": 0.001, "batch_size": 32, "dropout": 0.0},
    "gin": {"hidden": 64, "layers": 5, "batch_size": 32, "dropout": 0.0, "readout": "sum", "lr": 0.01},
}
STANDARDIZE = layers.Standardize
VARIANTS = {
    "ours": "stopped on validation accuracy, ties count as better (Errica et al.'s Patience)",
    "keras-first-best": "Keras' EarlyStopping: the first best epoch kept, ties do not restart the wait",
    "stop-on-loss": "stopped on validation loss",
    "raw-attributes": "ENZYMES' 18 attributes fed as they are, not standardised",
    "constant-lr": "Adam at a constant learning rate (their baselines have no schedule), not halved every 50 epochs",
    "l2-1e-4": "their coupled L2 (torch's Adam weight_decay 1e-4 on every parameter)",
    "l2-1e-2": "their coupled L2 at weight_decay 1e-2",
    "first-mlp": "GIN: their first layer, an MLP (2 x Dense, batch norm, ReLU) on the node features before the first "
    "readout and the first graph layer",
    "their-length": "their length: patience 500 epochs of at most 1000 (GIN; 5000 for their baselines), not 20 of 300",
}


def run_variant(variant, model_kind, dataset, folds):
    """Test accuracy per fold of one training of ``SETTINGS[model_kind]`` under ``variant``."""
    patience, epochs = (500, 1000) if variant == "their-length" else (20, 300)
    stop_on = "loss" if variant == "stop-on-loss" else "accuracy"
    mode = "min" if stop_on == "loss" else "max"
    stopper = keras.callbacks.EarlyStopping if variant == "keras-first-best" else errica.Patience
    weight_decay = float(variant[3:]) if variant.startswith("l2-") else 0.0

    def input_layers(mean, variance, **kwargs):
        """first-mlp: their GIN's first layer (``first_h``) after our standardising."""
        units = SETTINGS[model_kind]["hidden"]
        mlp = [
            layer
            for _ in range(2)
            for layer in (keras.layers.Dense(units), keras.layers.BatchNormalization(momentum=0.9), keras.layers.ReLU())
        ]
        return keras.Sequential([STANDARDIZE(mean, variance, **kwargs), *mlp])

    def build(*args, **kwargs):
        with mock.patch.object(layers, "Standardize", input_layers if variant == "first-mlp" else STANDARDIZE):
            model = graph_model.build_model(*args, **kwargs)
        if weight_decay:  # torch's weight_decay wd is the loss + wd/2 |w|^2
            for weight in model.trainable_weights:
                weight.regularizer = keras.regularizers.L2(weight_decay / 2)
        return model

    def compile_model(model, lr, steps, metrics=()):
        if variant != "constant-lr":
            return graph_model.compile_model(model, lr, steps, metrics)
        model.compile(
            keras.optimizers.Adam(lr),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=list(metrics),
            steps_per_execution=graph_model.steps_per_call(steps),
        )

    stats = (lambda indices: None) if variant == "raw-attributes" else dataset.attribute_stats
    accuracies, epochs_run = [], []
    with (
        mock.patch.object(train, "build_model", build),
        mock.patch.object(train, "compile_model", compile_model),
        mock.patch.object(dataset, "attribute_stats", stats),
    ):
        for fold, (train_idx, test_idx) in enumerate(folds):
            inner_idx, valid_idx = errica.validation_split(dataset.labels, train_idx, fold)
            config = GraphConfig(dataset="ENZYMES", model=model_kind, epochs=epochs, **SETTINGS[model_kind])
            stop = stopper(f"val_{stop_on}", patience=patience, mode=mode, restore_best_weights=True)
            model, history, _ = train.fit_fold(config, dataset, inner_idx, valid_idx, fold, callbacks=[stop])
            scores = model.evaluate(graphs.tf_dataset(dataset, test_idx, 128), verbose=0, return_dict=True)
            accuracies.append(float(scores["accuracy"]))
            epochs_run.append(len(history["val_loss"]))
            print(f"  {variant} fold {fold + 1}: test {accuracies[-1]:.3f} after {epochs_run[-1]} epochs", flush=True)
    return accuracies, epochs_run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="the folder holding ENZYMES/ or ENZYMES.zip")
    parser.add_argument("--model", default="deepsets", choices=list(SETTINGS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    dataset = graphs.load("ENZYMES", args.data_dir)
    folds = graphs.stratified_folds(dataset.labels, 10, seed=0)
    results = {}
    for variant in args.variants:
        start = time.time()
        accuracies, epochs_run = run_variant(variant, args.model, dataset, folds)
        results[variant] = {
            "what": VARIANTS[variant],
            "accuracy": 100 * float(np.mean(accuracies)),
            "std": 100 * float(np.std(accuracies)),
            "fold_accuracies": accuracies,
            "epochs_run": epochs_run,
            "seconds": time.time() - start,
            "date": time.strftime("%Y-%m-%d"),
        }
        print(f"{variant}: {results[variant]['accuracy']:.1f}% +- {results[variant]['std']:.1f}", flush=True)
    print("\n| variant | test accuracy | epochs run |\n|---|---|---|")
    for variant, r in results.items():
        print(f"| {variant} | {r['accuracy']:.1f} +- {r['std']:.1f} | {min(r['epochs_run'])}-{max(r['epochs_run'])} |")
    name = "errica_differences" + ("" if args.model == "deepsets" else f"_{args.model}")
    earlier = RESULTS / f"{name}.json"  # the variants not run now are kept, with their date
    kept = {k: v for k, v in json.loads(earlier.read_text()).items() if k in VARIANTS} if earlier.exists() else {}
    write_results(name, {"dataset": "ENZYMES", "model": args.model, "setting": SETTINGS[args.model], **kept, **results})


if __name__ == "__main__":
    main()

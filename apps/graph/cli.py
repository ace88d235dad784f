"""``seqgraph graph``: the command line (argparse only); each command calls its task."""

from seqgraph.apps.graph.config import MODELS, GraphConfig
from seqgraph.cli import app_parser, command, config_from, training_options


def add_parser(apps, name, summary):
    commands = app_parser(
        apps,
        name,
        summary,
        description=(
            "Graph classification with the lecture's graph networks (GIN, GAT, ChebConv, GCN, GraphSAGE) on "
            "TU Dortmund datasets or on generated graphs, with stratified k-fold evaluation, and export for "
            "TF Serving and TFLite."
        ),
    )
    d = GraphConfig()

    p = command(
        commands,
        "train",
        "k-fold training and evaluation",
        "Trains one model per fold of a stratified k-fold split and reports the held-out accuracy "
        "of each fold, their mean and spread. The run folder gets config.json, metrics.json, "
        "learning_curves.png and fold 1's model.keras.",
        "seqgraph graph train --dataset MUTAG --data-dir data/tu --model gin --folds 10 --out runs/graph/mutag",
    )
    p.add_argument(
        "--dataset",
        default=d.dataset,
        help="a TU dataset name (MUTAG, PROTEINS, ...) or 'synthetic', generated graphs of six families",
    )
    p.add_argument("--data-dir", help="the folder holding DATASET/ or DATASET.zip in TU format")
    p.add_argument("--download", action="store_true", help="fetch a missing TU dataset by name")
    p.add_argument(
        "--no-node-attributes",
        dest="node_attributes",
        action="store_false",
        help="node features: the one-hot node labels only, without the TU node attributes",
    )
    p.add_argument("--model", choices=MODELS, default=d.model, help="the graph layer")
    p.add_argument("--folds", type=int, default=d.folds, help="stratified folds (1: one 90/10 split)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs per fold")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="graphs per batch")
    p.add_argument(
        "--steps-per-epoch",
        type=int,
        help="batches per epoch (default: one pass over the training graphs; Xu et al. use 50)",
    )
    p.add_argument("--hidden", type=int, default=d.hidden, help="units of each graph layer")
    p.add_argument("--layers", type=int, default=d.layers, help="graph layers + 1 (the input's readout)")
    p.add_argument("--dropout", type=float, default=d.dropout, help="dropout rate on each layer's class scores")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam's learning rate, halved every 50 epochs")
    p.add_argument("--seed", type=int, default=d.seed, help="folds, initial weights and batch order")
    training_options(p, "graph", GraphConfig, "run folder (default: runs/graph/<timestamp>)")
    p.set_defaults(handler=train)

    p = command(
        commands,
        "evaluate",
        "score a run on its held-out graphs",
        "Scores fold 1's model on its held-out graphs: accuracy and a per-class report, written to RUN_DIR/eval.json.",
        "seqgraph graph evaluate --run runs/graph/mutag",
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    p.add_argument("--data-dir", help="where the TU dataset is now, if it has moved since training")
    p.set_defaults(handler=evaluate)

    p = command(
        commands,
        "export",
        "SavedModel for TF Serving, TFLite float and int8",
        "Writes a SavedModel for TF Serving (OUT/<version>/) and TFLite float and int8 models beside "
        "it, each checked on the run's held-out graphs before it is published; the figures go to "
        "OUT/export.json.",
        "seqgraph graph export --run runs/graph/mutag --out saved_models/graph",
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    p.add_argument("--out", default="saved_models/graph", help="the export folder (TF Serving's base path)")
    p.add_argument("--data-dir", help="where the TU dataset is now, if it has moved since training")
    p.add_argument(
        "--int8",
        choices=["dynamic", "static"],
        default="dynamic",
        help="dynamic: int8 weights, activations quantised per call (matches float); static: int8 "
        "activations too, calibrated on the training graphs (integer-only hardware)",
    )
    p.set_defaults(handler=export)

    p = command(
        commands,
        "predict",
        "classify graphs from JSON files or TU folders",
        "Prints the class of every graph in the inputs, one line each. A JSON input holds "
        '{"graphs": [{"node_features": [[...], ...], "edges": [[sender, receiver], ...]}, ...]}, '
        "node ids from 0 within each graph; a folder holds a TU dataset.",
        "seqgraph graph predict --run runs/graph/mutag graphs.json",
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="a graph JSON file or a TU dataset folder")
    p.set_defaults(handler=predict)


def train(args):
    from seqgraph.apps.graph.train import train

    return train(config_from(args), args.out, args.distribute, args.progress)


def evaluate(args):
    from seqgraph.apps.graph.evaluate import evaluate

    return evaluate(args.run, args.data_dir)


def export(args):
    from seqgraph.apps.graph.serving import export

    return export(args.run, args.out, args.data_dir, args.int8)


def predict(args):
    from seqgraph.apps.graph.evaluate import predict

    return predict(args.run, args.inputs)

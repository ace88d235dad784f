"""``seqgraph graph``: the command line (argparse only); each command names the task it runs."""

from seqgraph.apps.graph.config import GraphConfig
from seqgraph.cli import app_parser, command, export_command, positive, query_command, run_option, train_command

MOVED = "where the TU dataset is now, if it has moved since training"

DESCRIPTION = (
    "Graph classification with the lecture's graph networks (GIN, GAT, ChebConv, GCN, GraphSAGE) on TU "
    "Dortmund datasets or on generated graphs, with stratified k-fold evaluation, and export for TF Serving "
    "and TFLite."
)


def add_parser(apps, name, summary):
    commands = app_parser(apps, name, summary, DESCRIPTION)
    train = train_command(
        commands,
        "graph",
        GraphConfig,
        "k-fold training and evaluation",
        "Trains one model per fold of a stratified k-fold split and reports the test accuracy of each fold, "
        "their mean and spread: with --protocol xu after the last epoch and at the best fold-averaged epoch; "
        "with --protocol errica for the settings of --grid and the epoch chosen on a validation split inside "
        "each fold, retrained 3 times. The run folder gets config.json, metrics.json, learning_curves.png "
        "(xu) or selection.png (errica) and fold 1's model.keras.",
        "seqgraph graph train --dataset MUTAG --data-dir data/tu --model gin --folds 10 --out runs/graph/mutag",
    )
    train.add_argument(
        "--jobs",
        type=positive,
        default=1,
        help="errica: trainings run at once, each in its own process on its share of the CPU cores "
        "(2 on 2 cores trains the grid in about half the time)",
    )
    run_option(
        command(
            commands,
            "evaluate",
            "seqgraph.apps.graph.evaluate:evaluate",
            "score a run on its held-out graphs",
            "Scores fold 1's model on its held-out graphs: accuracy and a per-class report, written to "
            "RUN_DIR/eval.json.",
            "seqgraph graph evaluate --run runs/graph/mutag",
        ),
        MOVED,
    )
    export_command(
        commands,
        "graph",
        "the run's held-out graphs (dynamic int8 matches float; static int8 is calibrated on the training graphs)",
        int8="dynamic",
        data_dir_help=MOVED,
    )
    p = command(
        commands,
        "predict",
        "seqgraph.apps.graph.evaluate:predict",
        "classify graphs from JSON files or TU folders",
        "Prints the class of every graph in the inputs, one line each. A JSON input holds "
        '{"graphs": [{"node_features": [[...], ...], "edges": [[sender, receiver], ...]}, ...]}, node ids '
        "from 0 within each graph; a folder holds a TU dataset.",
        "seqgraph graph predict --run runs/graph/mutag graphs.json",
    )
    run_option(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="a graph JSON file or a TU dataset folder")
    query_command(
        commands,
        "graph",
        "graphs",
        "a graph JSON file or a TU dataset folder (up to 64 graphs per request)",
        "seqgraph graph query --server localhost:8501 graphs.json",
    )

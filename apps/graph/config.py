"""The graph app's training options, as written to a run's config.json."""

from dataclasses import dataclass

from seqgraph.apps.common import option, require, require_positive

MODELS = ("gin", "gat", "cheb", "gcn", "sage", "mlp", "deepsets")
PROTOCOLS = ("xu", "errica")
READOUTS = ("sum", "mean")
STOP_ON = ("loss", "accuracy")


@dataclass
class GraphConfig:
    """What ``seqgraph graph train`` trains (each field is an option, with its help);
    ``train --config RUN_DIR/config.json`` replays it."""

    dataset: str = option("synthetic", "a TU dataset name (MUTAG, PROTEINS, ...) or 'synthetic', generated graphs")
    data_dir: str = option(None, "the folder holding DATASET/ or DATASET.zip in TU format")
    download: bool = option(False, "fetch a missing TU dataset by name")
    node_attributes: bool = option(True, "node features: the one-hot node labels only, without the node attributes")
    model: str = option(
        "gin",
        "the graph layer, or a structure-agnostic baseline: mlp (summed node features -> MLP) or deepsets "
        "(each node's features through a ReLU layer, summed -> MLP)",
        choices=MODELS,
    )
    folds: int = option(10, "stratified folds (1: one 90/10 split)")
    epochs: int = option(100, "epochs per fold")
    batch_size: int = option(32, "graphs per batch")
    steps_per_epoch: int = option(None, "batches per epoch (default: one pass over the training graphs; Xu et al.: 50)")
    hidden: int = option(64, "units of each graph layer")
    layers: int = option(5, "graph layers + 1 (the input's readout)")
    dropout: float = option(0.5, "dropout rate on each layer's class scores")
    readout: str = option("sum", "how each layer's node vectors become one per graph", choices=READOUTS)
    train_eps: bool = option(False, "GIN learns its epsilon (the weight of a node's own vector)")
    lr: float = option(0.01, "Adam's learning rate, halved every 50 epochs")
    protocol: str = option(
        "xu",
        "xu: the fold-averaged best epoch of the test folds (Xu et al. 2019); errica: settings and epoch chosen "
        "on a validation split inside each fold, the test fold scored once (Errica et al. 2020)",
        choices=PROTOCOLS,
    )
    grid: str = option(None, "errica: a JSON file of the settings to choose from (default: the model's, see docs)")
    patience: int = option(20, "errica: epochs without a better validation score (--stop-on) before training stops")
    stop_on: str = option(
        "loss",
        "errica: the validation score early stopping watches, and whose best epoch a training keeps (the last of "
        "tied ones, as Errica et al.)",
        choices=STOP_ON,
    )
    seed: int = option(0, "folds, initial weights and batch order")

    def __post_init__(self):
        require(self.model in MODELS, "model", f"must be one of {', '.join(MODELS)}, got {self.model!r}")
        require(self.protocol in PROTOCOLS, "protocol", f"must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        require(self.readout in READOUTS, "readout", f"must be one of {', '.join(READOUTS)}, got {self.readout!r}")
        require(self.stop_on in STOP_ON, "stop_on", f"must be one of {', '.join(STOP_ON)}, got {self.stop_on!r}")
        require_positive(self, "folds", "epochs", "batch_size", "steps_per_epoch", "hidden", "layers", "patience")
        require(self.grid is None or self.protocol == "errica", "grid", "needs --protocol errica")
        require(self.protocol != "errica" or self.folds > 1, "folds", "must be at least 2 with --protocol errica")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")

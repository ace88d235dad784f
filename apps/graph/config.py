"""The graph app's training options, as written to a run's config.json."""

from dataclasses import dataclass

from seqgraph.apps.common import require, require_positive

MODELS = ("gin", "gat", "cheb", "gcn", "sage")


@dataclass
class GraphConfig:
    """What ``seqgraph graph train`` trains; ``train --config RUN/config.json`` replays it.

    Args:
        dataset: a TU dataset name (MUTAG, PROTEINS, ...) or ``synthetic`` (embedded).
        data_dir: the folder holding ``<dataset>/`` or ``<dataset>.zip`` in TU format.
        download: fetch a missing TU dataset by name.
        node_attributes: node features are the one-hot node labels followed by the TU node
            attributes; False keeps the labels only (as PyG and the GIN paper read them).
        model: gin, gat, cheb, gcn or sage.
        folds: stratified folds (1: one 90/10 split).
        epochs: epochs per fold.
        batch_size: graphs per batch.
        steps_per_epoch: batches per epoch (None: one pass over the training graphs).
        hidden: units of each graph layer.
        layers: graph layers + 1 (the input "layer" also has a readout).
        dropout: dropout rate on each layer's class scores.
        lr: Adam's learning rate, halved every 50 epochs.
        seed: folds, initial weights and batch order.
    """

    dataset: str = "synthetic"
    data_dir: str = None
    download: bool = False
    node_attributes: bool = True
    model: str = "gin"
    folds: int = 10
    epochs: int = 100
    batch_size: int = 32
    steps_per_epoch: int = None
    hidden: int = 64
    layers: int = 5
    dropout: float = 0.5
    lr: float = 0.01
    seed: int = 0

    def __post_init__(self):
        require(self.model in MODELS, "model", f"must be one of {', '.join(MODELS)}, got {self.model!r}")
        require_positive(self, "folds", "epochs", "batch_size", "steps_per_epoch", "hidden", "layers")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")

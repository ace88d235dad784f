"""Training throughput of GIN on PROTEINS (graphs/s, batch 128): our app's model and input
pipeline vs spektral and PyTorch Geometric (CPU), in one run.

    python -m bench.graph_training --data-dir ../shared/data/tu [--rounds 7]

Each library trains the same architecture (Xu et al.'s GIN: input + 4 GIN layers, hidden 64,
2-layer MLPs with batch norm, sum readout of every layer, dropout on its scores). The libraries
take turns training 5 epochs (ours: one ``fit`` call, as the app trains, timed from its first to
its last epoch), ``--rounds`` times after a warm-up round (tracing), and their median rounds are
compared. PyG is optional (``pip install torch==2.13.0 torch_geometric``); without it its row says so.
"""

import argparse
import time

import numpy as np

BATCH, HIDDEN, LAYERS = 128, 64, 5
EPOCHS_PER_ROUND = 5


def ours(dataset):
    import keras

    from seqgraph.apps.graph.model import build_model, compile_model
    from seqgraph.datasets import graphs

    model = build_model(
        "gin",
        dataset.num_features,
        dataset.num_classes,
        HIDDEN,
        LAYERS,
        0.5,
        stats=dataset.attribute_stats(range(dataset.num_graphs)),
        symmetric_edges=dataset.symmetric,
    )
    data = graphs.tf_dataset(dataset, range(dataset.num_graphs), BATCH, shuffle=True)
    compile_model(model, 0.01, len(data))  # as the app trains it (no decay within 50 epochs)

    class Clock(keras.callbacks.Callback):
        """Times the epochs only: when ``fit`` returns, dropping its input iterator sometimes
        takes another 0.5-2.5 s here, paid once per ``fit`` (once per fold in the app)."""

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.start

    def epochs():
        clock = Clock()
        model.fit(
            data.repeat(),
            steps_per_epoch=len(data),
            epochs=EPOCHS_PER_ROUND,
            verbose=0,
            shuffle=False,
            callbacks=[clock],
        )
        return clock.seconds

    return epochs


def spektral_gin(dataset):
    """spektral's GINConv and pooling in a tf.function train step, as its examples do."""
    import tensorflow as tf
    from spektral.layers import GINConv, GlobalSumPool

    convs = [GINConv(HIDDEN, epsilon=0.0, mlp_hidden=[HIDDEN], mlp_batchnorm=True) for _ in range(LAYERS - 1)]
    norms = [tf.keras.layers.BatchNormalization() for _ in range(LAYERS - 1)]
    pool = GlobalSumPool()
    heads = [tf.keras.layers.Dense(dataset.num_classes) for _ in range(LAYERS)]
    dropout = tf.keras.layers.Dropout(0.5)
    optimizer = tf.keras.optimizers.Adam(0.01)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def forward(x, a, g, training):
        h, scores = x, []
        for depth in range(LAYERS):
            if depth:
                h = tf.nn.relu(norms[depth - 1](convs[depth - 1].call([h, a]), training=training))
            scores.append(dropout(heads[depth](pool.call([h, g])), training=training))
        return tf.add_n(scores)

    rng = np.random.default_rng(0)

    def batches():  # reshuffled each epoch, as spektral's DisjointLoader does
        order = rng.permutation(dataset.num_graphs)
        for i in range(0, len(order), BATCH):
            inputs, y = dataset.batch(order[i : i + BATCH])
            n = len(inputs["node_features"])
            a = tf.sparse.reorder(
                tf.SparseTensor(
                    np.stack([inputs["senders"], inputs["receivers"]], 1).astype("int64"),
                    np.ones(len(inputs["senders"]), "float32"),
                    (n, n),
                )
            )
            yield tf.constant(inputs["node_features"]), a, tf.constant(inputs["graph_ids"]), tf.constant(y)

    pool.build([(None, HIDDEN), (None,)])
    for i, conv in enumerate(convs):
        conv.build([(None, dataset.num_features if i == 0 else HIDDEN), (None, None)])
    x0, a0, g0, _ = next(batches())
    forward(x0, a0, g0, False)  # build the rest
    variables = [v for layer in convs + norms + heads for v in layer.trainable_weights]

    @tf.function(reduce_retracing=True)
    def step(x, a, g, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, forward(x, a, g, True))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def epochs():
        for _ in range(EPOCHS_PER_ROUND):
            for batch in batches():
                step(*batch)

    return epochs


def pyg_gin(dataset):
    import torch
    from torch import nn
    from torch_geometric.data import Data
    from torch_geometric.loader import DataLoader
    from torch_geometric.nn import GINConv, global_add_pool

    torch.manual_seed(0)
    items = []
    for i in range(dataset.num_graphs):
        inputs, y = dataset.batch([i])
        items.append(
            Data(
                x=torch.from_numpy(inputs["node_features"]),
                edge_index=torch.from_numpy(np.stack([inputs["senders"], inputs["receivers"]]).astype("int64")),
                y=torch.tensor(y, dtype=torch.long),
            )
        )

    class GIN(nn.Module):
        def __init__(self):
            super().__init__()
            dims = [dataset.num_features] + [HIDDEN] * (LAYERS - 1)
            self.convs = nn.ModuleList(
                [
                    GINConv(
                        nn.Sequential(
                            nn.Linear(dims[i], HIDDEN),
                            nn.BatchNorm1d(HIDDEN),
                            nn.ReLU(),
                            nn.Linear(HIDDEN, HIDDEN),
                            nn.BatchNorm1d(HIDDEN),
                            nn.ReLU(),
                        )
                    )
                    for i in range(LAYERS - 1)
                ]
            )
            self.heads = nn.ModuleList([nn.Linear(d, dataset.num_classes) for d in dims])
            self.dropout = nn.Dropout(0.5)

        def forward(self, x, edge_index, batch):
            h, score = x, 0
            for depth in range(LAYERS):
                if depth:
                    h = self.convs[depth - 1](h, edge_index)
                score = score + self.dropout(self.heads[depth](global_add_pool(h, batch)))
            return score

    model = GIN()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(items, batch_size=BATCH, shuffle=True)

    def epoch():
        model.train()
        for batch in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(batch.x, batch.edge_index, batch.batch), batch.y)
            loss.backward()
            optimizer.step()

    def epochs():
        for _ in range(EPOCHS_PER_ROUND):
            epoch()

    return epochs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with PROTEINS/ in TU format")
    parser.add_argument("--rounds", type=int, default=7, help=f"timed rounds of {EPOCHS_PER_ROUND} epochs per library")
    args = parser.parse_args(argv)

    from bench.common import interleaved, write_results
    from seqgraph.datasets import graphs

    dataset = graphs.load_tu("PROTEINS", args.data_dir)
    print(
        f"PROTEINS: {dataset.num_graphs} graphs; GIN, batch {BATCH}; median of {args.rounds} rounds of "
        f"{EPOCHS_PER_ROUND} epochs per library, taken in turn"
    )
    epochs, rows = {}, {}
    for name, setup in (("seqgraph", ours), ("spektral", spektral_gin), ("pyg", pyg_gin)):
        try:
            epochs[name] = setup(dataset)
        except ImportError as e:
            rows[name] = {"skipped": f"not installed ({e.name})"}
            print(f"{name:>9}: skipped, {e.name} not installed", flush=True)
    seconds = interleaved(epochs, repeats=args.rounds, warmup=1)  # warm-up: tracing
    for name, round_seconds in seconds.items():
        rows[name] = {
            "graphs_per_second": dataset.num_graphs * EPOCHS_PER_ROUND / round_seconds,
            "epoch_seconds": round_seconds / EPOCHS_PER_ROUND,
        }
        print(f"{name:>9}: {rows[name]['graphs_per_second']:7.0f} graphs/s", flush=True)
    for peer in ("spektral", "pyg"):
        if peer in seconds:
            # throughput ratio: above 1 means we train faster
            rows[f"speedup_vs_{peer}"] = seconds[peer] / seconds["seqgraph"]
    write_results(
        "graph_training",
        {"dataset": "PROTEINS", "batch": BATCH, "rounds": args.rounds, "epochs_per_round": EPOCHS_PER_ROUND, **rows},
    )


if __name__ == "__main__":
    main()

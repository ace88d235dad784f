"""Training throughput of the graph app's five models (graphs/s, batch 128) on PROTEINS and
ENZYMES: our app's model and input pipeline vs the same architecture in PyTorch Geometric and
in spektral, in one run.

    python -m bench.graph_training --data-dir ../shared/data/tu [--rounds 7] [--models gin gat]
        [--datasets PROTEINS]

Every library trains Xu et al.'s layout (``seqgraph.apps.graph.model.build_model``): input + 4
graph layers of width 64, a sum readout of every layer scored by its own dense layer, dropout
0.5 on the scores, Adam 0.01. GIN's layers are the paper's 2-layer MLPs with batch norm (Dense
without bias, as ours: batch norm's offset follows); GAT (4 heads x 16, self-loops), ChebConv
(K=3, the normalised Laplacian rescaled with lambda_max 2), GCN and GraphSAGE (mean) are each
followed by batch norm and ReLU. PyG's layers: ``GINConv``, ``GATConv``, ``ChebConv``,
``GCNConv``, ``SAGEConv``; spektral's: ``GINConv``, ``GATConv``, ``ChebConv``, ``GCNConv``,
``GraphSageConv``, called in a ``tf.function`` train step as its examples do, with the matrix
each layer reads (GCN's normalised adjacency, Cheb's rescaled Laplacian) computed once per graph
before timing, as spektral's dataset transforms do, and batched by block-diagonal stacking each
epoch, as its ``DisjointLoader`` does. The libraries take turns training 5 epochs (ours: one
``fit`` call, as the app trains, timed from its first to its last epoch), ``--rounds`` times
after a warm-up round (tracing), and their median rounds are compared.
"""

import argparse

import numpy as np

from bench.common import fit_clock, interleaved

BATCH, HIDDEN, LAYERS, HEADS, K = 128, 64, 5, 4, 3
EPOCHS_PER_ROUND = 5
MODELS = ("gin", "gat", "cheb", "gcn", "sage")
DATASETS = ("PROTEINS", "ENZYMES")


def ours(dataset, kind):
    from seqgraph.apps.graph.model import build_model, compile_model
    from seqgraph.datasets import graphs

    model = build_model(
        kind,
        dataset.num_features,
        dataset.num_classes,
        HIDDEN,
        LAYERS,
        0.5,
        heads=HEADS,
        K=K,
        stats=dataset.attribute_stats(range(dataset.num_graphs)),
        symmetric_edges=dataset.symmetric,
    )
    data = graphs.tf_dataset(dataset, range(dataset.num_graphs), BATCH, shuffle=True)
    compile_model(model, 0.01, len(data))  # as the app trains it (no decay within 50 epochs)

    def epochs():
        clock = fit_clock()
        model.fit(
            data.repeat(),
            steps_per_epoch=len(data),
            epochs=EPOCHS_PER_ROUND,
            verbose=0,
            shuffle=False,
            callbacks=[clock],
        )
        return clock.seconds

    epochs.parameters = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return epochs


def _standardized(dataset):
    """Node features standardised as our model does inside (the same input for every library)."""
    mean, variance = (np.asarray(s, "float32") for s in dataset.attribute_stats(range(dataset.num_graphs)))
    return np.clip((dataset.node_features - mean) / np.sqrt(variance), -5, 5).astype("float32")


def spektral_model(dataset, kind):
    """spektral's layers in a tf.function train step, as its examples do."""
    import scipy.sparse as sp
    import tensorflow as tf
    from spektral import layers as sl
    from spektral.utils import normalized_laplacian, rescale_laplacian

    dims = [dataset.num_features] + [HIDDEN] * (LAYERS - 1)
    convs = [
        {
            "gin": lambda: sl.GINConv(HIDDEN, epsilon=0.0, mlp_hidden=[HIDDEN], mlp_batchnorm=True),
            "gat": lambda: sl.GATConv(HIDDEN // HEADS, attn_heads=HEADS, concat_heads=True, dropout_rate=0.0),
            "cheb": lambda: sl.ChebConv(HIDDEN, K=K),
            "gcn": lambda: sl.GCNConv(HIDDEN),
            "sage": lambda: sl.GraphSageConv(HIDDEN, aggregate="mean"),
        }[kind]()
        for _ in range(LAYERS - 1)
    ]
    norms = [tf.keras.layers.BatchNormalization() for _ in range(LAYERS - 1)]
    pool = sl.GlobalSumPool()
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

    # Each graph's matrix, once (spektral's transforms): the adjacency, or what the layer reads.
    x_all = _standardized(dataset)
    starts = dataset.node_offsets
    edge_graph = dataset.node_graph[dataset.senders]
    matrices = []
    for i in range(dataset.num_graphs):
        n, mask = starts[i + 1] - starts[i], edge_graph == i
        a = sp.csr_matrix(
            (np.ones(mask.sum(), "float32"), (dataset.receivers[mask] - starts[i], dataset.senders[mask] - starts[i])),
            shape=(n, n),
        )
        if kind == "gcn":
            a = sl.GCNConv.preprocess(a)
        elif kind == "cheb":
            a = rescale_laplacian(normalized_laplacian(a), lmax=2)
        matrices.append(sp.coo_matrix(a, dtype="float32"))
    rng = np.random.default_rng(0)

    def batches():  # reshuffled each epoch, block-diagonal as spektral's DisjointLoader does
        order = rng.permutation(dataset.num_graphs)
        for i in range(0, len(order), BATCH):
            chosen = order[i : i + BATCH]
            a = sp.block_diag([matrices[j] for j in chosen], format="coo")
            nodes = np.concatenate([np.arange(starts[j], starts[j + 1]) for j in chosen])
            g = np.repeat(np.arange(len(chosen)), starts[chosen + 1] - starts[chosen])
            yield (
                tf.constant(x_all[nodes]),
                tf.sparse.reorder(tf.SparseTensor(np.stack([a.row, a.col], 1).astype("int64"), a.data, a.shape)),
                tf.constant(g),
                tf.constant(dataset.labels[chosen]),
            )

    pool.build([(None, HIDDEN), (None,)])
    for i, conv in enumerate(convs):
        conv.build([(None, dims[i]), (None, None)])
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

    epochs.parameters = sum(int(np.prod(v.shape)) for v in variables)
    return epochs


def pyg_model(dataset, kind):
    import torch
    from torch import nn
    from torch_geometric import nn as gnn
    from torch_geometric.data import Data
    from torch_geometric.loader import DataLoader

    torch.manual_seed(0)
    x_all = _standardized(dataset)
    items = []
    for i in range(dataset.num_graphs):
        inputs, y = dataset.batch([i])
        items.append(
            Data(
                x=torch.from_numpy(x_all[dataset.node_offsets[i] : dataset.node_offsets[i + 1]]),
                edge_index=torch.from_numpy(np.stack([inputs["senders"], inputs["receivers"]]).astype("int64")),
                y=torch.tensor(y, dtype=torch.long),
            )
        )

    def conv(d_in):
        if kind == "gin":
            mlp = nn.Sequential(
                nn.Linear(d_in, HIDDEN, bias=False),
                nn.BatchNorm1d(HIDDEN),
                nn.ReLU(),
                nn.Linear(HIDDEN, HIDDEN, bias=False),
                nn.BatchNorm1d(HIDDEN),
                nn.ReLU(),
            )
            return gnn.GINConv(mlp)
        return {
            "gat": lambda: gnn.GATConv(d_in, HIDDEN // HEADS, heads=HEADS),
            "cheb": lambda: gnn.ChebConv(d_in, HIDDEN, K=K, normalization="sym"),
            "gcn": lambda: gnn.GCNConv(d_in, HIDDEN),
            "sage": lambda: gnn.SAGEConv(d_in, HIDDEN, aggr="mean"),
        }[kind]()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            dims = [dataset.num_features] + [HIDDEN] * (LAYERS - 1)
            self.convs = nn.ModuleList([conv(dims[i]) for i in range(LAYERS - 1)])
            self.norms = nn.ModuleList([nn.BatchNorm1d(HIDDEN) for _ in range(LAYERS - 1)])
            self.heads = nn.ModuleList([nn.Linear(d, dataset.num_classes) for d in dims])
            self.dropout = nn.Dropout(0.5)

        def forward(self, x, edge_index, batch):
            h, score = x, 0
            for depth in range(LAYERS):
                if depth:
                    h = self.convs[depth - 1](h, edge_index)
                    if kind != "gin":
                        h = torch.relu(self.norms[depth - 1](h))
                score = score + self.dropout(self.heads[depth](gnn.global_add_pool(h, batch)))
            return score

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(items, batch_size=BATCH, shuffle=True)

    def epochs():
        model.train()
        for _ in range(EPOCHS_PER_ROUND):
            for batch in loader:
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(batch.x, batch.edge_index, batch.batch), batch.y)
                loss.backward()
                optimizer.step()

    epochs.parameters = sum(p.numel() for p in model.parameters())
    return epochs


def compare(dataset, kind, rounds):
    """One dataset and model: every library's graphs/s and our speed-ups."""
    runners, rows = {}, {}
    for name, setup in (("seqgraph", ours), ("spektral", spektral_model), ("pyg", pyg_model)):
        try:
            runners[name] = setup(dataset, kind)
        except ImportError as e:
            rows[name] = {"skipped": f"not installed ({e.name})"}
    seconds = interleaved(runners, repeats=rounds, warmup=1)  # warm-up: tracing
    for name, round_seconds in seconds.items():
        rows[name] = {
            "graphs_per_second": dataset.num_graphs * EPOCHS_PER_ROUND / round_seconds,
            "epoch_seconds": round_seconds / EPOCHS_PER_ROUND,
            "trainable_parameters": runners[name].parameters,
        }
    for peer in ("spektral", "pyg"):
        if peer in seconds:  # throughput ratio: above 1 means we train faster
            rows[f"speedup_vs_{peer}"] = seconds[peer] / seconds["seqgraph"]
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with PROTEINS/ and ENZYMES/ in TU format")
    parser.add_argument("--rounds", type=int, default=7, help=f"timed rounds of {EPOCHS_PER_ROUND} epochs per library")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    args = parser.parse_args(argv)

    from bench.common import write_results
    from seqgraph.datasets import graphs

    results = {}
    print(f"batch {BATCH}; median of {args.rounds} rounds of {EPOCHS_PER_ROUND} epochs per library, taken in turn")
    print(f"{'dataset':<10}{'model':<6}{'seqgraph':>10}{'spektral':>10}{'pyg':>10}{'vs spektral':>13}{'vs pyg':>8}")
    for name in args.datasets:
        dataset = graphs.load_tu(name, args.data_dir)
        results[name] = {"graphs": dataset.num_graphs}
        for kind in args.models:
            rows = compare(dataset, kind, args.rounds)
            results[name][kind] = rows
            speed = [
                f"{rows[n]['graphs_per_second']:>10.0f}" if "skipped" not in rows[n] else f"{'-':>10}"
                for n in ("seqgraph", "spektral", "pyg")
            ]
            ratios = [f"{rows.get(f'speedup_vs_{p}', float('nan')):>{w}.2f}" for p, w in (("spektral", 13), ("pyg", 8))]
            print(f"{name:<10}{kind:<6}{''.join(speed)}{''.join(ratios)}", flush=True)
    write_results(
        "graph_training",
        {
            "batch": BATCH,
            "hidden": HIDDEN,
            "layers": LAYERS,
            "rounds": args.rounds,
            "epochs_per_round": EPOCHS_PER_ROUND,
            **results,
        },
    )


if __name__ == "__main__":
    main()

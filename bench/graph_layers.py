"""Our GIN/GAT/Cheb layers vs spektral's on a PROTEINS-sized disjoint batch (CPU).

    python -m bench.graph_layers [--quick]

A batch like 128 PROTEINS graphs (about 39 nodes and 73 undirected edges each): two graph layers
of width 64, then sum pooling and a dense output; one training step (forward + backward) in a
``tf.function`` for each library, timed in alternation; ratio = ours / spektral. Spektral takes
its preprocessed sparse matrix (Laplacian, self-loops) as input, computed once outside the
timing; our layers derive the normalisation from the edge list inside every step.
"""

import argparse

GRAPHS, MEAN_NODES, MEAN_EDGES, FEATURES, WIDTH = 128, 39, 73, 32, 64


def proteins_sized_batch(rng):
    """Random undirected graphs with PROTEINS' mean size, as a disjoint batch."""
    import numpy as np

    senders, receivers, graph_ids, offset = [], [], [], 0
    for g in range(GRAPHS):
        n = max(4, int(rng.poisson(MEAN_NODES)))
        pairs = set()
        while len(pairs) < min(MEAN_EDGES * n // MEAN_NODES, n * (n - 1) // 2):
            a, b = rng.integers(0, n, 2)
            if a != b:
                pairs.add((min(a, b), max(a, b)))
        for a, b in pairs:
            senders += [a + offset, b + offset]
            receivers += [b + offset, a + offset]
        graph_ids += [g] * n
        offset += n
    x = rng.normal(size=(offset, FEATURES)).astype("float32")
    return x, np.array(senders, "int32"), np.array(receivers, "int32"), np.array(graph_ids, "int32")


def _peer_matrix(kind, senders, receivers, n):
    """The sparse matrix each spektral layer expects, from spektral's own utilities."""
    import numpy as np
    import scipy.sparse as sp
    import tensorflow as tf
    from spektral.utils import gcn_filter, normalized_laplacian, rescale_laplacian

    a = sp.csr_matrix((np.ones(len(senders), "float32"), (receivers, senders)), shape=(n, n))
    if kind == "cheb":
        a = sp.csr_matrix(rescale_laplacian(normalized_laplacian(a), lmax=2))
    elif kind == "gcn":
        a = sp.csr_matrix(gcn_filter(a))
    a = a.tocoo()
    return tf.sparse.reorder(
        tf.SparseTensor(np.stack([a.row, a.col], 1).astype("int64"), a.data.astype("float32"), a.shape)
    )


def _step(convs, head, call, variables):
    import tensorflow as tf

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(head(call())))
        return tape.gradient(loss, variables())

    return lambda: step()[0].numpy()


def build(kind, library, batch):
    import keras
    import tensorflow as tf

    from seqgraph import layers

    x, senders, receivers, graph_ids = (tf.constant(v) for v in batch)
    n = int(x.shape[0])
    pool = layers.GraphPooling("sum", num_graphs=GRAPHS)
    dense = keras.layers.Dense(1)
    if library == "ours":
        make = {
            "gin": lambda: layers.GINConv(WIDTH),
            "gat": lambda: layers.GATConv(WIDTH // 4, heads=4),
            "cheb": lambda: layers.ChebConv(WIDTH, K=3),
        }[kind]
        convs = [make(), make()]

        def call():
            h = tf.nn.relu(convs[0]([x, senders, receivers]))
            h = tf.nn.relu(convs[1]([h, senders, receivers]))
            return pool([h, graph_ids])
    else:
        import spektral.layers as sl

        make = {
            "gin": lambda: sl.GINConv(WIDTH, epsilon=0.0, mlp_hidden=[WIDTH], mlp_batchnorm=False),
            "gat": lambda: sl.GATConv(WIDTH // 4, attn_heads=4),
            "cheb": lambda: sl.ChebConv(WIDTH, K=3),
        }[kind]
        a = _peer_matrix(kind, batch[1], batch[2], n)
        convs = [make(), make()]
        convs[0].build([(None, FEATURES), (None, None)])
        convs[1].build([(None, WIDTH), (None, None)])

        def call():  # spektral's maths via .call (Keras 3 passes it a mask it cannot use)
            h = tf.nn.relu(convs[0].call([x, a]))
            h = tf.nn.relu(convs[1].call([h, a]))
            return pool([h, graph_ids])

    dense(call())

    def variables():  # includes GIN's MLP weights: Keras tracks sub-layers for both libraries
        return [w for c in convs for w in c.trainable_weights] + dense.trainable_weights

    return _step(convs, dense, call, variables)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    import numpy as np

    from bench.common import interleaved, write_results

    batch = proteins_sized_batch(np.random.default_rng(0))
    nodes, edges = len(batch[0]), len(batch[1])
    print(f"PROTEINS-sized batch: {GRAPHS} graphs, {nodes} nodes, {edges} directed edges")
    rows = []
    for kind in ("gin", "gat", "cheb"):
        times = interleaved(
            {"ours": build(kind, "ours", batch), "spektral": build(kind, "spektral", batch)},
            repeats=5 if args.quick else 30,
            warmup=3,
        )
        row = {
            "layer": kind,
            "ours_ms": 1e3 * times["ours"],
            "spektral_ms": 1e3 * times["spektral"],
            "ratio": times["ours"] / times["spektral"],
            "ours_graphs_per_s": GRAPHS / times["ours"],
            "spektral_graphs_per_s": GRAPHS / times["spektral"],
        }
        print(
            f"{kind:5s} ours {row['ours_ms']:7.2f} ms  spektral {row['spektral_ms']:7.2f} ms  ratio {row['ratio']:.2f}",
            flush=True,
        )
        rows.append(row)
    write_results(
        "graph_layers",
        {
            "batch": {"graphs": GRAPHS, "nodes": nodes, "edges": edges, "features": FEATURES, "width": WIDTH},
            "what": "2 layers + sum pooling + dense, training step",
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()

import keras
import numpy as np
import pytest

from seqgraph import layers
from tests import reference
from tests.helpers import randomise, tf_only, to_numpy, weights_by_name

F, U = 5, 4


def _awkward_batch(rng):
    """Three graphs in disjoint form: directed edges, a self-loop, a repeated edge, an isolated
    node (graph 0); a plain cycle (graph 1); a graph with no edges (graph 2)."""
    senders = [0, 1, 2, 2, 3, 3, 5, 6, 7, 8]
    receivers = [1, 2, 0, 2, 1, 1, 6, 7, 8, 5]
    graph_ids = [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2]  # node 4 isolated; nodes 9, 10 edgeless
    x = rng.normal(size=(len(graph_ids), F)).astype("float32")
    return x, np.array(senders, "int32"), np.array(receivers, "int32"), np.array(graph_ids, "int32")


def _undirected_batch(rng, n=12, p=0.3):
    """A random simple undirected graph (both directions listed), no self-loops or repeats."""
    upper = np.triu(rng.random((n, n)) < p, k=1)
    s, r = np.nonzero(upper | upper.T)
    return rng.normal(size=(n, F)).astype("float32"), s.astype("int32"), r.astype("int32")


LAYERS = {
    "gin": lambda: layers.GINConv(U, eps=0.3),
    "gin_train_eps": lambda: layers.GINConv(U, eps=0.1, train_eps=True),
    "gat": lambda: layers.GATConv(U, heads=3),
    "gat_mean": lambda: layers.GATConv(U, heads=2, concat=False),
    "cheb": lambda: layers.ChebConv(U, K=4),
    "cheb_k1": lambda: layers.ChebConv(U, K=1),
    "gcn": lambda: layers.GCNConv(U),
    "sage_mean": lambda: layers.GraphSAGEConv(U, aggregator="mean"),
    "sage_max": lambda: layers.GraphSAGEConv(U, aggregator="max"),
    "sage_sum": lambda: layers.GraphSAGEConv(U, aggregator="sum"),
}


def _built(name, rng):
    layer = LAYERS[name]()
    layer.build([(None, F), (None,), (None,)])
    randomise(layer, rng)
    return layer


def _numpy(name, layer, x, senders, receivers):
    a = reference.adjacency(senders, receivers, len(x))
    w = weights_by_name(layer)
    if name.startswith("gin"):
        dense = [(to_numpy(d.kernel), to_numpy(d.bias)) for d in layer.mlp.layers]
        return reference.gin(x, a, w.get("eps", layer.eps), dense)
    if name.startswith("gat"):
        return reference.gat(
            x, a, w["kernel"], w["attn_kernel_self"], w["attn_kernel_neighbors"], w["bias"], layer.heads, layer.concat
        )
    if name.startswith("cheb"):
        return reference.cheb(x, a, w["kernel"], w["bias"])
    if name == "gcn":
        return reference.gcn(x, a, w["kernel"], w["bias"])
    return reference.sage(x, a, w["kernel_self"], w["kernel_neighbors"], w["bias"], layer.aggregator)


@pytest.mark.parametrize("name", LAYERS)
def test_matches_dense_equations(rng, name):
    x, s, r, _ = _awkward_batch(rng)
    layer = _built(name, rng)
    np.testing.assert_allclose(to_numpy(layer([x, s, r])), _numpy(name, layer, x, s, r), atol=1e-4)


@pytest.mark.parametrize("name", LAYERS)
def test_relabelling_nodes_permutes_outputs(rng, name):
    x, s, r, _ = _awkward_batch(rng)
    layer = _built(name, rng)
    perm = rng.permutation(len(x))  # new id of old node i is inverse[i]
    inverse = np.argsort(perm).astype("int32")
    edge_order = rng.permutation(len(s))
    out = to_numpy(layer([x, s, r]))
    relabelled = to_numpy(layer([x[perm], inverse[s][edge_order], inverse[r][edge_order]]))
    np.testing.assert_allclose(relabelled, out[perm], atol=1e-4)


@pytest.mark.parametrize("name", LAYERS)
def test_graph_output_independent_of_batch_mates(rng, name):
    x, s, r, graph_ids = _awkward_batch(rng)
    layer = _built(name, rng)
    batch = to_numpy(layer([x, s, r]))
    nodes = np.flatnonzero(graph_ids == 1)  # graph 1 alone, renumbered from 0
    edges = np.isin(s, nodes)
    alone = to_numpy(layer([x[nodes], s[edges] - nodes[0], r[edges] - nodes[0]]))
    np.testing.assert_allclose(alone, batch[nodes], atol=1e-5)


@pytest.mark.parametrize("name", LAYERS)
def test_graph_without_edges(rng, name):
    layer = _built(name, rng)
    x = rng.normal(size=(3, F)).astype("float32")
    empty = np.zeros((0,), "int32")
    np.testing.assert_allclose(to_numpy(layer([x, empty, empty])), _numpy(name, layer, x, empty, empty), atol=1e-5)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_pooling(rng, mode):
    x, _, _, graph_ids = _awkward_batch(rng)
    ids = np.where(graph_ids == 2, 3, graph_ids).astype("int32")  # graph 2 has no nodes
    want = reference.pool(x, ids, 5, mode)  # neither has graph 4 at the end
    np.testing.assert_allclose(to_numpy(layers.GraphPooling(mode, num_graphs=5)([x, ids])), want, atol=1e-5)
    np.testing.assert_allclose(to_numpy(layers.GraphPooling(mode)([x, ids, np.int32(5)])), want, atol=1e-5)
    np.testing.assert_allclose(to_numpy(layers.GraphPooling(mode)([x, ids])), want[:4], atol=1e-5)


@tf_only
@pytest.mark.parametrize("name", LAYERS)
def test_edges_sorted_by_receiver_give_the_same_outputs_and_gradients(rng, name):
    """In training, receiver-sorted edges take TensorFlow's sorted segment sum
    (layers.graph.segment_sum), edges in any other order the unsorted one: both must agree with
    each other, forward and backward, and with inference."""
    import tensorflow as tf

    x, s, r, _ = _awkward_batch(rng)
    layer = _built(name, rng)
    order = np.argsort(r, kind="stable")

    @tf.function
    def outputs_and_gradients(x, s, r):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer([x, s, r], training=True)
            loss = tf.reduce_sum(out * tf.cos(out))
        return [out] + tape.gradient(loss, [x] + layer.trainable_weights)

    given = outputs_and_gradients(tf.constant(x), tf.constant(s), tf.constant(r))
    by_receiver = outputs_and_gradients(tf.constant(x), tf.constant(s[order]), tf.constant(r[order]))
    np.testing.assert_allclose(to_numpy(given[0]), _numpy(name, layer, x, s, r), atol=1e-4)
    for a, b in zip(given, by_receiver):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-4)


@tf_only
def test_gin_with_symmetric_edges_trains_with_the_same_gradients(rng):
    """``symmetric_edges`` swaps autodiff's gradient of the neighbour sum for the sum itself:
    equal on undirected graphs (listed both ways), and really used: wrong on directed ones."""
    import tensorflow as tf

    def outputs_and_gradients(layer, x, s, r):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer([x, s, r], training=True)
            loss = tf.reduce_sum(out * tf.cos(out))
        return [out] + tape.gradient(loss, [x] + layer.trainable_weights)

    autodiff = _built("gin_train_eps", rng)
    symmetric = layers.GINConv(U, eps=0.1, train_eps=True, symmetric_edges=True)
    symmetric.build([(None, F), (None,), (None,)])
    symmetric.set_weights(autodiff.get_weights())
    assert layers.GINConv.from_config(symmetric.get_config()).symmetric_edges
    undirected, directed = _undirected_batch(rng), _awkward_batch(rng)[:3]
    for a, b in zip(*(outputs_and_gradients(layer, *map(tf.constant, undirected)) for layer in (autodiff, symmetric))):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-4)
    a, b = (outputs_and_gradients(layer, *map(tf.constant, directed)) for layer in (autodiff, symmetric))
    np.testing.assert_allclose(to_numpy(a[0]), to_numpy(b[0]), atol=1e-5)  # the forward pass is the same
    assert not np.allclose(to_numpy(a[1]), to_numpy(b[1]), atol=1e-3)  # x's gradient is not


@pytest.mark.parametrize("ids, segments", [([0, 0, 2, 2, 3], 6), ([3, 0, 2, 0, 2], 6), ([], 3), ([1, 1], 2)])
def test_segment_sum_in_any_order(rng, ids, segments):
    data = rng.normal(size=(len(ids), 3)).astype("float32")
    want = np.zeros((segments, 3), "float32")
    np.add.at(want, np.array(ids, int), data)
    for training in (False, True):
        got = layers.graph.segment_sum(data, np.array(ids, "int32"), segments, training)
        np.testing.assert_allclose(to_numpy(got), want, atol=1e-6)


@tf_only
def test_fused_batch_norm_matches_keras(rng):
    """Same training outputs, moving statistics and gradients as Keras' layer; inference is Keras'."""
    import tensorflow as tf

    x = tf.constant(rng.normal(2.0, 3.0, size=(37, 6)).astype("float32"))
    ours, keras_bn = layers.FusedBatchNormalization(momentum=0.8), keras.layers.BatchNormalization(momentum=0.8)
    for layer in (ours, keras_bn):
        layer.build(x.shape)
        layer.gamma.assign(rng.normal(size=6).astype("float32"))
        layer.beta.assign(rng.normal(size=6).astype("float32"))
    keras_bn.set_weights(ours.get_weights())
    results = []
    for layer in (ours, keras_bn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, training=True)
            loss = tf.reduce_sum(out * tf.sin(out))
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        results.append([out, *grads, layer.moving_mean, layer.moving_variance, layer(x, training=False)])
    for a, b in zip(*results):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-4, atol=1e-4)


def test_gin_keeps_a_custom_mlp(rng):
    mlp = keras.Sequential([keras.layers.Dense(7), keras.layers.BatchNormalization(), keras.layers.ReLU()])
    layer = layers.GINConv(mlp=mlp)
    x, s, r, _ = _awkward_batch(rng)
    assert to_numpy(layer([x, s, r])).shape == (len(x), 7)
    assert layer.mlp is mlp
    with pytest.raises(ValueError, match="units"):
        layers.GINConv()


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="aggregator"):
        layers.GraphSAGEConv(4, aggregator="median")
    with pytest.raises(ValueError, match="mode"):
        layers.GraphPooling("min")
    with pytest.raises(ValueError, match="K"):
        layers.ChebConv(4, K=0)


# ----------------------------------------------------------------------------- spektral peers
def _sparse(matrix):
    import tensorflow as tf

    rows, cols = np.nonzero(matrix)
    return tf.sparse.reorder(
        tf.SparseTensor(np.stack([rows, cols], 1).astype("int64"), matrix[rows, cols].astype("float32"), matrix.shape)
    )


def _spektral(peer, x, a):
    """spektral's own maths. Its Keras __call__ passes a list-of-None mask under Keras 3 that its
    layers cannot use, so call ``call`` directly."""
    import tensorflow as tf

    return to_numpy(peer.call([tf.constant(x), a]))


@tf_only
def test_gin_matches_spektral(rng):
    from spektral.layers import GINConv as SpektralGIN

    x, s, r = _undirected_batch(rng)
    ours = _built("gin", rng)
    peer = SpektralGIN(U, epsilon=0.3, mlp_hidden=[U], mlp_batchnorm=False)
    a = _sparse(reference.adjacency(s, r, len(x)))
    peer.build([(None, F), (None, None)])
    peer.mlp.build((None, F))
    peer.mlp.set_weights(ours.mlp.get_weights())
    np.testing.assert_allclose(to_numpy(ours([x, s, r])), _spektral(peer, x, a), atol=1e-4)


@tf_only
def test_gat_matches_spektral(rng):
    from spektral.layers import GATConv as SpektralGAT

    x, s, r = _undirected_batch(rng)
    ours = _built("gat", rng)
    peer = SpektralGAT(U, attn_heads=3, concat_heads=True)
    a = _sparse(reference.adjacency(s, r, len(x)))
    peer.build([(None, F), (None, None)])
    w = weights_by_name(ours)
    peer.set_weights(
        [
            w["kernel"].reshape(F, 3, U),
            w["attn_kernel_self"].T[..., None],
            w["attn_kernel_neighbors"].T[..., None],
            w["bias"],
        ]
    )
    np.testing.assert_allclose(to_numpy(ours([x, s, r])), _spektral(peer, x, a), atol=1e-4)
    # and the gradients (ours leaves the softmax's shift out of autodiff, and adds each node's
    # own term beside the edges), with respect to the input and every weight
    import tensorflow as tf

    probe = tf.constant(rng.normal(size=(len(x), 3 * U)).astype("float32"))
    x_t = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x_t)
        ours_loss = tf.reduce_sum(ours([x_t, s, r], training=True) * probe)
        peer_loss = tf.reduce_sum(peer.call([x_t, a]) * probe)
    np.testing.assert_allclose(tape.gradient(ours_loss, x_t), tape.gradient(peer_loss, x_t), atol=1e-4)
    ours_grads = {v.path.split("/")[-1]: g for v, g in zip(ours.weights, tape.gradient(ours_loss, ours.weights))}
    peer_grads = tape.gradient(peer_loss, peer.weights)
    np.testing.assert_allclose(ours_grads["kernel"], np.reshape(peer_grads[0], (F, 3 * U)), atol=1e-4)
    np.testing.assert_allclose(ours_grads["attn_kernel_self"], np.squeeze(peer_grads[1], -1).T, atol=1e-4)
    np.testing.assert_allclose(ours_grads["attn_kernel_neighbors"], np.squeeze(peer_grads[2], -1).T, atol=1e-4)
    np.testing.assert_allclose(ours_grads["bias"], peer_grads[3], atol=1e-4)


@tf_only
def test_cheb_matches_spektral(rng):
    from spektral.layers import ChebConv as SpektralCheb
    from spektral.utils import normalized_laplacian, rescale_laplacian

    x, s, r = _undirected_batch(rng)
    x = np.concatenate([x, rng.normal(size=(1, F)).astype("float32")])  # plus an isolated node
    ours = _built("cheb", rng)
    peer = SpektralCheb(U, K=4)
    laplacian = rescale_laplacian(normalized_laplacian(reference.adjacency(s, r, len(x))), lmax=2)
    a = _sparse(np.asarray(laplacian))
    peer.build([(None, F), (None, None)])
    peer.set_weights(ours.get_weights())
    np.testing.assert_allclose(to_numpy(ours([x, s, r])), _spektral(peer, x, a), atol=1e-4)


@tf_only
def test_gcn_matches_spektral(rng):
    from spektral.layers import GCNConv as SpektralGCN
    from spektral.utils import gcn_filter

    x, s, r = _undirected_batch(rng)
    ours = _built("gcn", rng)
    peer = SpektralGCN(U)
    a = _sparse(gcn_filter(reference.adjacency(s, r, len(x))))
    peer.build([(None, F), (None, None)])
    peer.set_weights(ours.get_weights())
    np.testing.assert_allclose(to_numpy(ours([x, s, r])), _spektral(peer, x, a), atol=1e-4)

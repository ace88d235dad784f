"""Graph layers on the disjoint batch: ``layer([x [N,F], senders [E], receivers [E]])``.

Messages flow sender -> receiver and are aggregated with segment ops, so isolated nodes,
self-loops, repeated edges and graphs without edges need no special case and no N x N matrix is
ever formed. A repeated edge counts as often as it appears (adjacency entry = multiplicity).
Edges may come in any order; sorted by receiver (as ``datasets.graphs`` makes them), training on
TensorFlow aggregates them faster (see ``segment_sum``).
"""

import keras
from keras import ops

from seqgraph.layers.initializers import clone_initializer


def _unpack(inputs):
    x, senders, receivers = inputs
    return x, ops.cast(senders, "int32"), ops.cast(receivers, "int32"), ops.shape(x)[0]


def segment_sum(data, segment_ids, num_segments, training=False):
    """``ops.segment_sum`` into ``num_segments`` rows, for ids in any order.

    In training on TensorFlow, ids that are already sorted take the sorted kernel, whose
    gradient is a plain gather (the unsorted one's masks negative ids, and is slower: see
    bench/README.md). Inference keeps the one unsorted op, without the branch (a TFLite ``IF``
    that the XNNPACK delegate cannot prepare)."""
    if not training or keras.backend.backend() != "tensorflow":
        return ops.segment_sum(data, segment_ids, num_segments)
    import tensorflow as tf

    def sorted_sum():  # rows past the last id are empty: pad them with zeros
        out = tf.math.segment_sum(data, segment_ids)
        rows = [[0, num_segments - tf.shape(out)[0]]] + [[0, 0]] * (len(data.shape) - 1)
        return tf.pad(out, rows)

    in_order = tf.reduce_all(segment_ids[1:] >= segment_ids[:-1])
    in_range = tf.reduce_all((segment_ids >= 0) & (segment_ids < num_segments))
    return tf.cond(
        in_order & in_range, sorted_sum, lambda: tf.math.unsorted_segment_sum(data, segment_ids, num_segments)
    )


def neighbour_sum(x, senders, receivers, num_nodes, training=False, symmetric_edges=False):
    """sum_{u->v} x_u for every node v: A x, with A[v, u] the number of edges u -> v.

    Its gradient is A^T dy. Autodiff forms it from the gather's sparse gradient, scattered with
    the unsorted segment sum; when every edge u -> v has a reverse v -> u (``symmetric_edges``,
    true of MUTAG and PROTEINS), A^T = A and the gradient is this same sum applied to dy, with
    the sorted kernel (faster: see bench/README.md). Wrong gradients if the edges are not
    symmetric; the forward pass, and so inference, is the same either way."""

    def forward(h):
        return segment_sum(ops.take(h, senders, axis=0), receivers, num_nodes, training)

    if not (training and symmetric_edges) or keras.backend.backend() != "tensorflow":
        return forward(x)
    import tensorflow as tf

    @tf.custom_gradient
    def symmetric_sum(h):
        return forward(h), forward

    return symmetric_sum(x)


def _in_degree(receivers, num_nodes, dtype):
    return ops.segment_sum(ops.ones_like(receivers, dtype=dtype), receivers, num_nodes)


def _inv_sqrt(degree):
    """1/sqrt(d), 0 where d = 0 (isolated nodes send and receive nothing)."""
    safe = ops.where(degree > 0, degree, ops.ones_like(degree))
    return ops.where(degree > 0, ops.rsqrt(safe), ops.zeros_like(degree))


def _edge_weights(senders, receivers, inv_sqrt_degree):
    """1 / sqrt(d_s d_r) per edge: the entries of D^-1/2 A D^-1/2, as a column [E, 1]."""
    coef = ops.take(inv_sqrt_degree, senders) * ops.take(inv_sqrt_degree, receivers)
    return ops.expand_dims(coef, -1)


def _weighted_sum(x, senders, receivers, num_nodes, edge_weights, training=False):
    """sum_{s->r} w_sr x_s: one product with the weighted adjacency."""
    return segment_sum(ops.take(x, senders, axis=0) * edge_weights, receivers, num_nodes, training)


def _segment_max_or_zero(data, segment_ids, num_segments):
    """segment max that is 0 (not -inf or the lowest float) for empty segments."""
    count = ops.segment_sum(ops.ones_like(segment_ids, dtype=data.dtype), segment_ids, num_segments)
    out = ops.segment_max(data, segment_ids, num_segments)
    return ops.where(ops.expand_dims(count > 0, -1), out, ops.zeros_like(out))


class _GraphLayer(keras.layers.Layer):
    """Shared initialiser/config handling for layers with ``kernel`` and ``bias``."""

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units if units is None else int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _kernel(self, name, shape):  # a draw of its own for each kernel
        init = clone_initializer(self.kernel_initializer, offset=len(self.weights))
        return self.add_weight(name=name, shape=shape, initializer=init)

    def _bias(self, size):
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(size,), initializer=self.bias_initializer)

    def _finish(self, out):
        return self.activation(out + self.bias if self.use_bias else out)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)

    def get_config(self):
        ser = keras.initializers.serialize
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": ser(self.kernel_initializer),
            "bias_initializer": ser(self.bias_initializer),
        }


@keras.saving.register_keras_serializable(package="seqgraph")
class GINConv(keras.layers.Layer):
    """Graph Isomorphism Network layer (Xu et al. 2019).

    ``h'_v = mlp((1 + eps) h_v + sum_{u->v} h_u)``: the sum over a node's neighbours, which
    (unlike a mean or max) tells neighbourhoods of different sizes apart, as powerful as the
    Weisfeiler-Lehman test.

    Args:
        units: output size of the default MLP, ``Dense(units, relu) -> Dense(units)``.
        eps: the weight of a node's own features, ``1 + eps``.
        train_eps: learn eps, starting from ``eps``.
        mlp: any Keras layer to use instead of the default MLP (kept as ``layer.mlp``); for Xu et
            al.'s batch-normalised MLP pass a ``keras.Sequential``.
        symmetric_edges: a promise that every edge u -> v comes with its reverse v -> u, as
            often (undirected graphs listed both ways): training on TensorFlow then takes the
            neighbour sum's gradient by the same sum (faster). On directed edges the gradients
            would be wrong; inference is the same either way.

    Call arguments:
        inputs: ``[node_features [N, F], senders [E], receivers [E]]`` (int32; messages flow
            sender -> receiver), a disjoint batch of graphs.
        training: passed to the MLP.

    Returns:
        ``[N, units]`` (the MLP's output size).

    Example:

    >>> x = np.random.rand(7, 3).astype("float32")
    >>> senders = np.array([0, 1, 1, 2, 4, 5], "int32")
    >>> receivers = np.array([1, 0, 2, 1, 5, 4], "int32")
    >>> GINConv(32)([x, senders, receivers]).shape
    TensorShape([7, 32])
    """

    def __init__(self, units=None, eps=0.0, train_eps=False, mlp=None, symmetric_edges=False, **kwargs):
        super().__init__(**kwargs)
        if mlp is None and units is None:
            raise ValueError("GINConv needs `units` or an `mlp` layer")
        self.units = units if units is None else int(units)
        self.eps = float(eps)
        self.train_eps = bool(train_eps)
        self.symmetric_edges = bool(symmetric_edges)
        self.mlp = (
            mlp
            if mlp is not None
            else keras.Sequential(
                [keras.layers.Dense(self.units, activation="relu"), keras.layers.Dense(self.units)], name="mlp"
            )
        )

    def build(self, input_shape):
        if self.train_eps:
            self.epsilon = self.add_weight(name="eps", shape=(), initializer=keras.initializers.Constant(self.eps))
        self.mlp.build(input_shape[0])

    def call(self, inputs, training=None):
        x, senders, receivers, n = _unpack(inputs)
        neighbours = neighbour_sum(x, senders, receivers, n, training, self.symmetric_edges)
        eps = self.epsilon if self.train_eps else self.eps
        return self.mlp((1.0 + eps) * x + neighbours, training=training)

    def compute_output_shape(self, input_shape):
        return self.mlp.compute_output_shape(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "eps": self.eps,
            "train_eps": self.train_eps,
            "symmetric_edges": self.symmetric_edges,
            "mlp": keras.saving.serialize_keras_object(self.mlp),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["mlp"] = keras.saving.deserialize_keras_object(config["mlp"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="seqgraph")
class GATConv(_GraphLayer):
    """Graph attention (Velickovic et al. 2018): self-attention over each node's neighbours.

    Per head, ``z = W h``; an edge s -> r scores ``e_sr = LeakyReLU(a_self . z_r + a_nbr . z_s)``,
    a softmax over each receiver's incoming edges gives ``alpha_sr``, and
    ``h'_r = sum_s alpha_sr z_s``. Heads are concatenated or averaged.

    Args:
        units: features per head.
        heads: attention heads.
        concat: concatenate the heads (``[N, heads * units]``), else average them (``[N, units]``).
        negative_slope: LeakyReLU's slope.
        dropout: dropout rate on the attention weights (training only).
        add_self_loops: replace the edges i -> i of the input by exactly one self-loop per node
            (as PyG and spektral do), so a node attends to itself too.
        activation, use_bias, kernel_initializer, bias_initializer: as for ``keras.layers.Dense``
            (each kernel gets its own draw).

    Call arguments:
        inputs: ``[node_features [N, F], senders [E], receivers [E]]``.
        training: whether dropout applies.

    Returns:
        ``[N, heads * units]`` with ``concat``, else ``[N, units]``.

    Example:

    >>> GATConv(8, heads=4)([x, senders, receivers]).shape   # x, senders, receivers as for GINConv
    TensorShape([7, 32])
    """

    def __init__(self, units, heads=1, concat=True, negative_slope=0.2, dropout=0.0, add_self_loops=True, **kwargs):
        super().__init__(units, **kwargs)
        self.heads = int(heads)
        self.concat = bool(concat)
        self.negative_slope = float(negative_slope)
        self.dropout = float(dropout)
        self.add_self_loops = bool(add_self_loops)
        self.attention_dropout = keras.layers.Dropout(self.dropout)

    def build(self, input_shape):
        h, u = self.heads, self.units
        self.kernel = self._kernel("kernel", (input_shape[0][-1], h * u))
        self.attn_kernel_self = self._kernel("attn_kernel_self", (h, u))
        self.attn_kernel_neighbors = self._kernel("attn_kernel_neighbors", (h, u))
        self._bias(h * u if self.concat else u)

    def call(self, inputs, training=None):
        x, senders, receivers, n = _unpack(inputs)
        z = ops.reshape(ops.matmul(x, self.kernel), (-1, self.heads, self.units))
        score_self = ops.sum(z * self.attn_kernel_self, axis=-1)  # [N, heads]
        score_nbr = ops.sum(z * self.attn_kernel_neighbors, axis=-1)
        e = ops.leaky_relu(
            ops.take(score_self, receivers, axis=0) + ops.take(score_nbr, senders, axis=0),
            negative_slope=self.negative_slope,
        )  # [E, heads]
        # Softmax per receiver, shifted by the receiver's largest score so exp() stays finite (a
        # constant per softmax: no gradient flows through it). The self-loops are not added to
        # the edge list: each node's own term is computed beside it, so the edges keep their
        # order (sorted by receiver, the faster kernels) and every softmax has a term.
        if self.add_self_loops:
            e_loop = ops.leaky_relu(score_self + score_nbr, negative_slope=self.negative_slope)  # [N, heads]
            shift = ops.maximum(ops.segment_max(e, receivers, n), e_loop)  # empty segments: the loop wins
            keep = ops.expand_dims(ops.cast(ops.not_equal(senders, receivers), z.dtype), -1)  # the input's loops go
        else:
            shift, keep = _segment_max_or_zero(e, receivers, n), 1.0
        shift = ops.stop_gradient(shift)
        weight = ops.exp(e - ops.take(shift, receivers, axis=0)) * keep
        total = segment_sum(weight, receivers, n, training)
        if self.add_self_loops:
            weight_loop = ops.exp(e_loop - shift)
            total = total + weight_loop
        total = ops.maximum(total, 1e-16)
        alpha = self.attention_dropout(weight / ops.take(total, receivers, axis=0), training=training)
        out = segment_sum(ops.expand_dims(alpha, -1) * ops.take(z, senders, axis=0), receivers, n, training)
        if self.add_self_loops:
            alpha_loop = self.attention_dropout(weight_loop / total, training=training)
            out = out + ops.expand_dims(alpha_loop, -1) * z
        out = ops.reshape(out, (-1, self.heads * self.units)) if self.concat else ops.mean(out, axis=1)
        return self._finish(out)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.heads * self.units if self.concat else self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "heads": self.heads,
            "concat": self.concat,
            "negative_slope": self.negative_slope,
            "dropout": self.dropout,
            "add_self_loops": self.add_self_loops,
        }


@keras.saving.register_keras_serializable(package="seqgraph")
class ChebConv(_GraphLayer):
    """Chebyshev spectral graph convolution (Defferrard et al. 2016), of order K.

    A filter that is a polynomial of degree K - 1 in the graph Laplacian, so it reaches K - 1
    hops: on the rescaled normalised Laplacian ``L~ = -D^-1/2 A D^-1/2`` (lambda_max = 2; D the
    in-degree), ``T_0 = x``, ``T_1 = L~ x``, ``T_k = 2 L~ T_(k-1) - T_(k-2)`` and
    ``y = sum_k T_k W_k + b``.

    Args:
        units: output features.
        K: the number of Chebyshev terms (at least 1).
        activation, use_bias, kernel_initializer, bias_initializer: as for ``keras.layers.Dense``.

    Call arguments:
        inputs: ``[node_features [N, F], senders [E], receivers [E]]``.

    Returns:
        ``[N, units]``.

    Example:

    >>> ChebConv(16, K=3)([x, senders, receivers]).shape
    TensorShape([7, 16])
    """

    def __init__(self, units, K=3, **kwargs):
        super().__init__(units, **kwargs)
        if K < 1:
            raise ValueError(f"K must be >= 1, got {K}")
        self.K = int(K)

    def build(self, input_shape):
        self.kernel = self._kernel("kernel", (self.K, input_shape[0][-1], self.units))
        self._bias(self.units)

    def call(self, inputs, training=None):
        x, senders, receivers, n = _unpack(inputs)
        # L~ = -D^-1/2 A D^-1/2, its entries computed once for all K terms.
        weights = -_edge_weights(senders, receivers, _inv_sqrt(_in_degree(receivers, n, x.dtype)))

        def laplacian(t):
            return _weighted_sum(t, senders, receivers, n, weights, training)

        terms = [x]
        if self.K > 1:
            terms.append(laplacian(x))
        for _ in range(2, self.K):
            terms.append(2.0 * laplacian(terms[-1]) - terms[-2])
        out = sum(ops.matmul(t, self.kernel[k]) for k, t in enumerate(terms))
        return self._finish(out)

    def get_config(self):
        return {**super().get_config(), "K": self.K}


@keras.saving.register_keras_serializable(package="seqgraph")
class GCNConv(_GraphLayer):
    """Graph convolution (Kipf & Welling 2017): the first-order approximation of ChebConv.

    ``y = D~^-1/2 (A + I) D~^-1/2 x W + b``, with ``D~`` the in-degree plus one (the added
    self-loop).

    Args:
        units: output features.
        activation, use_bias, kernel_initializer, bias_initializer: as for ``keras.layers.Dense``.

    Call arguments:
        inputs: ``[node_features [N, F], senders [E], receivers [E]]``.

    Returns:
        ``[N, units]``.

    Example:

    >>> GCNConv(16)([x, senders, receivers]).shape
    TensorShape([7, 16])
    """

    def build(self, input_shape):
        self.kernel = self._kernel("kernel", (input_shape[0][-1], self.units))
        self._bias(self.units)

    def call(self, inputs, training=None):
        x, senders, receivers, n = _unpack(inputs)
        xw = ops.matmul(x, self.kernel)
        inv_sqrt = _inv_sqrt(_in_degree(receivers, n, xw.dtype) + 1.0)
        weights = _edge_weights(senders, receivers, inv_sqrt)
        out = _weighted_sum(xw, senders, receivers, n, weights, training)
        out = out + xw * ops.expand_dims(ops.square(inv_sqrt), -1)  # the added self-loop
        return self._finish(out)


@keras.saving.register_keras_serializable(package="seqgraph")
class GraphSAGEConv(_GraphLayer):
    """GraphSAGE (Hamilton et al. 2017): a node's own features and its neighbours' aggregate.

    ``h'_v = W_self h_v + W_nbr agg_{u->v} h_u + b``, with ``agg`` the mean, max or sum over the
    incoming edges; a node without incoming edges aggregates to 0.

    Args:
        units: output features.
        aggregator: ``"mean"``, ``"max"`` or ``"sum"``.
        activation, use_bias, kernel_initializer, bias_initializer: as for ``keras.layers.Dense``
            (``kernel_self`` and ``kernel_neighbors`` get their own draws).

    Call arguments:
        inputs: ``[node_features [N, F], senders [E], receivers [E]]``.

    Returns:
        ``[N, units]``.

    Example:

    >>> GraphSAGEConv(16, aggregator="max")([x, senders, receivers]).shape
    TensorShape([7, 16])
    """

    def __init__(self, units, aggregator="mean", **kwargs):
        super().__init__(units, **kwargs)
        if aggregator not in ("mean", "max", "sum"):
            raise ValueError(f"aggregator must be 'mean', 'max' or 'sum', got {aggregator!r}")
        self.aggregator = aggregator

    def build(self, input_shape):
        features = input_shape[0][-1]
        self.kernel_self = self._kernel("kernel_self", (features, self.units))
        self.kernel_neighbors = self._kernel("kernel_neighbors", (features, self.units))
        self._bias(self.units)

    def call(self, inputs, training=None):
        x, senders, receivers, n = _unpack(inputs)
        messages = ops.take(x, senders, axis=0)
        if self.aggregator == "max":
            agg = _segment_max_or_zero(messages, receivers, n)
        else:
            agg = segment_sum(messages, receivers, n, training)
            if self.aggregator == "mean":
                degree = _in_degree(receivers, n, x.dtype)
                agg = agg / ops.expand_dims(ops.maximum(degree, 1.0), -1)
        return self._finish(ops.matmul(x, self.kernel_self) + ops.matmul(agg, self.kernel_neighbors))

    def get_config(self):
        return {**super().get_config(), "aggregator": self.aggregator}


@keras.saving.register_keras_serializable(package="seqgraph")
class GraphPooling(keras.layers.Layer):
    """Graph readout: one vector per graph from its nodes' vectors, by sum, mean or max.

    Args:
        mode: ``"sum"``, ``"mean"`` or ``"max"``.
        num_graphs: the number of graphs, if fixed; else it is the third input, or else
            ``max(graph_ids) + 1`` (under JAX pass it here, statically).

    Call arguments:
        inputs: ``[x [N, F], graph_ids [N]]`` or ``[x, graph_ids, num_graphs []]``.

    Returns:
        ``[num_graphs, F]``; a graph with no nodes in the batch gets zeros.

    Example:

    >>> graph_ids = np.array([0, 0, 0, 0, 1, 1, 1], "int32")
    >>> GraphPooling("mean", num_graphs=2)([np.ones((7, 16), "float32"), graph_ids]).shape
    TensorShape([2, 16])
    """

    def __init__(self, mode="sum", num_graphs=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"mode must be 'sum', 'mean' or 'max', got {mode!r}")
        self.mode = mode
        self.num_graphs = num_graphs if num_graphs is None else int(num_graphs)

    def call(self, inputs, training=None):
        x, graph_ids = inputs[0], ops.cast(inputs[1], "int32")
        if len(inputs) > 2:
            num_graphs = ops.reshape(ops.cast(inputs[2], "int32"), ())
        elif self.num_graphs is not None:
            num_graphs = self.num_graphs
        else:
            num_graphs = ops.max(ops.concatenate([graph_ids, ops.array([-1], "int32")])) + 1
        if self.mode == "max":
            return _segment_max_or_zero(x, graph_ids, num_graphs)
        total = segment_sum(x, graph_ids, num_graphs, training)
        if self.mode == "sum":
            return total
        count = ops.segment_sum(ops.ones_like(graph_ids, dtype=x.dtype), graph_ids, num_graphs)
        return total / ops.expand_dims(ops.maximum(count, 1.0), -1)

    def compute_output_shape(self, input_shape):
        return (self.num_graphs, input_shape[0][-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "num_graphs": self.num_graphs}

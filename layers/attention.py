"""Multi-head self-attention with dot-product or additive relevance, and truncated attention.

Truncated attention (``window=w``: position i attends to |i - j| <= w) never forms a T x T
matrix. The sequence is cut into blocks of ``max(w, 16)`` queries; each block attends to its own
keys and those of the two neighbouring blocks, so time and memory grow linearly in T.
"""

import keras
import numpy as np
from keras import ops

from seqgraph.layers.initializers import clone_initializer

# Added to the relevance of keys a query must not see before the softmax.
MASK_VALUE = -1e9
MIN_BLOCK = 16


def _hide(allowed):
    """0 where allowed, MASK_VALUE elsewhere (float32)."""
    return (1.0 - ops.cast(allowed, "float32")) * MASK_VALUE


@keras.saving.register_keras_serializable(package="seqgraph")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head self-attention over a sequence, with optional truncated (banded) attention.

    Each position ``i`` of ``x [batch, time, features]`` is projected to a query, a key and a
    value per head (``q = x W_q``, ``k = x W_k``, ``v = x W_v``; the lecture's ``q = W^q a``),
    attends to the positions ``j`` it may see with weights ``softmax_j(score(q_i, k_j))``, and the
    heads' weighted sums of values are projected back: ``y_i = sum_h sum_j a_hij v_hj W_o``
    (Vaswani et al. 2017). ``score`` is the scaled dot product ``q . k / sqrt(key_dim)`` or the
    additive ``w^T tanh(q + k)`` (Bahdanau et al. 2015). With ``window=w`` position ``i`` sees
    only ``|i - j| <= w``: the sequence is cut into blocks of ``max(w, 16)`` queries, each
    attending to its own and the two neighbouring key blocks, so no ``T x T`` matrix is formed
    and time and memory grow linearly in T.

    The weights have ``keras.layers.MultiHeadAttention``'s shapes (``query_kernel [F, H, Dk]``,
    ..., ``output_kernel [H, Dv, F]``), so its weights copy over.

    Args:
        num_heads: number of heads H.
        key_dim: size Dk of each head's queries and keys.
        value_dim: size Dv of each head's values (default ``key_dim``).
        score: ``"dot"`` (scaled dot product) or ``"additive"``.
        window: truncated attention radius w; ``None`` attends to the whole sequence.
        causal: position i attends only to j <= i.
        dropout: dropout rate on the attention weights (training only).
        output_dim: size of the output (default: the input's feature size).
        use_bias: whether the projections have biases.
        kernel_initializer: initializer of the kernels (each kernel gets its own draw).
        bias_initializer: initializer of the biases.

    Call arguments:
        inputs: ``[batch, time, features]``.
        mask: optional Keras mask ``[batch, time]``: padded keys are ignored, padded queries
            output zeros, and the mask passes on to the next layer.
        training: whether dropout applies.
        return_attention_scores: also return the attention weights.

    Returns:
        ``[batch, time, output_dim]``; with ``return_attention_scores`` also the weights
        ``[batch, heads, time, time]``, or ``[batch, heads, time, 2 * window + 1]`` with
        truncated attention (column m is key ``j = i + m - window``).

    Example:

    >>> x = np.random.rand(2, 1000, 64).astype("float32")
    >>> attention = MultiHeadSelfAttention(num_heads=4, key_dim=16, window=32)
    >>> y, weights = attention(x, return_attention_scores=True)
    >>> y.shape, weights.shape
    (TensorShape([2, 1000, 64]), TensorShape([2, 4, 1000, 65]))
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        score="dot",
        window=None,
        causal=False,
        dropout=0.0,
        output_dim=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if score not in ("dot", "additive"):
            raise ValueError(f"score must be 'dot' or 'additive', got {score!r}")
        if window is not None and (int(window) != window or window < 0):
            raise ValueError(f"window must be a non-negative integer or None, got {window!r}")
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.score = score
        self.window = None if window is None else int(window)
        self.causal = bool(causal)
        self.dropout = float(dropout)
        self.output_dim = output_dim
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.attention_dropout = keras.layers.Dropout(self.dropout)
        self.supports_masking = True

    def build(self, input_shape):
        features = input_shape[-1]
        out_dim = self.output_dim or features
        h, dk, dv = self.num_heads, self.key_dim, self.value_dim

        def weight(name, shape, init):  # a draw of its own for each weight
            init = clone_initializer(init, offset=len(self.weights))
            return self.add_weight(name=name, shape=shape, initializer=init)

        k_init, b_init = self.kernel_initializer, self.bias_initializer
        self.query_kernel = weight("query_kernel", (features, h, dk), k_init)
        self.key_kernel = weight("key_kernel", (features, h, dk), k_init)
        self.value_kernel = weight("value_kernel", (features, h, dv), k_init)
        self.output_kernel = weight("output_kernel", (h, dv, out_dim), k_init)
        if self.use_bias:
            self.query_bias = weight("query_bias", (h, dk), b_init)
            self.key_bias = weight("key_bias", (h, dk), b_init)
            self.value_bias = weight("value_bias", (h, dv), b_init)
            self.output_bias = weight("output_bias", (out_dim,), b_init)
        if self.score == "additive":
            self.score_vector = weight("score_vector", (h, dk), k_init)

    def _project(self, x, kernel, bias):
        y = ops.einsum("btf,fhd->bthd", x, kernel)
        return y + bias if self.use_bias else y

    def _relevance(self, q, k):
        """Scores for queries [..., Q, H, D] against keys [..., K, H, D] -> [..., H, Q, K]."""
        if self.score == "dot":
            return ops.einsum("...qhd,...khd->...hqk", q * (1.0 / float(np.sqrt(self.key_dim))), k)
        # additive: w^T tanh(q + k), broadcast to [..., Q, K, H, D]
        hidden = ops.tanh(ops.expand_dims(q, -3) + ops.expand_dims(k, -4))
        return ops.einsum("...qkhd,hd->...hqk", hidden, self.score_vector)

    def _attend(self, scores, bias, training):
        """Softmax over keys; ``bias`` (0 or MASK_VALUE, broadcast from a small shape) hides keys.

        Every valid query sees at least itself, so no row is all hidden; rows of padded queries
        are zeroed in ``call``.
        """
        if bias is not None:
            scores = scores + ops.cast(bias, scores.dtype)
        return self.attention_dropout(ops.softmax(scores, axis=-1), training=training)

    def call(self, inputs, mask=None, training=None, return_attention_scores=False):
        q = self._project(inputs, self.query_kernel, self.query_bias if self.use_bias else None)
        k = self._project(inputs, self.key_kernel, self.key_bias if self.use_bias else None)
        v = self._project(inputs, self.value_kernel, self.value_bias if self.use_bias else None)
        mask = None if mask is None else ops.cast(mask, "bool")
        if self.window is None:
            context, weights = self._full(q, k, v, mask, training, return_attention_scores)
        else:
            context, weights = self._truncated(q, k, v, mask, training, return_attention_scores)
        out = ops.einsum("bthv,hvf->btf", context, self.output_kernel)
        if self.use_bias:
            out = out + self.output_bias
        if mask is not None:
            out = out * ops.expand_dims(ops.cast(mask, out.dtype), -1)
        if not return_attention_scores:
            return out
        if mask is not None:  # [B, H, T, keys]: padded queries attend to nothing
            weights = weights * ops.expand_dims(ops.expand_dims(ops.cast(mask, weights.dtype), 1), -1)
        return out, weights

    def _full(self, q, k, v, mask, training, weights_wanted):
        if self.score == "dot" and not weights_wanted and not (training and self.dropout):
            # Keras' fused kernel (cuDNN/flash where available) for the plain case.
            key_mask = None if mask is None else ops.expand_dims(ops.expand_dims(mask, 1), 1)
            context = ops.dot_product_attention(
                q, k, v, mask=key_mask, is_causal=self.causal, scale=1.0 / float(np.sqrt(self.key_dim))
            )
            return context, None
        t = ops.shape(q)[1]
        bias = None
        if mask is not None:  # padded keys, [B, 1, 1, T]
            bias = ops.expand_dims(ops.expand_dims(_hide(mask), 1), 1)
        if self.causal:  # [T, T]
            pos = ops.arange(t)
            causal = _hide(ops.expand_dims(pos, -1) >= ops.expand_dims(pos, 0))
            bias = causal if bias is None else bias + causal
        weights = self._attend(self._relevance(q, k), bias, training)
        return ops.einsum("bhqk,bkhv->bqhv", weights, v), weights

    def _truncated(self, q, k, v, mask, training, band_weights):
        w = self.window
        size = max(w, MIN_BLOCK)
        t = ops.shape(q)[1]
        blocks = (t + size - 1) // size
        tail = blocks * size - t
        # Static batch sizes stay static (TFLite lowers a following RNN only with one).
        batch = q.shape[0] if q.shape[0] is not None else -1

        def batch_of(x):
            return x.shape[0] if x.shape[0] is not None else -1

        def block_queries(x):  # [B, T, ...] -> [B, blocks, size, ...]
            x = ops.pad(x, [[0, 0], [0, tail]] + [[0, 0]] * (len(x.shape) - 2))
            return ops.reshape(x, (batch_of(x), blocks, size) + tuple(x.shape[2:]))

        def block_keys(x):  # [B, T, ...] -> [B, blocks, 3 * size, ...]: previous, own, next block
            x = ops.pad(x, [[0, 0], [size, tail + size]] + [[0, 0]] * (len(x.shape) - 2))
            x = ops.reshape(x, (batch_of(x), blocks + 2, size) + tuple(x.shape[2:]))
            return ops.concatenate([x[:, :blocks], x[:, 1 : blocks + 1], x[:, 2 : blocks + 2]], axis=2)

        # Static band: query r of a block, key c of its 3-block span; offset j - i = c - size - r.
        offset = np.arange(3 * size)[None, :] - size - np.arange(size)[:, None]
        band = np.abs(offset) <= w
        if self.causal:
            band &= offset <= 0
        # Keys outside the sequence (block padding) or padded by the mask are hidden too.
        keys_valid = block_keys(mask if mask is not None else ops.ones((1, t), dtype="bool"))
        bias = ops.expand_dims(ops.expand_dims(_hide(keys_valid), 2), 2)  # [B, blocks, 1, 1, 3size]
        bias = bias + ops.convert_to_tensor(
            np.where(band, 0.0, MASK_VALUE).astype("float32")
        )  # [B, blocks, 1, size, 3size]

        scores = self._relevance(block_queries(q), block_keys(k))  # [B, blocks, H, size, 3 * size]
        weights = self._attend(scores, bias, training)
        context = ops.einsum("bnhqk,bnkhv->bnqhv", weights, block_keys(v))
        context = ops.reshape(context, (batch, blocks * size, self.num_heads, self.value_dim))[:, :t]
        if not band_weights:
            return context, None
        # Band view of the weights: [B, H, T, 2w + 1], column m is key j = i + m - w.
        index = np.arange(size)[:, None] + size - w + np.arange(2 * w + 1)[None, :]
        index = ops.broadcast_to(
            ops.convert_to_tensor(index.astype("int32")), ops.shape(weights)[:3] + (size, 2 * w + 1)
        )
        banded = ops.transpose(ops.take_along_axis(weights, index, axis=-1), (0, 2, 1, 3, 4))
        banded = ops.reshape(banded, (batch, self.num_heads, blocks * size, 2 * w + 1))[:, :, :t]
        return context, banded

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim or input_shape[-1],)

    def compute_output_spec(self, inputs, mask=None, training=None, return_attention_scores=False):
        """Symbolic outputs, the weights included, so a functional model can output them."""
        out = keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)
        if not return_attention_scores:
            return out
        batch, time = inputs.shape[0], inputs.shape[1]
        keys = time if self.window is None else 2 * self.window + 1
        return out, keras.KerasTensor((batch, self.num_heads, time, keys), dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "score": self.score,
            "window": self.window,
            "causal": self.causal,
            "dropout": self.dropout,
            "output_dim": self.output_dim,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
